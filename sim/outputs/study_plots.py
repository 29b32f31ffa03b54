"""Figures of studies: Monte Carlo fan charts and threshold curves (sweeps), the topology
comparison, and the sensitivity tornado. Same conventions as sim.outputs.plots (Agg canvas, no pyplot)."""
from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure

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
    year (share of replications). A grid sweep draws one line style per cell."""
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
                    color=PALETTE[i % len(PALETTE)], label=label)
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
    """Each run's FLOP (log) and MFU on each topology, as grouped bars. Runs with no FLOP on any
    topology (not started within the horizon) are left out and named below."""
    table = compare_table.copy()
    table["flop"] = pd.to_numeric(table["flop"], errors="coerce").fillna(0.0)
    topologies = list(dict.fromkeys(table["topology"]))
    runs = [r for r in dict.fromkeys(table["run"]) if (table.loc[table["run"] == r, "flop"] > 0).any()]
    left_out = [r for r in dict.fromkeys(table["run"]) if r not in runs]
    fig = new_figure(max(8.0, 1.1 * len(runs) * max(1, len(topologies)) ** 0.5 + 3), 8)
    ax_flop, ax_mfu = fig.subplots(2, 1, sharex=True)
    width = 0.8 / max(1, len(topologies))
    x = np.arange(len(runs))
    for j, topo in enumerate(topologies):
        rows = table[table["topology"] == topo].drop_duplicates("run").set_index("run").reindex(runs)
        offset = (j - (len(topologies) - 1) / 2) * width
        color = PALETTE[j % len(PALETTE)]
        flop = rows["flop"].to_numpy(float)
        ax_flop.bar(x + offset, np.where(flop > 0, flop, np.nan), width, color=color, label=topo)
        ax_mfu.bar(x + offset, pd.to_numeric(rows["mfu"], errors="coerce").to_numpy(float), width, color=color,
                   label=topo)
    if runs:
        log_axis(ax_flop)
    ax_flop.set_ylabel("FLOP trained")
    ax_flop.set_title("Training compute per run, by topology")
    ax_flop.legend(fontsize=8, title="topology")
    ax_mfu.set_ylabel("MFU (model FLOP utilization)")
    ax_mfu.yaxis.set_major_formatter(ticker.PercentFormatter(1.0))
    ax_mfu.set_title("MFU per run, by topology")
    ax_mfu.set_xticks(x, runs, rotation=30, ha="right")
    ax_mfu.set_xlabel("run" + (f"   (no FLOP on any topology: {', '.join(left_out)})" if left_out else ""))
    for ax in (ax_flop, ax_mfu):
        ax.grid(axis="y", alpha=0.3)
    if not runs:
        empty(ax_flop, "no run trained on any topology")
    return fig


def tornado(tornado_table: pd.DataFrame, top: int = 15) -> Figure:
    """A tornado diagram: the output with each uncertain input at its p10 and its p90 (the others at
    their medians), as bars from the output at the medians; largest swing on top."""
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
    labels = [f"{row['input']}\np10 {number(row['low_value'])}, p90 {number(row['high_value'])}"
              for _, row in table.iterrows()]
    ax.set_yticks(range(n), labels[::-1], fontsize=8)
    span = float(np.nanmax(np.abs(table[["output_at_low", "output_at_high"]].to_numpy(float) - median))) if n else 0.0
    span = span if span > 0 else max(abs(median) * 0.05, 1.0)
    ax.set_xlim(median - 1.35 * span, median + 1.35 * span)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: sci(v)))
    ax.set_xlabel(f"largest completed run, FLOP (line: every input at its median, {sci(median)})")
    ax.set_title("Sensitivity: the output with each uncertain input at its p10 and p90")
    ax.grid(axis="x", alpha=0.3)
    if n:
        ax.legend(loc="lower right", fontsize=8)
    else:
        empty(ax, "no uncertain inputs")
    return fig
