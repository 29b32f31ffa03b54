"""Figures of a run, a comparison, a sweep and a tornado, drawn from the output tables.

Each function takes the tables `sim` writes (pandas DataFrames, as read from the CSV files) and
returns a matplotlib Figure; `save(fig, path)` writes it as PNG and SVG. Figures are made with
matplotlib's object API on the Agg canvas, never through pyplot: nothing opens a window, nothing
changes the caller's backend, and no figure is kept in a global registry.

    from sim.outputs import plots
    fig = plots.frontier(pd.read_csv("results/baseline/frontier.csv"))
    plots.save(fig, "frontier")          # frontier.png, frontier.svg
"""
from __future__ import annotations


import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim import metrics
from sim.outputs.answer import TARGET_FLOP, TARGET_YEAR, TREND_GROWTH_PER_YEAR

# Epoch AI, "Can AI Scaling Continue Through 2030?" (2024): the largest training run each constraint
# allows by 2030, medians (the report's summary of the four constraints). The inter-DC
# bandwidth constraint has only an 80% range.
EPOCH_2030 = {"power": 2e29, "chips": 9e29, "data": 2e30, "latency": 3e31}
EPOCH_2030_BANDWIDTH = (3e29, 2e31)
EPOCH_2030_DATE = dt.date(2030, 12, 31)

CONSTRAINT_ORDER = ["chips", "power", "network", "latency", "data", "combined"]
CONSTRAINT_COLORS = {"chips": "tab:blue", "power": "tab:orange", "network": "tab:green", "latency": "tab:purple",
                     "data": "tab:brown", "combined": "black"}
CONSTRAINT_LABELS = {"chips": "chips alone", "power": "power alone", "network": "network (inter-site bandwidth)",
                     "latency": "latency wall", "data": "data wall", "combined": "combined (installed and powered)"}
PALETTE = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan"]

# How each sweep band is drawn: scale to apply, display unit (None: the registry's), log axis. What
# each band is and its unit come from the metrics registry (sim/metrics.py); every registered sweep
# band has an entry here (tests/test_metrics.py).
BAND_DRAWING = {
    "frontier_combined_flop": (1.0, None, True),
    "largest_run_flop_to_date": (1.0, None, True),
    "installed_h100e": (1.0, "H100-equivalents", False),
    "produced_h100e_total": (1.0, "H100-equivalents", False),
    "power_online_mw": (1e-3, "GW", False),
    "power_drawn_mw": (1e-3, "GW", False),
}
# band metric -> (title, axis label, scale, log axis), in the order the fan chart draws them
BAND_DISPLAY = {
    name: (metrics.metric("sweep", name).description.split(" (")[0].capitalize(),
           unit or metrics.unit("sweep", name), scale, log)
    for name, (scale, unit, log) in BAND_DRAWING.items()
}


def new_figure(width: float = 10.0, height: float = 6.0) -> Figure:
    """A Figure on an Agg canvas (no window, no pyplot state)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 120) -> list[Path]:
    """Write `fig` as PATH.png and PATH.svg (any suffix on `path` is replaced); returns both paths."""
    base = Path(path)
    base = base.with_suffix("") if base.suffix.lower() in (".png", ".svg") else base
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".png", ".svg"):
        target = base.parent / (base.name + suffix)
        fig.savefig(target, dpi=dpi, metadata={"Software": None} if suffix == ".png" else {"Creator": None})
        written.append(target)
    return written


# ---------------------------------------------------------------------------------------------- helpers

def dates(values: Iterable) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(pd.Series(list(values)), errors="coerce"))


def date_axis(ax) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def log_axis(ax) -> None:
    """A log y axis; matplotlib's own formatters label the minor ticks when it spans few decades."""
    ax.set_yscale("log")


def thousands(ax, axis: str = "y") -> None:
    fmt = ticker.FuncFormatter(lambda v, _: _short_number(v))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def _short_number(v: float) -> str:
    a = abs(v)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}"


def sci(v: float) -> str:
    """3 significant digits, exponent without its sign and padding: 2e+29 -> '2e29', 8.13e+27 -> '8.13e27'."""
    text = f"{v:.3g}"
    mantissa, exponent = text.split("e") if "e" in text else (text, None)
    return mantissa if exponent is None else f"{mantissa}e{int(exponent)}"


