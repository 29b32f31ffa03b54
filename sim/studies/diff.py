"""Two results side by side (`sim diff A B`): the per-year figures and the runs matched by name.

One tidy table, `section, key, column, a, b, ratio`, one row per value compared:

- `scenario`: key `-`, columns `name`, `seed`, `version` (what A and B are);
- `yearly`: key the year, columns those of the per-year table (sim/outputs/tables.py `yearly`: largest
  run to date, power online, installed GPUs, delivered H100e, energy, ...);
- `runs`: key the run's name, columns `flop`, `gpus`, `start`, `end`, `status`; a run on one side only
  has status `absent` on the other and its other values empty.

`ratio` is b / a for numbers (empty when a is 0 or either is missing, and for dates and text). Dates
are compared as ISO days, whether the tables hold text or datetime64.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from sim.outputs.tables import Result

DIFF_COLUMNS = ["section", "key", "column", "a", "b", "ratio"]
RUN_COLUMNS = ["flop", "gpus", "start", "end", "status"]
RUN_DATES = ("start", "end")
ABSENT = "absent"  # a run's status on the side that has no run of its name


def ratio(a: Any, b: Any) -> float:
    """b / a for two finite numbers with a != 0, else NaN."""
    numbers = [x for x in (a, b) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)]
    return float(b) / float(a) if len(numbers) == 2 and a != 0 else math.nan


def yearly_rows(result: Result) -> pd.DataFrame:
    """The per-year table of a result: its summary's `years`, or computed from its tables."""
    years = result.summary.get("years") if isinstance(result.summary, dict) else None
    if years:
        return pd.DataFrame(years)
    from sim.outputs.tables import yearly

    return yearly(result.timeseries, result.runs, result.frontier)


def _iso_days(column: pd.Series) -> pd.Series:
    """Dates as YYYY-MM-DD text (empty where there is none), from text or datetime64."""
    days = pd.to_datetime(column, errors="coerce")
    return days.dt.strftime("%Y-%m-%d").where(days.notna(), "")


def _plain(value: Any) -> Any:
    """A numpy number as a Python one; a missing value as None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _run_table(result: Result) -> pd.DataFrame:
    runs = result.runs.drop_duplicates("run").set_index("run")
    table = pd.DataFrame(index=runs.index)
    for column in RUN_COLUMNS:
        values = runs[column] if column in runs else pd.Series(None, index=runs.index, dtype=object)
        table[column] = _iso_days(values) if column in RUN_DATES else values
    return table


def diff(a: Result, b: Result) -> pd.DataFrame:
    """The tidy comparison of two results (the module's docstring says its rows)."""
    rows: list[tuple] = []

    def add(section: str, key: str, column: str, x: Any, y: Any) -> None:
        x, y = _plain(x), _plain(y)
        rows.append((section, key, column, x, y, ratio(x, y)))

    add("scenario", "-", "name", a.scenario_name, b.scenario_name)
    add("scenario", "-", "seed", a.seed, b.seed)
    add("scenario", "-", "version", a.summary.get("version"), b.summary.get("version"))

    years_a, years_b = yearly_rows(a).set_index("year"), yearly_rows(b).set_index("year")
    columns = [c for c in years_a.columns if c in years_b.columns] + [c for c in years_b.columns if c not in years_a]
    for column in columns:
        for year in sorted(set(years_a.index) | set(years_b.index)):
            x = years_a.at[year, column] if year in years_a.index and column in years_a else None
            y = years_b.at[year, column] if year in years_b.index and column in years_b else None
            add("yearly", str(int(year)), column, x, y)

    runs_a, runs_b = _run_table(a), _run_table(b)
    names = list(runs_a.index) + [name for name in runs_b.index if name not in runs_a.index]
    for name in names:
        for column in RUN_COLUMNS:
            x = runs_a.at[name, column] if name in runs_a.index else (ABSENT if column == "status" else None)
            y = runs_b.at[name, column] if name in runs_b.index else (ABSENT if column == "status" else None)
            add("runs", str(name), column, x, y)
    return pd.DataFrame(rows, columns=DIFF_COLUMNS)


def _number(value: Any) -> str:
    """A value for the terminal: 3 significant digits, whole numbers below 10 million in full, '-' for none."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) and abs(value) < 10_000_000:
        return f"{value:,}"
    return f"{value:.3g}"


def _ratio_text(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"x{value:.3g}"


def _columns(rows: list[list[str]]) -> list[str]:
    """Rows of cells as aligned lines: the first column left, the rest right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            .rstrip() for row in rows]


def format_diff(table: pd.DataFrame) -> str:
    """The comparison for a terminal: the per-year figures (A, B, B/A by year) and the runs side by side."""
    names = table[(table["section"] == "scenario") & (table["column"] == "name")]
    a_name, b_name = (names["a"].iloc[0], names["b"].iloc[0]) if len(names) else ("A", "B")
    lines = [f"A = {a_name}, B = {b_name}", ""]
    yearly = table[table["section"] == "yearly"]
    if len(yearly):
        years = list(dict.fromkeys(yearly["key"]))
        rows = [["per year", "", *years]]
        for column, group in yearly.groupby("column", sort=False):
            by_year = group.set_index("key")
            for side, label in (("a", "A"), ("b", "B"), ("ratio", "B/A")):
                cells = [by_year.at[y, side] if y in by_year.index else None for y in years]
                text = [_ratio_text(c) if side == "ratio" else _number(_plain(c)) for c in cells]
                rows.append([column if side == "a" else "", label, *text])
        lines += _columns(rows)
    runs = table[table["section"] == "runs"]
    if len(runs):
        cell = runs.set_index(["key", "column"])
        rows = [["run", "status A -> B", "start A -> B", "flop A -> B", "B/A", "gpus A -> B", "B/A"]]
        for name in dict.fromkeys(runs["key"]):
            def pair(column: str, name: str = name) -> str:
                a, b = cell.at[(name, column), "a"], cell.at[(name, column), "b"]
                return f"{_number(_plain(a))} -> {_number(_plain(b))}"
            rows.append([name, pair("status"), pair("start"), pair("flop"),
                         _ratio_text(cell.at[(name, "flop"), "ratio"]),
                         pair("gpus"), _ratio_text(cell.at[(name, "gpus"), "ratio"])])
        lines += ["", *_columns(rows)]
    return "\n".join(lines)
