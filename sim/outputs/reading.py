"""Reading an output folder back, checking every file first: what `sim report` draws from.

Each file is read whole and checked before anything is drawn; a damaged or hand-edited file is refused
(OutputError: one line naming the file, the line and the column): a file that is empty, binary, not
UTF-8 or larger than MAX_INPUT_BYTES; a CSV row with more or fewer fields than its header (cut short),
a column named twice or missing, a word or an infinity in a number column, a date that is not
YYYY-MM-DD (in 1900-2199), nothing in a column sim always fills; invalid JSON, a summary.json missing
a key or with a value of the wrong type; runs.csv and summary.json disagreeing on the number of runs.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config.errors import ScenarioError
from sim.outputs.files import OutputError

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
    "morris.csv": ["input", "mu_star", "mu_star_conf", "sigma", "mu"],
    "sobol.csv": ["input", "S1", "S1_conf", "ST", "ST_conf"],
}


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
    "morris.csv": {"input": "text", "mu_star": "number", "mu_star_conf": "number?", "sigma": "number?", "mu": "number",
                   "unit": "text?"},
    "sobol.csv": {"input": "text", "S1": "number?", "S1_conf": "number?", "ST": "number?", "ST_conf": "number?"},
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
    "morris.json": {"scenario": "text", "seed": "int", "version": "text", "overrides": "texts", "output": "text"},
    "sobol.json": {"scenario": "text", "seed": "int", "version": "text", "overrides": "texts", "output": "text"},
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


def read_csv(folder: Path, name: str) -> pd.DataFrame:
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


def read_json(folder: Path, name: str, required: bool = False) -> dict | None:
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
    """Which kinds of output a folder holds: {'run', 'compare', 'sweep', 'tornado', 'screening'} -> bool."""
    folder = Path(folder)

    def has(name: str) -> bool:
        return (folder / name).is_file()

    return {
        "run": all(has(n) for n in RUN_FILES),
        "compare": has("compare.csv"),
        "sweep": all(has(n) for n in SWEEP_FILES),
        "tornado": has("tornado.csv"),
        "screening": has("morris.csv") or has("sobol.csv"),
    }


def incomplete_files(folder: Path) -> list[str]:
    """Notes on sets of files found only in part (e.g. runs.csv without summary.json)."""
    notes = []
    for kind, names in (("run", RUN_FILES), ("sweep", SWEEP_FILES)):
        present = [n for n in names if (folder / n).is_file()]
        if present and len(present) < len(names):
            missing = [n for n in names if n not in present]
            notes.append(f"{', '.join(present)} without {', '.join(missing)} (a {kind} needs all of "
                         f"{', '.join(names)})")
    return notes
