"""Figures of studies: Monte Carlo fan charts and threshold curves (sweeps), the topology
comparison, the sensitivity tornado and the global screenings (Morris mu*, Sobol indices). Same
conventions as sim.outputs.plots (Agg canvas, no pyplot)."""
from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure

from sim.outputs.input_labels import input_label
from sim.outputs.plots import BAND_DISPLAY, PALETTE, date_axis, dates, empty, log_axis, number, thousands, new_figure, sci


def _grid_columns(table: pd.DataFrame, known: Iterable[str]) -> list[str]:
    known = set(known)
    return [c for c in table.columns if c not in known and not c.startswith("p_by_") and not c.startswith("date_p")]


def _cells(table: pd.DataFrame, grid: list[str]) -> list[tuple[str, pd.DataFrame]]:
    if not grid:
        return [("", table)]
    out = []
    for key, rows in table.groupby(grid, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        out.append((", ".join(f"{g}={v}" for g, v in zip(grid, key)), rows))
    return out


def fan_chart(bands: pd.DataFrame) -> Figure:
    """Monte Carlo fan charts: per metric, the p10-p90 band and the median over replications (FLOP on
    a log axis). A grid sweep draws one band per cell."""
    grid = _grid_columns(bands, ["date", "metric", "p10", "p50", "p90", "mean"])
    metrics = [m for m in BAND_DISPLAY if m in set(bands["metric"])]
    metrics += [m for m in dict.fromkeys(bands["metric"]) if m not in metrics]
    ncols = 2 if len(metrics) > 1 else 1
    nrows = max(1, -(-len(metrics) // ncols))
    fig = new_figure(12, 3.3 * nrows + 0.6)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    cells = _cells(bands, grid)
    span = dates(bands["date"]).dropna()
    for ax, metric in zip(axes, metrics):
        title, unit, scale, log = BAND_DISPLAY.get(metric, (metric.replace("_", " "), "", 1.0, "flop" in metric))
        for j, (cell, rows) in enumerate(cells):
            rows = rows[rows["metric"] == metric].copy()
            when = dates(rows["date"])
            vals = {q: pd.to_numeric(rows[q], errors="coerce").to_numpy(float) * scale for q in ("p10", "p50", "p90")}
            if log:
                vals = {q: np.where(v > 0, v, np.nan) for q, v in vals.items()}
            color = PALETTE[j % len(PALETTE)] if grid else "tab:blue"
            ax.fill_between(when, vals["p10"], vals["p90"], color=color, alpha=0.22,
                            label=f"{cell} p10-p90" if grid else "p10-p90")
            ax.plot(when, vals["p50"], color=color, lw=1.8, label=f"{cell} median" if grid else "median")
        if log:
            log_axis(ax)
        else:
            thousands(ax)
        date_axis(ax)
        if len(span):
            ax.set_xlim(span.min(), span.max())
        ax.grid(alpha=0.3)
        ax.set_title(title)
        ax.set_ylabel(unit)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    if metrics:
        axes[0].legend(loc="upper left", fontsize=8)
    else:
        empty(axes[0], "no bands")
    fig.suptitle("Monte Carlo bands over replications (p10, median, p90)", fontsize=14)
    return fig


def threshold_curves(thresholds: pd.DataFrame) -> Figure:
    """The probability that a completed run of at least each FLOP threshold exists by the end of each
    year (share of replications). A grid sweep draws one line style per cell. Each curve is a step
    over years (steps-post): a year's share holds until the next year's end, nothing lies between."""
    fig = new_figure(10, 5.5)
    ax = fig.subplots()
    years = sorted(int(m.group(1)) for c in thresholds.columns if (m := re.fullmatch(r"p_by_(\d{4})", c)))
    grid = _grid_columns(thresholds, ["threshold_flop", "replications"])
    styles = ["-", "--", ":", "-."]
    markers = ["o", "s", "^", "v", "D", "P", "X"]
    for j, (cell, rows) in enumerate(_cells(thresholds, grid)):
        for i, (_, row) in enumerate(rows.reset_index(drop=True).iterrows()):
            probs = [float(row[f"p_by_{y}"]) for y in years]
            label = f"≥ {sci(float(row['threshold_flop']))} FLOP" + (f" ({cell})" if grid else "")
            ax.plot(years, probs, ls=styles[j % len(styles)], marker=markers[i % len(markers)],
                    drawstyle="steps-post", color=PALETTE[i % len(PALETTE)], label=label)
    ax.set_xticks(years, [str(y) for y in years])
    ax.set_ylim(-0.03, 1.03)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(1.0))
    ax.set_xlabel("by 31 December of")
    ax.set_ylabel("share of replications with a completed run this large")
    n = thresholds["replications"].iloc[0] if "replications" in thresholds and len(thresholds) else None
    ax.set_title("Probability of a training run at least this large" + (f" ({int(n)} replications)" if n else ""))
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return fig


def replication_histogram(replications: pd.DataFrame, grid: Iterable[str] = ()) -> Figure:
    """How the largest completed run is spread over the replications: a histogram on log-spaced FLOP
    bins (one outline per grid cell), the median dashed. Replications with no
    completed run are counted in the title."""
    grid = [g for g in grid if g in replications.columns]
    fig = new_figure(10, 5)
    ax = fig.subplots()
    flop_all = pd.to_numeric(replications["largest_run_flop"], errors="coerce")
    positive = flop_all[flop_all > 0]
    none = int((~(flop_all > 0)).sum())
    if len(positive):
        lo, hi = np.log10(positive.min()), np.log10(positive.max())
        if hi - lo < 0.2:
            lo, hi = lo - 0.1, hi + 0.1
        bins = np.logspace(lo, hi, min(40, max(8, len(positive) // 3)) + 1)
        for j, (cell, rows) in enumerate(_cells(replications, grid)):
            flop = pd.to_numeric(rows["largest_run_flop"], errors="coerce")
            flop = flop[flop > 0]
            ax.hist(flop, bins=bins, color=PALETTE[j % len(PALETTE)], alpha=0.55 if not grid else 0.35,
                    histtype="stepfilled", edgecolor=PALETTE[j % len(PALETTE)], label=cell or None)
            median = float(flop.median()) if len(flop) else np.nan
            if np.isfinite(median):
                ax.axvline(median, color=PALETTE[j % len(PALETTE)], ls="--", lw=1.2)
                ax.annotate(f"median {sci(median)}", (median, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(3, -3 - 12 * j), textcoords="offset points", va="top", fontsize=8,
                            color=PALETTE[j % len(PALETTE)])
        ax.set_xscale("log")
        if grid:
            ax.legend(fontsize=8, loc="upper left")
    else:
        empty(ax, "no replication completed a run")
    ax.set_xlabel("largest completed run, FLOP")
    ax.set_ylabel("replications")
    ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.set_title(f"Largest completed run per replication ({len(replications)} replications"
                 + (f"; {none} with none completed)" if none else ")"))
    return fig


# ---------------------------------------------------------------------------------------------- compare, tornado

def topology_comparison(compare_table: pd.DataFrame) -> Figure:
    """Each run's FLOP and MFU on each topology as ratios against the first topology (linear bars, so a
    10-30% difference shows; log bars of absolute FLOP hid it), with the first topology's absolute FLOP
    named under each run. Runs with no FLOP on the first topology are left out and named below."""
    table = compare_table.copy()
    table["flop"] = pd.to_numeric(table["flop"], errors="coerce").fillna(0.0)
    table["mfu"] = pd.to_numeric(table["mfu"], errors="coerce")
    topologies = list(dict.fromkeys(table["topology"]))
    first = topologies[0] if topologies else None
    base = table[table["topology"] == first].drop_duplicates("run").set_index("run")
    runs = [r for r in dict.fromkeys(table["run"]) if r in base.index and base.loc[r, "flop"] > 0]
    left_out = [r for r in dict.fromkeys(table["run"]) if r not in runs]
    others = topologies[1:]
    fig = new_figure(max(8.0, 1.1 * len(runs) * max(1, len(others)) ** 0.5 + 3), 8)
    ax_flop, ax_mfu = fig.subplots(2, 1, sharex=True)
    width = 0.8 / max(1, len(others))
    x = np.arange(len(runs))
    for j, topo in enumerate(others):
        rows = table[table["topology"] == topo].drop_duplicates("run").set_index("run").reindex(runs)
        offset = (j - (len(others) - 1) / 2) * width
        color = PALETTE[(j + 1) % len(PALETTE)]
        ax_flop.bar(x + offset, rows["flop"].to_numpy(float) / base.loc[runs, "flop"].to_numpy(float), width,
                    color=color, label=topo)
        ax_mfu.bar(x + offset, rows["mfu"].to_numpy(float) / base.loc[runs, "mfu"].to_numpy(float), width,
                   color=color, label=topo)
    for ax, what in ((ax_flop, "FLOP trained"), (ax_mfu, "MFU")):
        ax.axhline(1.0, color="black", lw=1.0)
        ax.set_ylabel(f"{what} / {first}")
        ax.grid(axis="y", alpha=0.3)
    ax_flop.set_title(f"Training compute per run, against {first}" if first else "Training compute per run")
    ax_mfu.set_title(f"MFU per run, against {first}" if first else "MFU per run")
    if others:
        ax_flop.legend(fontsize=8, title="topology")
    labels = [f"{r}\n({sci(float(base.loc[r, 'flop']))} on {first})" for r in runs]
    ax_mfu.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax_mfu.set_xlabel("run" + (f"   (no FLOP on {first}: {', '.join(map(str, left_out))})" if left_out else ""))
    if not runs:
        empty(ax_flop, f"no run trained on {first}" if first else "no runs")
    return fig


def tornado(tornado_table: pd.DataFrame, top: int = 15, output_label: str = "largest completed run, FLOP") -> Figure:
    """A tornado diagram: the output with each uncertain input at its p10 and its p90 (the others at
    their medians), as bars from the output at the medians; largest swing on top. Inputs are named
    readably (sim.outputs.input_labels); `output_label` names the output and its unit."""
    table = tornado_table.copy()
    for col in ("output_at_low", "output_at_high", "output_at_median", "swing", "low_value", "high_value"):
        table[col] = pd.to_numeric(table[col], errors="coerce")
    table = table.sort_values("swing", ascending=False, kind="mergesort").head(top).reset_index(drop=True)
    fig = new_figure(11, max(3.5, 0.42 * len(table) + 1.8))
    ax = fig.subplots()
    median = float(table["output_at_median"].iloc[0]) if len(table) else 0.0
    n = len(table)
    for i, row in table.iterrows():
        y = n - 1 - i
        for out, offset, color, label in ((row["output_at_low"], 0.17, "tab:blue", "input at its p10"),
                                          (row["output_at_high"], -0.17, "tab:red", "input at its p90")):
            ax.barh(y + offset, out - median, left=median, height=0.34, color=color, alpha=0.85,
                    label=label if i == 0 else None)
    ax.axvline(median, color="black", lw=1)
    labels = [f"{input_label(str(row['input']))}\np10 {number(row['low_value'])}, p90 {number(row['high_value'])}"
              for _, row in table.iterrows()]
    ax.set_yticks(range(n), labels[::-1], fontsize=8)
    span = float(np.nanmax(np.abs(table[["output_at_low", "output_at_high"]].to_numpy(float) - median))) if n else 0.0
    span = span if span > 0 else max(abs(median) * 0.05, 1.0)
    ax.set_xlim(median - 1.35 * span, median + 1.35 * span)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _value(v, output_label)))
    ax.set_xlabel(f"{output_label} (line: every input at its median, {_value(median, output_label)})")
    ax.set_title("Sensitivity: the output with each uncertain input at its p10 and p90")
    ax.grid(axis="x", alpha=0.3)
    if n:
        ax.legend(loc="lower right", fontsize=8)
    else:
        empty(ax, "no uncertain inputs")
    return fig


def _value(v: float, unit_or_label: str) -> str:
    """A number of the output on an axis: scientific for FLOP, else three significant digits."""
    return sci(v) if "FLOP" in unit_or_label else number(v)


def morris_chart(morris_table: pd.DataFrame, top: int = 20, output_label: str = "largest completed run, FLOP") -> Figure:
    """Morris screening: each input's mu* (mean absolute elementary effect, with its bootstrap
    interval) and sigma (spread of the effects: non-linearity or interactions) as bars, largest mu*
    on top; inputs named readably. Beside it, sigma against mu* (Campolongo, Cariboni & Saltelli
    2007): points far above the diagonal act non-linearly or together with other inputs."""
    table = morris_table.copy()
    for col in ("mu_star", "mu_star_conf", "sigma", "mu"):
        table[col] = pd.to_numeric(table[col], errors="coerce")
    table = table.sort_values("mu_star", ascending=False, kind="mergesort").reset_index(drop=True)
    shown = table.head(top)
    n = len(shown)
    fig = new_figure(13, max(4.0, 0.38 * n + 1.8))
    ax, ax_scatter = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    y = np.arange(n)[::-1]
    ax.barh(y + 0.19, shown["mu_star"], height=0.38, color="tab:blue", alpha=0.85, label="μ* (mean |effect|)",
            xerr=shown["mu_star_conf"].fillna(0.0), error_kw={"lw": 0.8, "capsize": 2})
    ax.barh(y - 0.19, shown["sigma"], height=0.38, color="tab:orange", alpha=0.85, label="σ (spread of effects)")
    ax.set_yticks(y, [input_label(str(k)) for k in shown["input"]], fontsize=8)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _value(v, output_label)))
    ax.set_xlabel(f"effect on {output_label}, per p10..p90 range of the input")
    ax.set_title("Morris screening: inputs by μ*" + (f" (top {top} of {len(table)})" if len(table) > top else ""))
    ax.grid(axis="x", alpha=0.3)
    if n:
        ax.legend(loc="lower right", fontsize=8)
        ax_scatter.scatter(table["mu_star"], table["sigma"], color="tab:blue", s=18)
        for i, row in shown.head(5).iterrows():
            ax_scatter.annotate(str(i + 1), (row["mu_star"], row["sigma"]), xytext=(3, 3), textcoords="offset points",
                                fontsize=8)
        most = float(np.nanmax(table[["mu_star", "sigma"]].to_numpy(float))) if len(table) else 0.0
        ax_scatter.plot([0, most], [0, most], color="grey", lw=0.8, ls="--", label="σ = μ*")
        ax_scatter.legend(loc="upper left", fontsize=8)
    else:
        empty(ax, "no uncertain inputs")
    for axis in (ax_scatter.xaxis, ax_scatter.yaxis):
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _value(v, output_label)))
    ax_scatter.set_xlabel("μ*")
    ax_scatter.set_ylabel("σ")
    ax_scatter.set_title("σ against μ* (n: rank)")
    ax_scatter.grid(alpha=0.3)
    return fig


