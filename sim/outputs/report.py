"""One self-contained HTML report of an output folder: `sim report DIR` writes DIR/report.html.

The folder may hold any combination of
    a run          runs.csv, timeseries.csv, frontier.csv, summary.json   (sim run)
    a comparison   compare.csv [+ compare.json]                           (sim compare)
    a sweep        bands.csv, thresholds.csv [+ sweep.json, replications.csv]   (sim sweep)
    a tornado      tornado.csv [+ tornado.json]                           (sim sensitivity)
    a screening    morris.csv and/or sobol.csv [+ .json]                  (sim sensitivity --method morris|sobol)
and the report has a section for each. Figures are embedded as base64 PNG data URIs and the styles
are inline: the file needs nothing else, no network, no other files.

Every file is checked before anything is drawn (sim/outputs/reading.py), and a damaged or hand-edited
folder is refused with one line naming the file and what is wrong (`DIR/runs.csv: line 4, column flop:
should be a number (got "lots")`), writing nothing. (A file cut inside its last field cannot be told
from a whole one.) The report reads and writes under the
folder's lock (sim.outputs.files), so it never reads a folder another sim command is writing, and a
killed write is finished before it reads.
"""
from __future__ import annotations

import base64
import html
import importlib
import io
import math
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import data, metrics
from sim.config.errors import ScenarioError
from sim.outputs.files import OutputError, output_lock, write_files
from sim.outputs.reading import detect, incomplete_files, read_csv, read_json
from sim.version import package_version


class _OnFirstUse:
    """A module imported when first used: matplotlib (sim.outputs.plots) loads when the first figure is
    drawn, after every file is checked, so refusing a damaged folder does not wait for it."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


plots = _OnFirstUse("sim.outputs.plots")
study_plots = _OnFirstUse("sim.outputs.study_plots")

REPORT_NAME = "report.html"

KNOWN = ("a run (runs.csv, timeseries.csv, frontier.csv, summary.json), compare.csv, "
         "a sweep (bands.csv, thresholds.csv), tornado.csv, morris.csv or sobol.csv")

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 1.5em 2em 4em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.35em; margin-top: 2.2em; border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.1em; margin-top: 1.6em; }
.meta { border-collapse: collapse; margin: 0.6em 0 1em; }
.meta th { text-align: left; padding: 0.15em 1.2em 0.15em 0; color: #555; font-weight: 600; }
.meta td { padding: 0.15em 0; }
nav a { margin-right: 1.2em; }
figure { margin: 1.2em 0 1.8em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
figcaption { color: #555; font-size: 0.92em; margin-top: 0.3em; }
table.data { border-collapse: collapse; font-size: 0.88em; margin: 0.5em 0 1.2em; }
table.data th { background: #f3f3f5; text-align: left; padding: 0.3em 0.7em; border-bottom: 1px solid #ccc;
                position: sticky; top: 0; }
table.data td { padding: 0.22em 0.7em; border-bottom: 1px solid #eee; white-space: nowrap; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data tr:hover td { background: #fafafa; }
details { margin: 0.6em 0 1.2em; }
details summary { cursor: pointer; color: #0b5cad; }
.scroll { overflow-x: auto; max-height: 36em; overflow-y: auto; }
.note { color: #555; font-size: 0.92em; }
footer { margin-top: 3em; color: #777; font-size: 0.85em; }
.answer { background: #f6f8fb; border-left: 4px solid #0b5cad; padding: 0.6em 1.2em; margin: 1em 0 1.6em; }
"""

# Columns shown with digits as they are (no thousands separators, no exponent).
PLAIN_COLUMNS = {"year", "seed", "replication", "replications", "interruptions_seed"}


# ---------------------------------------------------------------------------------------------- formatting

