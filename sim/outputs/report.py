"""One self-contained HTML report of an output folder: `sim report DIR` writes DIR/report.html.

The folder may hold any combination of
    a run          runs.csv, timeseries.csv, frontier.csv, summary.json   (sim run)
    a comparison   compare.csv [+ compare.json]                           (sim compare)
    a sweep        bands.csv, thresholds.csv [+ sweep.json, replications.csv]   (sim sweep)
    a tornado      tornado.csv [+ tornado.json]                           (sim sensitivity)
and the report has a section for each. Figures are embedded as base64 PNG data URIs and the styles
are inline: the file needs nothing else, no network, no other files.

Every file is checked before anything is drawn, and a damaged or hand-edited folder is refused with
one line naming the file and what is wrong (`DIR/runs.csv: line 4, column flop: should be a number
(got "lots")`), writing nothing: a file that is empty, binary, not UTF-8 or larger than
MAX_INPUT_BYTES; a CSV file with a row of more or fewer fields than its header (cut short), a column
named twice or missing, a word or an infinity in a number column, a date that is not YYYY-MM-DD (in
1900-2199), nothing in a column sim always fills; invalid JSON, a summary.json missing a key or with
a value of the wrong type; runs.csv and summary.json disagreeing on the number of runs. (A file cut
inside its last field cannot be told from a whole one.) The report reads and writes under the
folder's lock (sim.outputs.files), so it never reads a folder another sim command is writing, and a
killed write is finished before it reads.
"""
from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import importlib
import io
import json
import math
import numbers
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import data, metrics
from sim.config.errors import ScenarioError
from sim.outputs.files import OutputError, output_lock, write_files
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

RUN_FILES = ("runs.csv", "timeseries.csv", "frontier.csv", "summary.json")
SWEEP_FILES = ("bands.csv", "thresholds.csv")
REQUIRED_COLUMNS = {
    "replications.csv": ["replication", "seed", "largest_run_flop"],
    "runs.csv": ["run", "lab", "start", "end", "gpus", "gpu_type", "flop", "mfu", "binding_constraint", "status"],
    "timeseries.csv": ["date", "entity", "metric", "value"],
    "frontier.csv": ["date", "constraint", "max_flop", "binding_constraint"],
    "compare.csv": ["topology", "run", "flop", "mfu", "status"],
    "bands.csv": ["date", "metric", "p10", "p50", "p90"],
    "thresholds.csv": ["threshold_flop", "replications"],
    "tornado.csv": ["input", "low_value", "high_value", "output_at_low", "output_at_high", "output_at_median", "swing"],
}
KNOWN = ("a run (runs.csv, timeseries.csv, frontier.csv, summary.json), compare.csv, "
         "a sweep (bands.csv, thresholds.csv) or tornado.csv")

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


# ---------------------------------------------------------------------------------------------- reading

# Each file is read whole into memory, checked, and only then drawn: a damaged or hand-edited file
# is refused with one line naming the file, the line and the column, before any figure is made.
MAX_INPUT_BYTES = 512 * 2**20  # a larger file is refused unread

# What each known column holds: text, number or date (YYYY-MM-DD); "?" where it may be empty.
# Columns not listed here are shown as they are.
COLUMN_KINDS: dict[str, dict[str, str]] = {
    "runs.csv": {"run": "text", "lab": "text", "start": "date?", "end": "date?", "gpus": "number",
                 "gpu_type": "text?", "sites": "text?", "flop": "number", "mfu": "number",
                 "binding_constraint": "text?", "goodput": "number?", "interruptions": "number?",
                 "step_time_s": "number?", "comm_fraction": "number?", "params": "number?", "status": "text",
                 "duration_days": "number?", "h100e": "number?", "peak_flop_s": "number?", "precision": "text?",
                 "chips_alone_gpus": "number?", "power_alone_gpus": "number?", "disrupted_days": "number?",
                 "stalled_days": "number?"},
    "timeseries.csv": {"date": "date", "entity": "text", "kind": "text?", "metric": "text", "value": "number?",
                       "unit": "text?"},
    "frontier.csv": {"date": "date", "constraint": "text", "max_flop": "number?", "h100e": "number?", "lab": "text?",
                     "binding_constraint": "text?"},
    "compare.csv": {"topology": "text", "run": "text", "flop": "number?", "mfu": "number?", "status": "text?",
                    "gpus": "number?", "goodput": "number?"},
    "bands.csv": {"date": "date", "metric": "text", "p10": "number?", "p50": "number?", "p90": "number?",
                  "mean": "number?"},
    "thresholds.csv": {"threshold_flop": "number", "replications": "number"},
    "replications.csv": {"replication": "number", "seed": "number", "largest_run_flop": "number?"},
    "tornado.csv": {"input": "text", "low_value": "number", "high_value": "number", "output_at_low": "number",
                    "output_at_high": "number", "output_at_median": "number", "swing": "number"},
}
PATTERN_KINDS: dict[str, list[tuple[re.Pattern, str]]] = {"thresholds.csv": [(re.compile(r"p_by_\d{4}"), "number?")]}
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
FIRST_YEAR, LAST_YEAR = 1900, 2199  # the dates a report draws (a simulation's calendar is far inside)
DATE_RANGE = f"between {FIRST_YEAR} and {LAST_YEAR}"