def number(v: float) -> str:
    """A number for a label: 0.436, 1.41, 568, 1,268, 8.13e27."""
    if not np.isfinite(v):
        return str(v)
    if abs(v) >= 1e7:
        return sci(v)
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def _pivot(timeseries: pd.DataFrame, entity: str | None = None, metric: str | None = None,
           entities: Iterable[str] | None = None) -> pd.DataFrame:
    """Rows of the tidy timeseries as a date-indexed table: columns are metrics (one entity) or
    entities (one metric)."""
    ts = timeseries
    if entity is not None:
        ts = ts[ts["entity"] == entity]
        table = ts.pivot_table(index="date", columns="metric", values="value", aggfunc="last")
    else:
        ts = ts[ts["metric"] == metric]
        if entities is not None:
            ts = ts[ts["entity"].isin(list(entities))]
        table = ts.pivot_table(index="date", columns="entity", values="value", aggfunc="last")
    table.index = dates(table.index)
    return table.sort_index()


def gpu_types(timeseries: pd.DataFrame) -> list[str]:
    """The GPU products in a timeseries (the entities with production counts), in first-seen order."""
    ts = timeseries[timeseries["metric"] == "produced_gpus_total"]
    return [e for e in dict.fromkeys(ts["entity"]) if e != "world"]


def sites(timeseries: pd.DataFrame) -> list[str]:
    """The datacenter sites in a timeseries (the entities with a `built` flag)."""
    return list(dict.fromkeys(timeseries.loc[timeseries["metric"] == "built", "entity"]))


def h100e_factors(timeseries: pd.DataFrame, runs: pd.DataFrame | None = None) -> dict[str, float] | None:
    """H100-equivalents per GPU of each product installed, recovered from the output tables.

    Products a run used alone have theirs in runs.csv (h100e / gpus). The others are fitted by least squares
    to the world's installed H100e, which is the sum over products of installed GPUs x H100e per GPU;
    the factors are returned only if they are positive and reproduce the world total to 0.1%, else None
    (then the buildout shows the world total alone)."""
    types = gpu_types(timeseries)
    if not types:
        return None
    installed = _pivot(timeseries, metric="installed_gpus", entities=types).reindex(columns=types).fillna(0.0)
    world = _pivot(timeseries, entity="world")
    if "installed_h100e" not in world or installed.empty:
        return None
    total = world["installed_h100e"].reindex(installed.index).fillna(0.0).to_numpy(float)
    known: dict[str, float] = {}
    if runs is not None and {"gpu_type", "gpus", "h100e"} <= set(runs.columns):
        used = runs[(pd.to_numeric(runs["gpus"], errors="coerce") > 0) & runs["gpu_type"].isin(types)]
        if "gpu_types" in used.columns:  # a run that pooled several products mixes their H100e
            used = used[~used["gpu_types"].astype(str).str.contains(";")]
        for gpu_type, rows in used.groupby("gpu_type"):
            known[str(gpu_type)] = float((rows["h100e"].astype(float) / rows["gpus"].astype(float)).median())
    present = [t for t in types if installed[t].abs().sum() > 0]
    unknown = [t for t in present if t not in known]
    residual = total - sum(installed[t].to_numpy(float) * known.get(t, 0.0) for t in present)
    factors = {t: known[t] for t in present if t in known}
    if unknown:
        matrix = installed[unknown].to_numpy(float)
        if np.linalg.matrix_rank(matrix) < len(unknown):
            return None
        fitted = np.linalg.lstsq(matrix, residual, rcond=None)[0]
        factors.update(dict(zip(unknown, (float(f) for f in fitted))))
    rebuilt = sum(installed[t].to_numpy(float) * f for t, f in factors.items())
    scale = max(float(np.abs(total).max()), 1.0)
    if any(f <= 0 for f in factors.values()) or float(np.abs(rebuilt - total).max()) > 1e-3 * scale:
        return None
    return factors


# ---------------------------------------------------------------------------------------------- a run