def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def format_value(column: str, value: Any) -> str:
    """A table cell: FLOP in short scientific notation (8.13e27), counts with thousands separators,
    fractions to three significant digits, empty for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not _is_number(value):
        text = str(value)
        return "" if text == "nan" else text
    v = float(value)
    if column in PLAIN_COLUMNS and v.is_integer():
        return str(int(v))
    if "flop" in column.lower() and "flop_per" not in column.lower() and v != 0:
        return plots.sci(v)
    if v.is_integer() and abs(v) < 1e9:
        return f"{int(v):,}"
    if abs(v) >= 1e9:
        return plots.sci(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == 0:
        return "0"
    return f"{v:.3g}"


def html_table(df: pd.DataFrame, formats: dict[str, Callable[[Any], str]] | None = None) -> str:
    """A DataFrame as an HTML table, numbers right-aligned and formatted (`format_value`)."""
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for values in df.itertuples(index=False, name=None):
        cells = []
        for col, v in zip(df.columns, values):
            text = formats[col](v) if col in formats else format_value(str(col), v)
            numeric = _is_number(v)
            cells.append(f'<td class="num">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def figure_html(fig, caption: str, alt: str) -> str:
    """A figure as an <img> with a base64 PNG data URI, and its caption."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def meta_table(items: list[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in items if v is not None)
    return f'<table class="meta">{rows}</table>'