# What the report reads from each JSON file: key -> kind ("?" where null is allowed); REQUIRED_KEYS
# must be there.
JSON_KINDS: dict[str, dict[str, str]] = {
    "summary.json": {"scenario": "text", "seed": "int", "version": "text", "start_date": "date", "end_date": "date",
                     "events_processed": "count", "runs": "count", "runs_completed": "count",
                     "largest_run_completed": "run?", "largest_run_started": "run?", "years": "objects",
                     "disruptions": "objects"},
    "compare.json": {"scenario": "text", "seed": "int", "version": "text", "topologies": "texts",
                     "overrides": "texts"},
    "tornado.json": {"scenario": "text", "seed": "int", "version": "text", "overrides": "texts", "output": "text"},
    "sweep.json": {"scenario": "text?", "root_seed": "int", "n": "count", "overrides": "texts", "grid": "grid"},
}
REQUIRED_KEYS = {"summary.json": ("scenario", "seed", "start_date", "end_date", "runs", "runs_completed",
                                  "largest_run_completed", "years")}
RUN_BRIEF_KINDS = {"run": "text", "lab": "text", "start": "text", "end": "text", "gpus": "count", "gpu_type": "text",
                   "flop": "number", "binding_constraint": "text"}


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def _show(value: Any) -> str:
    """A value from a file, quoted and shortened for an error line."""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return f'"{text[:40]}..."' if len(text) > 40 else f'"{text}"'


def _read_text(path: Path) -> str:
    """A file's text, refused if it is too large, empty, binary or not UTF-8."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(MAX_INPUT_BYTES + 1) if size <= MAX_INPUT_BYTES else b""
    except OSError as exc:
        raise OutputError(path, f"cannot be read: {exc.strerror or exc}") from None
    if max(size, len(data)) > MAX_INPUT_BYTES:  # (a file that grew while read is refused too)
        raise OutputError(path, f"is too large to report on ({_mb(max(size, len(data)))}; "
                          f"the limit is {_mb(MAX_INPUT_BYTES)})")
    if not data.strip():
        raise OutputError(path, "is empty")
    if b"\0" in data:
        raise OutputError(path, "is not a text file (it holds binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OutputError(path, f"is not UTF-8 text (byte {exc.start + 1} cannot be read)") from None


def _record_lines(path: Path, text: str) -> list[int]:
    """The line each data record of a CSV file starts on; refuses a header naming a column twice and
    records with more or fewer fields than the header (a file cut short)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: list[int] = []
    try:
        header = next(reader)
        seen: set[str] = set()
        for name in header:
            if name in seen:
                raise OutputError(path, f"the header names column {name} twice", where="line 1")
            seen.add(name)
        width, end = len(header), reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num
            if not row:
                continue
            if len(row) != width:
                last = end == text.count("\n") + (0 if text.endswith("\n") else 1)
                cut = last and not text.endswith("\n") and len(row) < width
                problem = (f"is cut short: its last line has {len(row)} of the header's {width} fields" if cut
                           else f"has {len(row)} fields; the header has {width}")
                raise OutputError(path, problem, where=f"line {start}")
            lines.append(start)
    except csv.Error as exc:
        raise OutputError(path, f"cannot be read as CSV ({exc})", where=f"line {reader.line_num}") from None
    return lines


def _raw_field(text: str, line: int, column: int) -> str:
    """The field as written in the file (for an error line), or empty if it cannot be found."""
    try:
        row = next(csv.reader([text.splitlines()[line - 1]]))
        return row[column]
    except (IndexError, StopIteration, csv.Error):
        return ""