def buildout(timeseries: pd.DataFrame, runs: pd.DataFrame | None = None,
             h100e_per_gpu: dict[str, float] | None = None) -> Figure:
    """The buildout in four panels: GPUs installed by product (H100e, stacked); the world's firm power
    online, available and drawn; power drawn per site; GPUs installed per site.

    `h100e_per_gpu` gives each product's H100-equivalents (summary.json records them); without it (a
    folder written before they were recorded) they are recovered from the tables (`h100e_factors`), and
    if that fails the first panel shows the world's installed H100e."""
    fig = new_figure(12, 8)
    axes = fig.subplots(2, 2, sharex=True)
    ax = axes[0, 0]
    types = gpu_types(timeseries)
    given = isinstance(h100e_per_gpu, dict) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in h100e_per_gpu.values())
    factors = h100e_per_gpu if given else h100e_factors(timeseries, runs)  # a folder from an older version
    world = _pivot(timeseries, entity="world")
    installed = _pivot(timeseries, metric="installed_gpus", entities=types).reindex(columns=types).fillna(0.0)
    shown = [t for t in types if installed[t].abs().sum() > 0]
    if shown and factors and all(t in factors for t in shown):
        stacks = [installed[t].to_numpy(float) * factors[t] for t in shown]
        ax.stackplot(installed.index, *stacks, labels=[f"{t} ({factors[t]:.3g} H100e each)" for t in shown],
                     colors=PALETTE[: len(shown)] if len(shown) <= len(PALETTE) else None, alpha=0.85)
        ax.set_title("GPUs installed, by product")
        ax.legend(loc="upper left", fontsize=8)
    elif "installed_h100e" in world:
        ax.plot(world.index, world["installed_h100e"], color="tab:blue", label="world")
        ax.set_title("GPUs installed (world)")
        ax.legend(loc="upper left", fontsize=8)
    else:
        empty(ax, "no installed-GPU series")
    ax.set_ylabel("installed, H100-equivalents")
    thousands(ax)

    ax = axes[0, 1]
    for metric, label, style in (("power_online_mw", "firm power online", "-"),
                                 ("power_available_mw", "available to GPUs (min of facility, firm)", "--"),
                                 ("power_drawn_mw", "drawn by installed GPUs", "-")):
        if metric in world:
            ax.plot(world.index, world[metric] / 1e3, style, label=label,
                    lw=2.2 if metric == "power_drawn_mw" else 1.5)
    if "power_drawn_mw" in world and "power_online_mw" in world:
        ax.fill_between(world.index, world["power_drawn_mw"] / 1e3, world["power_online_mw"] / 1e3,
                        color="tab:orange", alpha=0.12, label="online, not drawn")
    ax.set_title("Power: online against drawn (all sites)")
    ax.set_ylabel("GW")
    ax.legend(loc="upper left", fontsize=8)

    # per lab, stacked (one line per site hid the others: dozens of campus halls)
    labs = list(dict.fromkeys(timeseries[timeseries["kind"] == "lab"]["entity"].astype(str)))
    colors = {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(labs)}
    for ax, metric, title, unit, scale in ((axes[1, 0], "power_drawn_mw", "Power drawn, by lab (stacked)", "GW", 1e-3),
                                           (axes[1, 1], "installed_h100e", "GPUs installed, by lab (stacked)",
                                            "H100-equivalents", 1.0)):
        table = _pivot(timeseries[timeseries["kind"] == "lab"], metric=metric, entities=labs)
        shown = [lab for lab in labs if lab in table and table[lab].abs().sum() > 0]
        if shown:
            ax.stackplot(table.index, *[table[lab].fillna(0.0).to_numpy(float) * scale for lab in shown],
                         labels=shown, colors=[colors[lab] for lab in shown], alpha=0.85)
            ax.legend(loc="upper left", fontsize=7)
        else:
            empty(ax, "no labs")
        ax.set_title(title)
        ax.set_ylabel(unit)
    thousands(axes[1, 1])
    for ax in axes.flat:
        date_axis(ax)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.suptitle("Buildout", fontsize=14)
    return fig


