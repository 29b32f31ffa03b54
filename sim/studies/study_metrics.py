"""The outputs a sensitivity study can rank inputs by (`sim sensitivity --metric NAME`): one number
read from one simulation's Result, with its unit.

Kept free of numpy and pandas imports at the top: the command line lists the names in its `--help`
without loading them (tests/test_cli.py).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from sim.outputs.tables import Result

METRIC_YEAR = 2030  # the year the *_2030 metrics read (Epoch AI's horizon, "Can AI Scaling Continue Through 2030?", 2024)


@dataclass(frozen=True)
class StudyMetric:
    """One output of a simulation a sensitivity study ranks inputs by."""

    name: str
    unit: str
    description: str  # what it is, in words (the study's json `output`)
    read: Callable[[Result], float]
    year: int | None = None  # the calendar year it reads, which the scenario's horizon must cover


def largest_run_flop(result: Result) -> float:
    """The largest completed training run over the whole horizon, FLOP (0 when none completed)."""
    runs = result.runs
    done = runs[runs["status"] == "completed"]
    return float(done["flop"].max()) if len(done) else 0.0


def _year_row(result: Result, year: int) -> dict:
    """summary.json's `years` row of `year` (sim.outputs.tables.yearly); KeyError if not simulated."""
    for row in result.summary.get("years", []):
        if int(row["year"]) == year:
            return row
    raise KeyError(f"the run does not cover {year}")


def power_online_gw_2030(result: Result) -> float:
    """Firm power online for AI at the end of 2030 (the world's, all sites), GW."""
    return float(_year_row(result, METRIC_YEAR)["power_online_gw"])


def installed_h100e_2030(result: Result) -> float:
    """Accelerators installed at the end of 2030, in H100-equivalents."""
    return float(_year_row(result, METRIC_YEAR)["installed_h100e"])


def frontier_combined_flop_2030(result: Result) -> float:
    """The largest run any lab could start in 2030 under every constraint combined (the frontier's
    best month of the year), FLOP."""
    return float(_year_row(result, METRIC_YEAR)["frontier_max_flop"])


def inference_share_2030(result: Result) -> float:
    """The compute ledger over 2030, all labs: FLOP held serving inference over FLOP held by any use
    (installed peak x time, idle left out). A ledger sample covers the month up to its date, so the
    samples of 2030 are those whose previous day is in 2030 (as sim.outputs.tables.yearly counts energy)."""
    import pandas as pd  # here, not at the top: the command line reads METRICS without pandas

    ts = result.timeseries
    ledger = ts[(ts["kind"] == "lab") & ts["metric"].isin(["flop_inference", "flop_available", "flop_idle"])]
    covered = pd.to_datetime(ledger["date"]) - pd.Timedelta(days=1)  # dates as text or as datetimes
    in_year = ledger[(covered.dt.year == METRIC_YEAR).to_numpy()]
    totals = in_year.groupby(in_year["metric"].astype(str))["value"].sum()
    used = float(totals.get("flop_available", 0.0)) - float(totals.get("flop_idle", 0.0))
    return float(totals.get("flop_inference", 0.0)) / used if used > 0 else 0.0


METRICS: dict[str, StudyMetric] = {m.name: m for m in (
    StudyMetric("largest_run_flop", "FLOP", "largest completed run, FLOP", largest_run_flop),
    StudyMetric("power_online_gw_2030", "GW", "firm power online at the end of 2030, GW", power_online_gw_2030,
                METRIC_YEAR),
    StudyMetric("installed_h100e_2030", "H100e", "accelerators installed at the end of 2030, H100-equivalents",
                installed_h100e_2030, METRIC_YEAR),
    StudyMetric("frontier_combined_flop_2030", "FLOP", "largest run any lab could start in 2030, all constraints "
                "combined, FLOP", frontier_combined_flop_2030, METRIC_YEAR),
    StudyMetric("inference_share_2030", "fraction", "share of the compute used in 2030 that served inference "
                "(ledger, all labs), fraction", inference_share_2030, METRIC_YEAR),
)}
DEFAULT_METRIC = "largest_run_flop"


def metric_value(name: str, result: Result) -> float:
    """The metric `name` of one simulation's Result."""
    return METRICS[name].read(result)


def horizon_problem(name: str, start: dt.date, end: dt.date) -> str | None:
    """Why metric `name` cannot be read from a scenario running `start` to `end` (the year it reads
    is not wholly inside the horizon), or None. Checked before any run starts."""
    metric = METRICS[name]
    if metric.year is None or start.year <= metric.year and end >= dt.date(metric.year, 12, 31):
        return None
    return (f"{name} reads the whole of {metric.year}, but the scenario runs {start.isoformat()} to "
            f"{end.isoformat()}")