def _column_kind(name: str, column: str) -> str | None:
    kind = COLUMN_KINDS.get(name, {}).get(column)
    if kind is None:
        kind = next((k for pattern, k in PATTERN_KINDS.get(name, []) if pattern.fullmatch(column)), None)
    return kind


def _check_columns(path: Path, name: str, table: pd.DataFrame, text: str, lines: list[int]) -> None:
    """Each known column holds what it should: text, numbers or dates, and nothing empty where sim
    always writes a value."""
    def line(i: int) -> int:
        return lines[i] if len(lines) == len(table) else i + 2

    for index, column in enumerate(table.columns):
        kind = _column_kind(name, str(column))
        if kind is None:
            continue
        values = table[column]
        blank = values.isna().to_numpy()
        if not kind.endswith("?") and blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise OutputError(path, "is empty", where=f"line {line(i)}, column {column}")
        base = kind.rstrip("?")
        if base == "number":
            if pd.api.types.is_bool_dtype(values):
                numbers = np.full(len(values), np.nan)  # true or false: not a number
            else:
                numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(numbers) & ~blank  # a word, or an infinity
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                what = "a number" if np.isnan(numbers[i]) else "a finite number"
                raise OutputError(path, f"should be {what} (got {_show(_raw_field(text, line(i), index))})",
                                  where=f"line {line(i)}, column {column}")
        elif base == "date":
            written = values[~blank]
            good = {v for v in pd.unique(written) if isinstance(v, str) and _DATE.fullmatch(v) and _is_date(v)}
            ok = written.isin(good).to_numpy(dtype=bool)
            if not ok.all():
                i = int(np.flatnonzero(~blank)[np.flatnonzero(~ok)[0]])
                raise OutputError(path, f"should be a date written YYYY-MM-DD, {DATE_RANGE} "
                                  f"(got {_show(_raw_field(text, line(i), index))})",
                                  where=f"line {line(i)}, column {column}")


def _read_csv(folder: Path, name: str) -> pd.DataFrame:
    """A CSV file sim wrote, checked: readable, whole, with the columns sim writes holding what they should."""
    path = folder / name
    text = _read_text(path)
    lines = _record_lines(path, text)
    try:
        table = pd.read_csv(io.StringIO(text), keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise OutputError(path, f"cannot be read as CSV ({str(exc).splitlines()[0] if str(exc) else 'damaged'})") from None
    missing = [c for c in REQUIRED_COLUMNS.get(name, []) if c not in table.columns]
    if missing:
        raise ScenarioError(path, "(report)", f"not a sim {name}: no column {', '.join(missing)}")
    _check_columns(path, name, table, text, lines)
    return table


def _kind_problem(value: Any, kind: str) -> str | None:
    """What is wrong with a JSON value for its kind, or None."""
    if value is None:
        return None if kind.endswith("?") else "should not be null"
    base = kind.rstrip("?")
    whole = isinstance(value, int) and not isinstance(value, bool)
    if base == "text" and not isinstance(value, str):
        return "should be text"
    if base == "int" and not whole:
        return "should be a whole number"
    if base == "count" and not (whole and value >= 0):
        return "should be a whole number, 0 or more"
    if base == "number" and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                 and math.isfinite(value)):
        return "should be a number"
    if base == "date" and not (isinstance(value, str) and _DATE.fullmatch(value) and _is_date(value)):
        return f"should be a date written YYYY-MM-DD, {DATE_RANGE}"
    if base == "texts" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return "should be a list of text"
    if base == "objects" and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
        return "should be a list of objects"
    if base == "run" and not isinstance(value, dict):
        return "should be an object (a run) or null"
    if base == "grid" and not (isinstance(value, list) and all(
            isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], list) for v in value)):
        return "should be a list of [key, values] pairs"
    return None


def _is_date(text: str) -> bool:
    """A calendar date YYYY-MM-DD in the years a simulation can cover."""
    try:
        when = dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        return False
    return FIRST_YEAR <= when.year <= LAST_YEAR