def details(summary: str, body: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


def metrics_details(kinds: tuple[str, ...]) -> str:
    """What each column and metric of these kinds means, with its unit: the metrics registry."""
    table = pd.DataFrame([{"kind": m.kind, "metric": m.name, "unit": m.unit, "file": m.table,
                           "description": m.description} for m in metrics.METRICS if m.kind in kinds])
    return details("What the columns and metrics mean (sim metrics)", html_table(table))


def sources_details() -> str:
    """The published sources of the shipped reference tables the defaults rest on (docs/sources.md)."""
    table = pd.DataFrame([{"table": f"sim/data/{name}.csv", "sources": "; ".join(data.sources(name))}
                          for name in data.tables()])
    return details("Sources of the shipped reference tables (full citations: docs/sources.md)", html_table(table))


# ---------------------------------------------------------------------------------------------- sections

def _scenario_label(name: str | None) -> str:
    return name if name else "baseline (shipped)"


def run_section(folder: Path) -> tuple[str, dict, int]:
    summary = read_json(folder, "summary.json", required=True)
    runs = read_csv(folder, "runs.csv")
    timeseries = read_csv(folder, "timeseries.csv")
    frontier = read_csv(folder, "frontier.csv")
    if summary["runs"] != len(runs):
        raise OutputError(folder / "runs.csv", f"has {len(runs)} runs but summary.json says {summary['runs']} "
                          "(a file is cut short, or the files are from different runs)")
    meta = {"scenario": summary.get("scenario"), "seed": summary.get("seed"), "version": summary.get("version")}
    parts = ['<section id="run"><h2>Run</h2>']
    answer = summary.get("answer")
    if isinstance(answer, dict) and answer.get("headline"):
        parts.append(answer_html(answer))
    parts.append(meta_table([  # scenario, seed and version are in the report's header
        ("horizon", f"{summary.get('start_date', '?')} to {summary.get('end_date', '?')}"),
        ("runs", f"{summary.get('runs_completed', '?')} of {summary.get('runs', '?')} completed"),
        ("SimPy events", format_value("events", summary.get("events_processed"))),
    ]))
    best = summary.get("largest_run_completed")
    if best:
        parts.append(f"<p><b>Largest completed run:</b> {html.escape(str(best['run']))} "
                     f"({html.escape(str(best['lab']))}), {plots.sci(float(best['flop']))} FLOP on "
                     f"{int(best['gpus']):,} x {html.escape(str(best['gpu_type']))}, {html.escape(str(best['start']))} "
                     f"to {html.escape(str(best['end']))}; its own limit (runs.csv): "
                     f"{html.escape(str(best['binding_constraint']))}.</p>")
    years = pd.DataFrame(summary.get("years") or [])
    if len(years):
        years = years.rename(columns={
            "gpus_delivered_h100e": "H100e delivered in year", "power_online_gw": "firm power online, GW (year end)",
            "installed_gpus": "GPUs installed (year end)", "installed_h100e": "H100e installed (year end)",
            "largest_run_flop": "largest run completed in year, FLOP",
            "largest_run_to_date_flop": "largest run completed to date, FLOP", "frontier_max_flop": "frontier max, FLOP"})
        parts.append("<h3>Per year</h3>" + html_table(years, {c: _flop for c in years.columns if "FLOP" in c}))
    images = 0
    parts.append(figure_html(plots.buildout(timeseries, runs, summary.get("h100e_per_gpu")), "GPUs installed by product in H100-equivalents "
                             "(stacked); the world's firm power online, available and drawn; power drawn and GPUs "
                             "installed per site. Monthly.", "buildout"))
    parts.append(figure_html(plots.frontier(frontier, runs=runs), "The largest run any lab could start each month "
                             "under each constraint alone and combined; the wide band marks the constraint that binds. "
                             "Dotted: the ~4x-a-year trend to 2e29 FLOP by 2030; dashed red: 2e29. Dots: the pre-training "
                             "runs completed, at their end. Diamonds: Epoch AI's 2030 medians (Can AI Scaling Continue "
                             "Through 2030?, 2024); the bar: its inter-DC bandwidth range.", "frontier"))
    buildout_file = folder / "buildout.csv"
    parts.append(figure_html(plots.waiting(timeseries, read_csv(folder, "buildout.csv") if buildout_file.exists()
                                           else None),
                             "What waits for what: GPUs delivered and waiting for powered room or in transit; power "
                             "equipment on the makers' books (all buyers) and the labs' plants started but not yet "
                             "online.", "waiting"))
    images += 1
    parts.append(figure_html(plots.runs_timeline(runs, summary.get("end_date")), "Planned pre-training runs, start to "
                             "end, coloured by lab; hatched: not completed within the horizon.", "training runs"))
    images += 3
    if timeseries["metric"].eq("flop_available").any():
        parts.append(figure_html(plots.compute_ledger(timeseries), "The compute ledger: each month, each lab's "
                                 "installed peak FLOP/s x time held by pre-training and post-training runs, "
                                 "synthetic-data generation, research experiments and inference serving, and idle "
                                 "(stacked: the top is what was installed).", "compute ledger"))
        images += 1
    shown = [c for c in ["run", "lab", "status", "start", "end", "gpus", "gpu_type", "sites", "flop", "mfu", "goodput",
                         "binding_constraint", "params", "step_time_s", "comm_fraction", "interruptions",
                         "disrupted_days", "stalled_days"] if c in runs.columns]
    parts.append("<h3>Training runs</h3>" + html_table(runs[shown]))
    parts.append(details("All columns of runs.csv", html_table(runs)))
    inputs = summary.get("inputs")
    if isinstance(inputs, dict):
        parts.append(inputs_html(inputs))
    pivot = _frontier_pivot(frontier)
    if len(pivot):
        year_end = year_end_rows(pivot)
        parts.append("<h3>Frontier at each year's last month</h3><p class=\"note\">Largest run any lab could start, "
                     "FLOP, under each constraint.</p>" + html_table(year_end))
        parts.append(details("Frontier, every month", html_table(pivot)))
    disruptions = summary.get("disruptions") or []
    if disruptions:
        parts.append("<h3>Disruptions that occurred</h3>" + html_table(pd.DataFrame(disruptions)))
    parts.append(metrics_details(("run", "frontier", "world", "lab", "site", "product", "supply", "disruption")))
    parts.append(sources_details())
    parts.append("</section>")
    return "".join(parts), meta, images


def year_end_rows(table: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    """The rows of each year's last date (per combination of `keys`, if given)."""
    when = pd.to_datetime(table["date"])
    groups = [table[k] for k in keys or []] + [when.dt.year]
    return table[when.groupby(groups).transform("max") == when]


def _frontier_pivot(frontier: pd.DataFrame) -> pd.DataFrame:
    order = [c for c in plots.CONSTRAINT_ORDER if c in set(frontier["constraint"])]
    order += [c for c in dict.fromkeys(frontier["constraint"]) if c not in order]
    table = frontier.pivot_table(index="date", columns="constraint", values="max_flop", aggfunc="last")
    table = table.reindex(columns=order)
    binding = frontier.drop_duplicates("date").set_index("date")["binding_constraint"]
    table["binding"] = binding.reindex(table.index)
    table = table.reset_index()
    table.columns.name = None
    return table


def _study_info(folder: Path, json_name: str) -> tuple[dict, dict]:
    """What a comparison or tornado recorded about itself, and the scenario/seed/version of it."""
    info = read_json(folder, json_name) or {}
    return info, {"scenario": info.get("scenario"), "seed": info.get("seed"), "version": info.get("version")}


def _study_rows(info: dict, json_name: str, extra: tuple[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("scenario", info.get("scenario", f"not recorded (no {json_name})")),
        ("seed", info.get("seed", "not recorded")), ("sim version", info.get("version")),
        extra,
        ("overrides", " ".join(info.get("overrides") or []) or None),
    ]


def compare_section(folder: Path) -> tuple[str, dict, int]:
    table = read_csv(folder, "compare.csv")
    info, meta = _study_info(folder, "compare.json")
    parts = ['<section id="compare"><h2>Topology comparison</h2>']
    parts.append(meta_table(_study_rows(info, "compare.json",
                                        ("topologies", ", ".join(dict.fromkeys(str(t) for t in table["topology"]))))))
    first = str(table["topology"].iloc[0]) if len(table) else ""
    parts.append(figure_html(study_plots.topology_comparison(table), "The same buildout on each topology: FLOP trained "
                             f"and MFU per run, as ratios against {first} (the first topology; its FLOP under each "
                             "run).", "topology comparison"))
    parts.append(html_table(table))
    parts.append("</section>")
    return "".join(parts), meta, 1


def sweep_section(folder: Path) -> tuple[str, dict, int]:
    bands = read_csv(folder, "bands.csv")
    thresholds = read_csv(folder, "thresholds.csv")
    spec = read_json(folder, "sweep.json") or {}
    meta = {"scenario": _scenario_label(spec.get("scenario")) if spec else None, "seed": spec.get("root_seed"),
            "version": spec.get("version")}
    grid = spec.get("grid") or []
    parts = ['<section id="sweep"><h2>Monte Carlo sweep</h2>']
    parts.append(meta_table([
        ("scenario", _scenario_label(spec.get("scenario")) if spec else "not recorded (no sweep.json)"),
        ("root seed", spec.get("root_seed", "not recorded")),
        ("replications", f"{spec['n']} per grid cell" if "n" in spec else None),
        ("grid", "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in grid) or None),
        ("overrides", " ".join(spec.get("overrides") or []) or None),
    ]))
    parts.append(figure_html(study_plots.fan_chart(bands), "Per month over replications: the p10-p90 band and the median "
                             "(FLOP on a log axis).", "Monte Carlo fan charts"))
    parts.append(figure_html(study_plots.threshold_curves(thresholds), "The share of replications with a completed run at "
                             "least this large by the end of each year.", "threshold probabilities"))
    parts.append("<h3>Thresholds</h3>" + html_table(thresholds))
    images = 2
    if (folder / "replications.csv").is_file():
        reps = read_csv(folder, "replications.csv")
        if "largest_run_flop" in reps.columns:
            keys = [k for k, _ in grid if k in reps.columns]
            parts.append(figure_html(study_plots.replication_histogram(reps, keys), "The largest completed run of each "
                                     "replication; dashed: the median.", "largest run per replication"))
            images += 1
            groups = reps.groupby(keys, sort=False) if keys else [((), reps)]
            rows = []
            for key, rows_ in groups:
                key = key if isinstance(key, tuple) else (key,)
                flop = pd.to_numeric(rows_["largest_run_flop"], errors="coerce")
                rows.append({**dict(zip(keys, key)), "replications": len(rows_), "min": flop.min(),
                             "p10": flop.quantile(0.1), "p50": flop.quantile(0.5), "p90": flop.quantile(0.9),
                             "max": flop.max()})
            parts.append("<h3>Largest completed run per replication, FLOP</h3>"
                         + html_table(pd.DataFrame(rows), {c: _flop for c in ("min", "p10", "p50", "p90", "max")}))
    keys = [c for c in bands.columns if c not in ("date", "p10", "p50", "p90", "mean")]  # metric and grid keys
    parts.append(details("Bands at each year's last month", html_table(year_end_rows(bands, keys))))
    parts.append(metrics_details(("sweep",)))
    parts.append("</section>")
    return "".join(parts), meta, images


def _flop(v: Any) -> str:
    """A FLOP figure; none (0, as a year with no run completed yet) is '-', as the console shows it."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else ("-" if v == 0 else plots.sci(float(v)))


def answer_html(answer: dict) -> str:
    """The answer block (summary.json `answer`, sim/outputs/answer.py) at the top of a run's section."""
    from sim.outputs.answer import LEDGER_USES, condensed_binding

    parts = [f'<div class="answer"><p><b>Answer.</b> {html.escape(str(answer["headline"]))}</p>']
    trajectory = pd.DataFrame(answer.get("trajectory") or [])
    if len(trajectory):
        trajectory = trajectory.rename(columns={"largest_to_date_flop": "largest run to date, FLOP",
                                                "trend_flop": "4x-a-year trend to 2e29, FLOP",
                                                "ratio_to_trend": "ratio to trend"})
        parts.append(html_table(trajectory, {c: _flop for c in trajectory.columns if "FLOP" in c}))
    spans = condensed_binding(answer.get("binding") or [])
    if spans:
        parts.append("<p><b>What binds</b> the largest run any lab could start (frontier.csv, the combined row; one "
                     "definition everywhere): " + ", ".join(
                         html.escape(f"{s['constraint']} {s['from']}" + (f" to {s['to']}" if s["to"] != s["from"] else ""))
                         for s in spans) + ".</p>")
    wait = answer.get("waiting") or {}
    if wait:
        items = [f"{wait.get('gpus_waiting_for_power_h100e', 0):,.0f} H100e of GPUs waiting for powered room",
                 f"{wait.get('equipment_backlog_mw', 0) / 1e3:,.0f} GW of power equipment on the makers' books"]
        if "plants_not_online_mw" in wait:
            items.append(f"{wait['plants_not_online']} of the labs' plants ({wait['plants_not_online_mw'] / 1e3:,.1f} GW) "
                         "started and not online")
        runs_waited = wait.get("runs_waited_for_sites") or []
        if runs_waited:
            items.append(f"{len(runs_waited)} runs waited for sites under construction ({', '.join(runs_waited)})")
        parts.append("<p><b>Waiting at the end:</b> " + html.escape("; ".join(items)) + ".</p>")
    use = answer.get("compute_use") or {}
    if use:
        parts.append(f"<p><b>What the labs' GPUs did in {use['year']}</b> (share of installed peak FLOP-time): "
                     + html.escape(", ".join(f"{name.replace('_', ' ')} {use[name]:.0%}" for name in LEDGER_USES
                                             if name in use)) + ".</p>")
    parent = answer.get("against_parent")
    if parent:
        parts.append(f"<p><b>Against {html.escape(str(parent['scenario']))}</b> (the scenario this one extends), at the "
                     "end: " + html.escape(", ".join(f"{c['label']} x{c['ratio']:.2f}" for c in parent["changes"]))
                     + ".</p>")
    parts.append("</div>")
    return "".join(parts)


def inputs_html(inputs: dict) -> str:
    """The inputs-and-sources section: inputs set with --set, and the uncertain inputs (their distribution,
    the value used and the source comment beside them in the scenario file)."""
    parts = ['<h3 id="inputs">Inputs and their sources</h3>']
    overridden = pd.DataFrame(inputs.get("overridden") or [])
    if len(overridden):
        parts.append("<p>Set on the command line (--set):</p>" + html_table(overridden))
    uncertain = pd.DataFrame(inputs.get("uncertain") or [])
    if len(uncertain):
        parts.append("<p>Uncertain inputs (a run uses each at its median; `sim sweep` draws them, `sim sensitivity` "
                     "swings them), with the source named beside each in the scenario file:</p>" + html_table(uncertain))
    if inputs.get("files"):
        parts.append("<p class=\"note\">Scenario files: " + html.escape(", ".join(inputs["files"])) + ". Every other "
                     "default carries its source in a comment beside it; full citations: docs/sources.md.</p>")
    return "".join(parts)


def tornado_section(folder: Path) -> tuple[str, dict, int]:
    table = read_csv(folder, "tornado.csv")
    info, meta = _study_info(folder, "tornado.json")
    output = str(info.get("output", "largest completed run, FLOP"))
    parts = ['<section id="tornado"><h2>Sensitivity (tornado)</h2>']
    parts.append(meta_table(_study_rows(info, "tornado.json", ("output", output))))
    parts.append(figure_html(study_plots.tornado(table, output_label=output), "Each uncertain input at its p10 and at "
                             "its p90, the others at their medians; largest swing on top.", "tornado"))
    shown = _with_input_names(table)
    parts.append(html_table(shown, {c: _output_format(info) for c in ("output_at_low", "output_at_high",
                                                                      "output_at_median", "swing")}))
    parts.append("</section>")
    return "".join(parts), meta, 1


def _with_input_names(table: pd.DataFrame) -> pd.DataFrame:
    """A study's table with each input's readable name and unit (sim.outputs.input_labels) before its key path."""
    from sim.outputs.input_labels import input_label

    shown = table.copy()
    shown.insert(0, "name", [input_label(str(k)) for k in shown["input"]])
    return shown


def _output_format(info: dict) -> Callable[[Any], str]:
    """How a study's output values are shown: FLOP in short scientific notation, other units as numbers."""
    if str(info.get("unit", "FLOP")) == "FLOP":
        return _flop
    return lambda v: format_value("value", v)


def screening_section(folder: Path) -> tuple[str, dict, int]:
    """Global sensitivity (sim sensitivity --method morris or sobol): morris.csv and/or sobol.csv."""
    parts = ['<section id="screening"><h2>Global sensitivity (Morris, Sobol)</h2>']
    meta: dict = {}
    images = 0
    if (folder / "morris.csv").is_file():
        table = read_csv(folder, "morris.csv")
        info, meta = _study_info(folder, "morris.json")
        output = str(info.get("output", "largest completed run, FLOP"))
        parts.append("<h3>Morris elementary effects</h3>")
        parts.append(meta_table(_study_rows(info, "morris.json", ("output", output)) + [
            ("trajectories", info.get("trajectories")), ("levels", info.get("levels")), ("runs", info.get("runs")),
            ("sampling", info.get("sampling"))]))
        parts.append(figure_html(study_plots.morris_chart(table, output_label=output), "mu*: the mean absolute change "
                                 "of the output when an input steps across its p10..p90 range (Morris 1991; Campolongo, "
                                 "Cariboni & Saltelli 2007), with its 95% bootstrap interval; sigma: the spread of those "
                                 "changes (large: non-linear, or acting with other inputs). Largest mu* on top.", "morris"))
        parts.append(html_table(_with_input_names(table), {c: _output_format(info) for c in
                                                           ("mu_star", "mu_star_conf", "sigma", "mu")}))
        images += 1
    if (folder / "sobol.csv").is_file():
        table = read_csv(folder, "sobol.csv")
        info, sobol_meta = _study_info(folder, "sobol.json")
        meta = meta or sobol_meta
        parts.append("<h3>Sobol indices</h3>")
        parts.append(meta_table(_study_rows(info, "sobol.json", ("output", info.get("output"))) + [
            ("base samples", info.get("base_samples")), ("runs", info.get("runs")), ("sampling", info.get("sampling"))]))
        parts.append(figure_html(study_plots.sobol_chart(table), "S1: the share of the output's variance an input "
                                 "explains alone; ST: with its interactions (Saltelli et al. 2010), with 95% bootstrap "
                                 "intervals. Largest ST on top.", "sobol"))
        parts.append(html_table(_with_input_names(table)))
        images += 1
    parts.append("</section>")
    return "".join(parts), meta, images


SECTIONS = (("run", "Run", run_section), ("compare", "Topology comparison", compare_section),
            ("sweep", "Monte Carlo sweep", sweep_section), ("tornado", "Sensitivity", tornado_section),
            ("screening", "Global sensitivity", screening_section))


# ---------------------------------------------------------------------------------------------- the report

def render_report(folder: str | Path) -> tuple[str, int]:
    """The report's HTML for a folder of outputs, and how many figures it embeds."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(folder, "(report)", "no such folder")
    found = detect(folder)
    if not any(found.values()):
        partial = incomplete_files(folder)
        problem = f"nothing to report: found {partial[0]}" if partial else f"no sim outputs here; expected {KNOWN}"
        raise ScenarioError(folder, "(report)", problem)
    bodies, metas, images = [], [], 0
    for key, label, make in SECTIONS:
        if found[key]:
            try:
                body, meta, n = make(folder)
            except ScenarioError:
                raise
            except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError):
                # every file was checked before drawing; what is left is files that disagree with each other
                raise ScenarioError(folder, "(report)", f"cannot draw the {label.lower()} section: its files do not "
                                    "fit together (hand-edited, or from different runs?)") from None
            bodies.append(body)
            metas.append(meta)
            images += n
    scenarios = list(dict.fromkeys(str(m["scenario"]) for m in metas if m.get("scenario")))
    seeds = list(dict.fromkeys(str(m["seed"]) for m in metas if m.get("seed") is not None))
    versions = list(dict.fromkeys(str(m["version"]) for m in metas if m.get("version")))
    title = f"sim report: {', '.join(scenarios) or folder.name}"
    nav = " ".join(f'<a href="#{key}">{label}</a>' for key, label, _ in SECTIONS if found[key])
    notes = "".join(f'<p class="note">Not shown: {html.escape(n)}.</p>' for n in incomplete_files(folder))
    header = meta_table([
        ("folder", folder.resolve().name), ("scenario", ", ".join(scenarios) or "not recorded"),
        ("seed", ", ".join(seeds) or "not recorded"), ("sim version", ", ".join(versions) or "not recorded"),
        ("report written by", f"sim {package_version()}"),
    ])
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
{header}
<nav>{nav}</nav>
{notes}
{''.join(bodies)}
<footer>Written by sim {html.escape(package_version())} from the files in this folder; {images} figure{"" if images == 1 else "s"}.
Self-contained: figures are embedded PNG images, styles inline.</footer>
</body>
</html>
"""
    return document, images


def write_report(folder: str | Path) -> Path:
    """Write FOLDER/report.html (whole or not at all) for the outputs the folder holds; returns its path.

    Raises ScenarioError when the folder holds no sim outputs or a file is damaged (then nothing is
    written), and OutputError (one) when another sim command is writing the folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(folder, "(report)", "not a folder" if folder.exists() else "no such folder")
    with output_lock(folder):  # no sim command writes the folder while it is read, and a killed write is finished
        document, _ = render_report(folder)
        return write_files(folder, {REPORT_NAME: document})[0]