def frontier(frontier_table: pd.DataFrame, epoch_reference: bool = True, runs: pd.DataFrame | None = None) -> Figure:
    """The largest run any lab could start each month under each constraint (log FLOP), the binding
    constraint drawn thick where it binds, Epoch's 2030 estimates as marks at the end of 2030, the ~4x-a-year
    trend through 2e29 in 2030 (Epoch AI 2024) and its 2e29 target, and (given `runs`) the pre-training runs
    completed, at their end dates. The axis spans what matters: from the smallest run to a little above the
    trend's end; walls far above it are named at the top instead of squeezing the rest."""
    fig = new_figure(11, 6.5)
    ax = fig.subplots()
    table = frontier_table.copy()
    table["when"] = dates(table["date"]).to_numpy()
    table["max_flop"] = pd.to_numeric(table["max_flop"], errors="coerce")
    table.loc[table["max_flop"] <= 0, "max_flop"] = np.nan
    names = [c for c in CONSTRAINT_ORDER if c in set(table["constraint"])]
    names += [c for c in dict.fromkeys(table["constraint"]) if c not in names]
    binding = table.drop_duplicates("date").set_index("when")["binding_constraint"] if "binding_constraint" in table else None
    marked = False
    for i, name in enumerate(names):
        rows = table[table["constraint"] == name].set_index("when").sort_index()
        color = CONSTRAINT_COLORS.get(name, PALETTE[i % len(PALETTE)])
        combined = name == "combined"
        ax.plot(rows.index, rows["max_flop"], color=color, lw=2.0 if combined else 1.3,
                ls="-" if name in ("chips", "power", "combined") else "--",
                label=CONSTRAINT_LABELS.get(name, name), zorder=3 if combined else 2)
        if binding is not None and name != "combined":
            binds = binding.reindex(rows.index) == name
            if binds.any():
                ax.plot(rows.index, rows["max_flop"].where(binds), color=color, lw=7, alpha=0.35,
                        solid_capstyle="butt", zorder=1)
                marked = True
    if marked:
        ax.plot([], [], color="gray", lw=7, alpha=0.35, label="binding constraint (the wide band)")
    if epoch_reference:
        when = pd.Timestamp(EPOCH_2030_DATE)
        for name, value in EPOCH_2030.items():
            color = CONSTRAINT_COLORS.get(name, "gray")
            ax.plot([when], [value], marker="D", ms=7, color=color, mec="black", mew=0.6, zorder=4)
            ax.annotate(f"Epoch 2030: {name} {sci(value)}", (when, value), xytext=(8, 0), textcoords="offset points",
                        va="center", fontsize=8, color=color)
        low, high = EPOCH_2030_BANDWIDTH
        bw = when - pd.Timedelta(days=45)
        ax.plot([bw, bw], [low, high], color=CONSTRAINT_COLORS["network"], lw=3, alpha=0.7, zorder=4,
                solid_capstyle="butt")
        ax.annotate(f"Epoch 2030: inter-DC bandwidth {sci(low)} to {sci(high)}", (when, high),
                    xytext=(8, -3), textcoords="offset points", va="top", fontsize=8,
                    color=CONSTRAINT_COLORS["network"])
        ax.plot([], [], marker="D", ls="none", color="gray", mec="black", label="Epoch AI 2030 estimate (median)")
        right = max(pd.Timestamp(table["when"].max()) if len(table) else when, when) + pd.Timedelta(days=640)
        ax.set_xlim(right=right)
    first, last = (pd.Timestamp(table["when"].min()), pd.Timestamp(table["when"].max())) if len(table) else (None, None)
    shown_values = [table["max_flop"].min()]
    if first is not None:
        span = pd.date_range(first, max(last, pd.Timestamp(EPOCH_2030_DATE)), freq="MS")
        years = np.array([(d - pd.Timestamp(TARGET_YEAR, 12, 31)).days / 365.25 for d in span])
        ax.plot(span, TARGET_FLOP * TREND_GROWTH_PER_YEAR ** years, color="gray", ls=":", lw=1.6,
                label="trend: ~4x a year to 2e29 by 2030 (Epoch AI 2024)", zorder=2)
        ax.axhline(TARGET_FLOP, color="crimson", ls="--", lw=1.0, alpha=0.7, label="2e29 FLOP", zorder=1)
        shown_values.append(TARGET_FLOP * TREND_GROWTH_PER_YEAR ** years[0])
    if runs is not None and len(runs):
        done = runs[(runs["status"].astype(str) == "completed") & (pd.to_numeric(runs["flop"], errors="coerce") > 0)]
        if "kind" in done:
            done = done[done["kind"].fillna("pretraining").astype(str) == "pretraining"]
        if len(done):
            ax.scatter(dates(done["end"].astype(str)), pd.to_numeric(done["flop"]), s=18, color="black", marker="o",
                       zorder=5, label="pre-training runs completed (at their end)")
            shown_values.append(pd.to_numeric(done["flop"]).min())
    # the range that matters: up to ~30x above the trend's end and the largest drawn point below the walls
    top = 30 * max(TARGET_FLOP, float(np.nanmax(table.loc[table["constraint"].isin(["chips", "power", "combined"]),
                                                           "max_flop"].to_numpy(float), initial=0.0)))
    bottom = max(float(np.nanmin(np.array(shown_values, dtype=float))) / 5, 1e20)
    above = table[(table["max_flop"] > top)].groupby("constraint")["max_flop"].max()
    ax.set_ylim(bottom, top)
    if len(above):
        ax.annotate("above the axis: " + ", ".join(f"{CONSTRAINT_LABELS.get(c, c)} up to {sci(v)}"
                                                   for c, v in above.items()),
                    (0.01, 0.99), xycoords="axes fraction", va="top", fontsize=8, color="gray")
    log_axis(ax)
    date_axis(ax)
    ax.grid(alpha=0.3, which="major")
    ax.set_ylabel("largest run that could start, FLOP")
    ax.set_title("Frontier: the largest training run any lab could start, by constraint")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def waiting(timeseries: pd.DataFrame, buildout_table: pd.DataFrame | None = None) -> Figure:
    """What waits for what, monthly: GPUs delivered and waiting for powered room (and in transit), and
    power waiting: the labs' plants started and not yet online (from buildout.csv) and the equipment makers'
    order backlog (turbines, engines, transformers, colocation), all buyers."""
    fig = new_figure(12, 4.2)
    left, right = fig.subplots(1, 2)
    world = _pivot(timeseries, entity="world")
    for metric, label in (("inventory_h100e", "delivered, waiting for powered room"),
                          ("in_transit_h100e", "shipped, in transit")):
        if metric in world:
            left.plot(world.index, world[metric], label=label)
    left.set_title("GPUs waiting (H100e)")
    thousands(left)
    left.legend(loc="upper left", fontsize=8)
    backlog = _pivot(timeseries[timeseries["kind"] == "equipment"], metric="backlog_mw")
    for name in backlog.columns:
        right.plot(backlog.index, backlog[name] / 1e3, label=f"{name.replace('_', ' ')} on order (all buyers)")
    if buildout_table is not None and len(buildout_table) and len(world):
        plants = buildout_table[buildout_table["kind"].astype(str) == "plant"]
        started = pd.to_datetime(plants["start"].astype(str), errors="coerce")
        online = pd.to_datetime(plants["online"].astype(str), errors="coerce")
        mw = pd.to_numeric(plants["mw"], errors="coerce").fillna(0.0).to_numpy()
        pending = [float(mw[(started <= day).to_numpy() & ~(online <= day).to_numpy()].sum()) for day in world.index]
        right.plot(world.index, np.array(pending) / 1e3, color="black", lw=2,
                   label="labs' plants started, not yet online")
    right.set_title("Power waiting (GW nameplate)")
    right.legend(loc="upper left", fontsize=7)
    for ax in (left, right):
        date_axis(ax)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.suptitle("What waits for what")
    return fig