def _check_keys(path: Path, name: str, data: dict) -> None:
    for key in REQUIRED_KEYS.get(name, ()):
        if key not in data:
            raise OutputError(path, "required key is missing", where=key)
    for key, kind in JSON_KINDS.get(name, {}).items():
        if key not in data:
            continue
        problem = _kind_problem(data[key], kind)
        if problem:
            raise OutputError(path, f"{problem} (got {_show(data[key])})", where=key)
        if kind.rstrip("?") == "run" and data[key] is not None:
            for sub, sub_kind in RUN_BRIEF_KINDS.items():
                if sub not in data[key]:
                    raise OutputError(path, "required key is missing", where=f"{key}.{sub}")
                problem = _kind_problem(data[key][sub], sub_kind)
                if problem:
                    raise OutputError(path, f"{problem} (got {_show(data[key][sub])})", where=f"{key}.{sub}")


def _read_json(folder: Path, name: str, required: bool = False) -> dict | None:
    path = folder / name
    if not path.is_file():
        if required:
            raise ScenarioError(path, "(report)", f"{name} is missing")
        return None
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        what = exc.msg.removesuffix(" starting at").removesuffix(" at")
        raise OutputError(path, f"is not valid JSON ({what[:1].lower() + what[1:]})",
                          where=f"line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise OutputError(path, "is not valid JSON (nested too deeply)") from None
    except ValueError:
        raise OutputError(path, "is not valid JSON (a value in it cannot be read)") from None
    if not isinstance(data, dict):
        raise OutputError(path, "should hold a JSON object")
    _check_keys(path, name, data)
    return data


def detect(folder: str | Path) -> dict[str, bool]:
    """Which kinds of output a folder holds: {'run', 'compare', 'sweep', 'tornado'} -> bool."""
    folder = Path(folder)

    def has(name: str) -> bool:
        return (folder / name).is_file()

    return {
        "run": all(has(n) for n in RUN_FILES),
        "compare": has("compare.csv"),
        "sweep": all(has(n) for n in SWEEP_FILES),
        "tornado": has("tornado.csv"),
    }


def _incomplete(folder: Path) -> list[str]:
    """Notes on sets of files found only in part (e.g. runs.csv without summary.json)."""
    notes = []
    for kind, names in (("run", RUN_FILES), ("sweep", SWEEP_FILES)):
        present = [n for n in names if (folder / n).is_file()]
        if present and len(present) < len(names):
            missing = [n for n in names if n not in present]
            notes.append(f"{', '.join(present)} without {', '.join(missing)} (a {kind} needs all of "
                         f"{', '.join(names)})")
    return notes


# ---------------------------------------------------------------------------------------------- sections

def _scenario_label(name: str | None) -> str:
    return name if name else "baseline (shipped)"


def run_section(folder: Path) -> tuple[str, dict, int]:
    summary = _read_json(folder, "summary.json", required=True)
    runs = _read_csv(folder, "runs.csv")
    timeseries = _read_csv(folder, "timeseries.csv")
    frontier = _read_csv(folder, "frontier.csv")
    if summary["runs"] != len(runs):
        raise OutputError(folder / "runs.csv", f"has {len(runs)} runs but summary.json says {summary['runs']} "
                          "(a file is cut short, or the files are from different runs)")
    meta = {"scenario": summary.get("scenario"), "seed": summary.get("seed"), "version": summary.get("version")}
    parts = ['<section id="run"><h2>Run</h2>']
    parts.append(meta_table([
        ("scenario", summary.get("scenario")), ("seed", summary.get("seed")), ("sim version", summary.get("version")),
        ("horizon", f"{summary.get('start_date', '?')} to {summary.get('end_date', '?')}"),
        ("runs", f"{summary.get('runs_completed', '?')} of {summary.get('runs', '?')} completed"),
        ("SimPy events", format_value("events", summary.get("events_processed"))),
    ]))
    best = summary.get("largest_run_completed")
    if best:
        parts.append(f"<p><b>Largest completed run:</b> {html.escape(str(best['run']))} "
                     f"({html.escape(str(best['lab']))}), {plots.sci(float(best['flop']))} FLOP on "
                     f"{int(best['gpus']):,} x {html.escape(str(best['gpu_type']))}, {html.escape(str(best['start']))} "
                     f"to {html.escape(str(best['end']))}, bound by {html.escape(str(best['binding_constraint']))}.</p>")
    years = pd.DataFrame(summary.get("years") or [])
    if len(years):
        years = years.rename(columns={
            "gpus_delivered_h100e": "H100e delivered in year", "power_online_gw": "firm power online, GW (year end)",
            "installed_gpus": "GPUs installed (year end)", "installed_h100e": "H100e installed (year end)",
            "largest_run_flop": "largest run completed in year, FLOP", "frontier_max_flop": "frontier max, FLOP"})
        parts.append("<h3>Per year</h3>" + html_table(years))
    images = 0
    parts.append(figure_html(plots.buildout(timeseries, runs, summary.get("h100e_per_gpu")), "GPUs installed by product in H100-equivalents "
                             "(stacked); the world's firm power online, available and drawn; power drawn and GPUs "
                             "installed per site. Monthly.", "buildout"))
    parts.append(figure_html(plots.frontier(frontier), "The largest run any lab could start each month under each "
                             "constraint alone and combined; the wide band marks the constraint that binds. Diamonds: "
                             "Epoch AI's 2030 medians (Can AI Scaling Continue Through 2030?, 2024); the bar: its "
                             "inter-DC bandwidth range.", "frontier"))
    parts.append(figure_html(plots.runs_timeline(runs, summary.get("end_date")), "Planned training runs, start to end, "
                             "coloured by lab; hatched: not completed within the horizon.", "training runs"))
    images += 3
    shown = [c for c in ["run", "lab", "status", "start", "end", "gpus", "gpu_type", "sites", "flop", "mfu", "goodput",
                         "binding_constraint", "params", "step_time_s", "comm_fraction", "interruptions",
                         "disrupted_days", "stalled_days"] if c in runs.columns]
    parts.append("<h3>Training runs</h3>" + html_table(runs[shown]))
    parts.append(details("All columns of runs.csv", html_table(runs)))
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
    info = _read_json(folder, json_name) or {}
    return info, {"scenario": info.get("scenario"), "seed": info.get("seed"), "version": info.get("version")}


def _study_rows(info: dict, json_name: str, extra: tuple[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("scenario", info.get("scenario", f"not recorded (no {json_name})")),
        ("seed", info.get("seed", "not recorded")), ("sim version", info.get("version")),
        extra,
        ("overrides", " ".join(info.get("overrides") or []) or None),
    ]


def compare_section(folder: Path) -> tuple[str, dict, int]:
    table = _read_csv(folder, "compare.csv")
    info, meta = _study_info(folder, "compare.json")
    parts = ['<section id="compare"><h2>Topology comparison</h2>']
    parts.append(meta_table(_study_rows(info, "compare.json",
                                        ("topologies", ", ".join(dict.fromkeys(str(t) for t in table["topology"]))))))
    parts.append(figure_html(study_plots.topology_comparison(table), "The same buildout on each topology: FLOP trained "
                             "and MFU per run.", "topology comparison"))
    parts.append(html_table(table))
    parts.append("</section>")
    return "".join(parts), meta, 1


def sweep_section(folder: Path) -> tuple[str, dict, int]:
    bands = _read_csv(folder, "bands.csv")
    thresholds = _read_csv(folder, "thresholds.csv")
    spec = _read_json(folder, "sweep.json") or {}
    meta = {"scenario": _scenario_label(spec.get("scenario")) if spec else None, "seed": spec.get("root_seed"),
            "version": None}
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
        reps = _read_csv(folder, "replications.csv")
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
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else ("0" if v == 0 else plots.sci(float(v)))


def tornado_section(folder: Path) -> tuple[str, dict, int]:
    table = _read_csv(folder, "tornado.csv")
    info, meta = _study_info(folder, "tornado.json")
    parts = ['<section id="tornado"><h2>Sensitivity (tornado)</h2>']
    parts.append(meta_table(_study_rows(info, "tornado.json",
                                        ("output", info.get("output", "largest completed run, FLOP")))))
    parts.append(figure_html(study_plots.tornado(table), "Each uncertain input at its p10 and at its p90, the others at "
                             "their medians; largest swing on top.", "tornado"))
    parts.append(html_table(table, {c: _flop for c in ("output_at_low", "output_at_high", "output_at_median", "swing")}))
    parts.append("</section>")
    return "".join(parts), meta, 1


SECTIONS = (("run", "Run", run_section), ("compare", "Topology comparison", compare_section),
            ("sweep", "Monte Carlo sweep", sweep_section), ("tornado", "Sensitivity", tornado_section))


# ---------------------------------------------------------------------------------------------- the report

def render_report(folder: str | Path) -> tuple[str, int]:
    """The report's HTML for a folder of outputs, and how many figures it embeds."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(folder, "(report)", "no such folder")
    found = detect(folder)
    if not any(found.values()):
        partial = _incomplete(folder)
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
    notes = "".join(f'<p class="note">Not shown: {html.escape(n)}.</p>' for n in _incomplete(folder))
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