def sobol_chart(sobol_table: pd.DataFrame, top: int = 20) -> Figure:
    """Sobol indices: each input's first-order S1 (the share of the output's variance it explains
    alone) and total ST (with its interactions) as bars with their bootstrap intervals, largest ST on
    top; inputs named readably (Saltelli et al. 2010)."""
    table = sobol_table.copy()
    for col in ("S1", "S1_conf", "ST", "ST_conf"):
        table[col] = pd.to_numeric(table[col], errors="coerce")
    table = table.sort_values("ST", ascending=False, kind="mergesort").head(top).reset_index(drop=True)
    n = len(table)
    fig = new_figure(11, max(3.5, 0.38 * n + 1.8))
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    bars = {"lw": 0.8, "capsize": 2}
    ax.barh(y + 0.19, table["ST"], height=0.38, color="tab:red", alpha=0.85, label="ST (total, with interactions)",
            xerr=table["ST_conf"].fillna(0.0), error_kw=bars)
    ax.barh(y - 0.19, table["S1"], height=0.38, color="tab:blue", alpha=0.85, label="S1 (first order, alone)",
            xerr=table["S1_conf"].fillna(0.0), error_kw=bars)
    ax.set_yticks(y, [input_label(str(k)) for k in table["input"]], fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    if n:  # indices are shares in [0, 1]; a wide interval (few base samples) is cut at the edges, not the bars
        low = float(np.nanmin((table["S1"] - table["S1_conf"].fillna(0.0)).to_numpy(float)))
        high = float(np.nanmax((table["ST"] + table["ST_conf"].fillna(0.0)).to_numpy(float)))
        ax.set_xlim(max(-0.25, min(-0.02, low)), min(1.25, max(0.1, high)) + 0.02)
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(1.0))
    ax.set_xlabel("share of the output's variance")
    ax.set_title("Sobol indices: inputs by total effect ST")
    ax.grid(axis="x", alpha=0.3)
    if n:
        ax.legend(loc="lower right", fontsize=8)
    else:
        empty(ax, "no uncertain inputs")
    return fig