def runs_timeline(runs: pd.DataFrame, end_date: str | dt.date | None = None) -> Figure:
    """Pre-training runs as bars from start to end, coloured by lab and labelled with their FLOP; runs that
    never started are listed with their status (post-training runs are in the compute ledger). `end_date`,
    if given, is marked as the simulation's end."""
    if "kind" in runs:
        runs = runs[runs["kind"].fillna("pretraining") == "pretraining"]
    runs = runs.reset_index(drop=True)
    fig = new_figure(11, max(3.0, 0.45 * len(runs) + 1.6))
    ax = fig.subplots()
    labs = list(dict.fromkeys(runs["lab"])) if "lab" in runs else []
    colors = {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(labs)}
    starts = dates(runs["start"].fillna("")) if len(runs) else pd.DatetimeIndex([])
    ends = dates(runs["end"].fillna("")) if len(runs) else pd.DatetimeIndex([])
    ylabels = []
    have_bars = False
    for i, row in runs.iterrows():
        y = len(runs) - 1 - i
        status = str(row.get("status", ""))
        ylabels.append((y, str(row["run"])))
        start, end = starts[i], ends[i]
        if pd.isna(start) or pd.isna(end):
            ax.text(0.01, y, status.replace("_", " ") or "not run", transform=ax.get_yaxis_transform(),
                    va="center", fontsize=8, color="gray")
            continue
        have_bars = True
        color = colors.get(row.get("lab"), "tab:gray")
        finished = status == "completed"
        ax.barh(y, end - start, left=start, height=0.6, color=color, alpha=0.9 if finished else 0.45,
                hatch=None if finished else "//", edgecolor="black" if finished else color, linewidth=0.5)
        flop = float(row.get("flop", 0) or 0)
        note = f"{sci(flop)} FLOP" + ("" if finished else f" ({status.replace('_', ' ')})")
        if "gpus" in row and float(row["gpus"] or 0) > 0:
            note += f", {int(row['gpus']):,} {row.get('gpu_type', 'GPUs')}"
        ax.annotate(note, (end, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks([y for y, _ in ylabels], [name for _, name in ylabels])
    ax.set_ylim(-0.7, len(runs) - 0.3)
    if end_date is not None:
        when = pd.Timestamp(end_date)
        ax.axvline(when, color="gray", ls=":", lw=1.2)
        ax.annotate("end of simulation", (when, 1.0), xycoords=("data", "axes fraction"), xytext=(-3, -3),
                    textcoords="offset points", ha="right", va="top", fontsize=8, color="gray")
    if have_bars:
        lo = starts.dropna().min()
        hi = max(ends.dropna().max(), pd.Timestamp(end_date) if end_date is not None else ends.dropna().max())
        ax.set_xlim(lo - pd.Timedelta(days=60), hi + (hi - lo) * 0.35 + pd.Timedelta(days=30))
    date_axis(ax)
    handles = [Patch(facecolor=colors[lab], edgecolor="black", linewidth=0.5, label=lab) for lab in labs]
    if labs:
        handles.append(Patch(facecolor="white", edgecolor="gray", hatch="//", label="not completed"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="lab")
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel("date")
    ax.set_title("Training runs: start to end, FLOP trained")
    return fig


LEDGER_USES = ["pretraining", "posttraining", "synthetic_data", "experiments", "inference", "idle"]
LEDGER_COLORS = {"pretraining": "tab:blue", "posttraining": "tab:cyan", "synthetic_data": "tab:olive",
                 "experiments": "tab:purple", "inference": "tab:orange", "idle": "lightgray"}


def compute_ledger(timeseries: pd.DataFrame) -> Figure:
    """Each lab's compute ledger, stacked: installed peak FLOP-time per month held by each use (pre-
    training, post-training, synthetic data, experiments, inference) and idle; the stack's top is the
    month's `flop_available`. One panel per lab, each with its own scale."""
    ts = timeseries[(timeseries["kind"] == "lab") & timeseries["metric"].str.startswith("flop_")]
    labs = list(dict.fromkeys(ts["entity"]))
    columns = min(3, max(1, len(labs)))
    rows = max(1, -(-len(labs) // columns))
    fig = new_figure(5.0 * columns, 3.2 * rows + 0.8)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, lab in zip(axes, labs):
        table = _pivot(ts, entity=lab)
        uses = [u for u in LEDGER_USES if f"flop_{u}" in table]
        ax.stackplot(table.index, *[table[f"flop_{u}"].clip(lower=0).to_numpy() for u in uses],
                     colors=[LEDGER_COLORS[u] for u in uses], labels=[u.replace("_", " ") for u in uses],
                     linewidth=0)
        ax.set_title(lab, fontsize=10)
        ax.set_ylabel("peak FLOP-time per month")
        date_axis(ax)
        ax.grid(alpha=0.3)
    for ax in axes[len(labs):]:
        ax.set_visible(False)
    if not labs:
        empty(axes[0], "no compute ledger in this run")
    else:
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles[::-1], names[::-1], loc="upper center", ncol=len(names), fontsize=8, frameon=False)
    fig.suptitle("What each lab's GPUs did: installed peak FLOP x time by use", y=0.995)
    return fig


# ---------------------------------------------------------------------------------------------- a sweep
