"""Results as tidy tables (runs, timeseries, frontier) and the summary, built from what the world's
probes recorded and nothing else: no physics and no disruption rule is recomputed here.

Timeseries rows gain their unit from the metrics registry (sim/metrics.py). The tables are built as the
files hold them (ISO date text, lists ";"-joined), the summary from those; the Result holds them typed
(`typed_table`: datetime64, lists, categoricals) and writes them back as the same text (`text_table`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim import metrics
from sim.config.schedule import to_date
from sim.outputs.answer import build_answer
from sim.outputs.files import write_files
from sim.version import package_version

if TYPE_CHECKING:  # pragma: no cover
    from sim.world.assembly import World

RUN_COLUMNS = [
    "run", "lab", "start", "end", "gpus", "gpu_type", "sites", "flop", "mfu", "binding_constraint",
    "goodput", "interruptions", "step_time_s", "comm_fraction", "params",
    "status", "duration_days", "h100e", "peak_flop_s", "precision", "chips_alone_gpus", "power_alone_gpus",
    "disrupted_days", "stalled_days", "planned_by", "gpu_types",
    "cluster_capex_usd", "amortized_cost_usd", "energy_mwh", "usd_per_flop", "kind",
]
BUILDOUT_COLUMNS = ["name", "lab", "kind", "type", "region", "mw", "start", "online", "planned_by", "capex_usd"]
FLOAT_FORMAT = "%.10g"


DATE_FORMAT = "%Y-%m-%d"  # dates in the files: ISO; a missing date is an empty field
DATE_DTYPE = "datetime64[us]"  # what pandas parses ISO dates into; [us] spans any calendar year a scenario can have
LIST_SEPARATOR = ";"  # a list of names in the files: the names joined
TABLES = ("runs", "timeseries", "frontier", "buildout")
# In memory (Result) the tables are typed: dates are datetime64 (NaT for none), lists of names are Python
# lists, names are categoricals. The files hold them as text (Result.files). Which column is which:
DATE_COLUMNS = {"runs": ("start", "end"), "timeseries": ("date",), "frontier": ("date",),
                "buildout": ("start", "online")}
LIST_COLUMNS = {"runs": ("sites", "gpu_types")}
CATEGORY_COLUMNS = {
    "runs": ("lab", "kind", "gpu_type", "status", "binding_constraint", "planned_by", "precision"),
    "timeseries": ("entity", "kind", "metric", "unit"),
    "frontier": ("constraint", "lab", "binding_constraint"),
    "buildout": ("lab", "kind", "type", "region", "planned_by"),
}


def typed_table(name: str, text: pd.DataFrame) -> pd.DataFrame:
    """Table `name` ("runs", "timeseries", ...) as the files hold it (ISO date strings, "" for none,
    ";"-joined lists) with typed columns: datetime64 dates, lists, categoricals."""
    table = text.copy()
    for col in DATE_COLUMNS.get(name, ()):
        if col in table and not pd.api.types.is_datetime64_any_dtype(table[col]):
            values = table[col]
            table[col] = pd.to_datetime(values.where(values != ""), format=DATE_FORMAT).astype(DATE_DTYPE)
    for col in LIST_COLUMNS.get(name, ()):
        if col in table:
            table[col] = pd.Series([v.split(LIST_SEPARATOR) if isinstance(v, str) and v else
                                    (list(v) if isinstance(v, (list, tuple, np.ndarray)) else [])
                                    for v in table[col]], index=table.index, dtype=object)
    for col in CATEGORY_COLUMNS.get(name, ()):
        if col in table:
            table[col] = table[col].astype("category")
    return table


def text_table(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """Table `name` as the files hold it: the inverse of `typed_table` (dates ISO, none empty; lists
    joined with ";"). Columns already text are left as they are."""
    text = table.copy()
    for col in DATE_COLUMNS.get(name, ()):
        if col in text and pd.api.types.is_datetime64_any_dtype(text[col]):
            text[col] = text[col].dt.strftime(DATE_FORMAT).astype(object).where(text[col].notna(), "")
    for col in LIST_COLUMNS.get(name, ()):
        if col in text:
            text[col] = [LIST_SEPARATOR.join(v) if isinstance(v, (list, tuple, np.ndarray)) else v for v in text[col]]
    return text


def optional_module(module: str, extra: str):
    """Import an optional dependency, or say which extra installs it (ImportError)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{module} is not installed; it comes with the {extra!r} extra: "
                          f'pip install "sim-buildout[{extra}]"') from exc


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(repr=False)
class Result:
    """What a simulation produced: four typed tables, the summary, and how it was made.

    Tables: dates datetime64 (NaT for none), runs' `sites` and `gpu_types` lists of names, names
    categorical (see DATE_COLUMNS, LIST_COLUMNS, CATEGORY_COLUMNS); `files()` writes them as text.
    """

    scenario_name: str
    seed: int
    runs: pd.DataFrame
    timeseries: pd.DataFrame
    frontier: pd.DataFrame
    summary: dict[str, Any]
    events_processed: int
    buildout: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(columns=BUILDOUT_COLUMNS))

    def __repr__(self) -> str:
        """One line: scenario, seed, table sizes and the largest completed run (the tables are big)."""
        best = self.summary.get("largest_run_completed") or {}
        done = int((self.runs["status"] == "completed").sum()) if "status" in self.runs else 0
        largest = (f"largest completed run {_short(str(best.get('run')))} {float(best.get('flop', 0.0)):.2e} FLOP"
                   f" ending {best.get('end')}" if best else "no completed run")
        return (f"<Result {_short(self.scenario_name)!r} seed {self.seed}: {len(self.runs)} runs ({done} completed), "
                f"{len(self.timeseries):,} timeseries, {len(self.frontier):,} frontier, "
                f"{len(self.buildout):,} buildout rows; {largest}>")

    def text_tables(self) -> dict[str, pd.DataFrame]:
        """The four tables as the files hold them (dates ISO text, none empty; lists ";"-joined)."""
        return {name: text_table(name, getattr(self, name)) for name in TABLES}

    def files(self) -> dict[str, str]:
        """The output files' names and exact contents."""
        def csv(df: pd.DataFrame) -> str:
            return df.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")

        files = {f"{name}.csv": csv(table) for name, table in self.text_tables().items()}
        return {**files, "summary.json": self._summary_json()}

    def _summary_json(self) -> str:
        return json.dumps(self.summary, indent=2, sort_keys=False) + "\n"

    def _repr_html_(self) -> str:
        """In a notebook: the headline, the year-by-year figures and the runs, as HTML tables."""
        best = self.summary.get("largest_run_completed") or {}
        head = (f"<p><b>{self.scenario_name}</b>, seed {self.seed}: largest completed run "
                f"{best.get('run', '-')} at {best.get('flop', 0.0):.2e} FLOP, bound by "
                f"{best.get('binding_constraint', '-')}</p>")
        years = pd.DataFrame(self.summary.get("years", []))
        cols = ["run", "lab", "start", "end", "gpus", "gpu_type", "flop", "mfu", "goodput", "binding_constraint", "status"]
        runs = text_table("runs", self.runs[[c for c in cols if c in self.runs.columns]])
        fmt = {"flop": "{:.2e}".format, "mfu": "{:.3f}".format, "goodput": "{:.3f}".format}
        return (head + years.to_html(index=False, float_format=lambda x: f"{x:,.3g}")
                + runs.to_html(index=False, formatters=fmt))

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write the five files; each appears whole or not at all."""
        return write_files(Path(out_dir), self.files())

    def to_parquet(self, out_dir: str | Path) -> list[Path]:
        """Write runs, timeseries, frontier and buildout as NAME.parquet, typed (timestamps, lists of
        strings, dictionary-encoded names), and summary.json; all whole or none (sim.outputs.files).

        Needs pyarrow (the `parquet` extra); without it, ImportError naming the extra.
        """
        optional_module("pyarrow", "parquet")
        contents: dict[str, str | bytes] = {}
        for name in TABLES:
            buffer = io.BytesIO()
            getattr(self, name).to_parquet(buffer, engine="pyarrow", index=False)
            contents[f"{name}.parquet"] = buffer.getvalue()
        contents["summary.json"] = self._summary_json()
        return write_files(Path(out_dir), contents)

    def to_xarray(self):
        """The timeseries as an xarray Dataset: one variable per metric over dims (date, entity), NaN
        where an entity does not record it; `kind` (lab, site, world, ...) is a coordinate along
        entity and each variable's `unit` is in its attrs. An entity name used by two kinds becomes
        "kind:name" for both. Needs xarray (the `xarray` extra); without it, ImportError naming it."""
        xr = optional_module("xarray", "xarray")
        ts = self.timeseries
        entity, kind = ts["entity"].astype(str), ts["kind"].astype(str)
        kinds_of = kind.groupby(entity.to_numpy()).nunique()
        clash = entity.isin(kinds_of.index[kinds_of > 1])
        entity = entity.where(~clash, kind + ":" + entity)
        long = pd.DataFrame({"date": ts["date"], "entity": entity, "metric": ts["metric"].astype(str),
                             "value": ts["value"].astype(float)})
        wide = long.set_index(["date", "entity", "metric"])["value"].unstack("metric")
        wide.columns.name = None
        ds = xr.Dataset.from_dataframe(wide)
        kind_of = dict(zip(entity, kind))
        ds = ds.assign_coords(kind=("entity", [kind_of[e] for e in ds["entity"].to_numpy()]))
        units = dict(zip(ts["metric"].astype(str), ts["unit"].astype(str)))
        for metric in ds.data_vars:
            ds[metric].attrs["unit"] = units.get(metric, "")
        ds.attrs.update({"scenario": self.scenario_name, "seed": self.seed})
        return ds


TIMESERIES_COLUMNS = ["date", "entity", "kind", "metric", "value", "unit"]
FRONTIER_COLUMNS = ["date", "constraint", "max_flop", "h100e", "lab", "binding_constraint"]


def build_result(world: "World") -> Result:
    """Turn a finished world's records into tables and a summary."""
    s = world.scenario
    order = {r.name: i for i, r in enumerate(s.runs)}
    # the scenario's runs in its order, then the policy's by start date and name
    records = sorted(world.training.records,
                     key=lambda r: (0, order[r.run], "") if r.run in order else (1, r.start.isoformat(), r.run))
    runs = pd.DataFrame([dataclasses.asdict(r) for r in records], columns=RUN_COLUMNS)
    for col in ("start", "end"):
        runs[col] = runs[col].map(lambda d: d.isoformat() if d is not None else "")
    dates = {day: to_date(day, s.start_date).isoformat() for day in world.recorder.sample_days}
    timeseries = timeseries_table(world.recorder.rows, dates)
    frontier = pd.DataFrame(world.frontier.rows, columns=["day", *FRONTIER_COLUMNS[1:]])
    frontier.insert(0, "date", frontier.pop("day").map(dates))
    buildout = buildout_table(world.projects.records, s.start_date, world.horizon_day)
    summary = build_summary(world, runs, timeseries, frontier)
    # the summary reads the tables as the files hold them; the Result holds them typed
    return Result(
        scenario_name=s.name, seed=world.seed, runs=typed_table("runs", runs),
        timeseries=typed_table("timeseries", timeseries), frontier=typed_table("frontier", frontier),
        summary=summary, events_processed=world.env.events_processed, buildout=typed_table("buildout", buildout),
    )


def buildout_table(records: list, start_date, horizon_day: float) -> pd.DataFrame:
    """One row per site or plant project (typed or the policy's): online is its first hall or
    block's date, empty if it had none by the end date (or its interconnection request failed)."""
    def date(day: float | None) -> str:
        return to_date(day, start_date).isoformat() if day is not None and day < horizon_day else ""

    rows = [{"name": r.name, "lab": r.lab, "kind": r.kind, "type": r.type, "region": r.region, "mw": r.mw,
             "start": date(r.start_day), "online": date(r.online_day), "planned_by": r.planned_by,
             "capex_usd": r.capex_usd} for r in records]
    return pd.DataFrame(rows, columns=BUILDOUT_COLUMNS)


def timeseries_table(rows: list[tuple], dates: dict[float, str]) -> pd.DataFrame:
    """Probe rows (day, entity, kind, metric, value) as the tidy timeseries table, with units."""
    if not rows:
        return pd.DataFrame(columns=TIMESERIES_COLUMNS)
    days, entities, kinds, names, values = zip(*rows)
    units: dict[tuple[str, str], str] = {}
    for key in zip(kinds, names):
        if key not in units:
            units[key] = metrics.unit(*key)
    return pd.DataFrame({
        "date": [dates[day] for day in days], "entity": entities, "kind": kinds, "metric": names,
        "value": np.array(values, dtype=float), "unit": [units[key] for key in zip(kinds, names)],
    })


def _run_brief(row: pd.Series | None) -> dict | None:
    if row is None:
        return None
    return {
        "run": row["run"], "lab": row["lab"], "start": row["start"], "end": row["end"],
        "gpus": int(row["gpus"]), "gpu_type": row["gpu_type"], "flop": float(row["flop"]),
        "binding_constraint": row["binding_constraint"],
    }


def yearly(timeseries: pd.DataFrame, runs: pd.DataFrame, frontier: pd.DataFrame) -> pd.DataFrame:
    """Per calendar year: H100e delivered, firm power online and GPUs installed at year end, energy
    drawn and CO2 emitted at the modelled sites, the largest run completed in the year and to date,
    and the frontier's best combined run."""
    world = timeseries[timeseries["kind"] == "world"].pivot(index="date", columns="metric", values="value")
    # energy_mwh is the month to its sample: a sample on 1 January closes the previous year
    energy = world["energy_mwh"] if "energy_mwh" in world else pd.Series(0.0, index=world.index)
    energy_by_year = energy.groupby([(dt.date.fromisoformat(d) - dt.timedelta(days=1)).year for d in world.index]).sum()
    emitted = world["emissions_tco2_total"].to_numpy() if "emissions_tco2_total" in world else np.zeros(len(world))
    values = {name: world[name].to_numpy() for name in
              ("delivered_h100e_total", "power_online_mw", "installed_gpus", "installed_h100e")}
    years = np.array([int(d[:4]) for d in world.index])  # dates are ISO strings: sorted by the pivot
    done = runs[runs["status"] == "completed"]
    largest = done.groupby(done["end"].str[:4].astype(int))["flop"].max() if len(done) else pd.Series(dtype=float)
    front = frontier[frontier["constraint"] == "combined"]
    best = front.groupby(front["date"].str[:4].astype(int))["max_flop"].max() if len(front) else pd.Series(dtype=float)
    rows = []
    to_date = 0.0
    for year in sorted(set(years.tolist())):
        in_year, after = np.flatnonzero(years == year), np.flatnonzero(years > year)
        start, end = in_year[0], (after[0] if len(after) else in_year[-1])
        delivered = values["delivered_h100e_total"]
        rows.append({
            "year": year,
            "gpus_delivered_h100e": float(delivered[end] - delivered[start]),
            "power_online_gw": float(values["power_online_mw"][end]) / 1e3,
            "installed_gpus": int(values["installed_gpus"][end]),
            "installed_h100e": float(values["installed_h100e"][end]),
            "energy_twh": float(energy_by_year.get(year, 0.0)) / 1e6,
            "emissions_mtco2": float(emitted[end] - (emitted[start - 1] if start else 0.0)) / 1e6,
            "largest_run_flop": float(largest.get(year, 0.0)),
            "largest_run_to_date_flop": (to_date := max(to_date, float(largest.get(year, 0.0)))),
            "frontier_max_flop": float(best.get(year, 0.0)),
        })
    return pd.DataFrame(rows)


def build_summary(world: "World", runs: pd.DataFrame, timeseries: pd.DataFrame, frontier: pd.DataFrame) -> dict:
    s = world.scenario
    done = runs[runs["status"] == "completed"]
    largest = done.loc[done["flop"].idxmax()] if len(done) else None
    started = runs[runs["gpus"] > 0]
    largest_any = started.loc[started["flop"].idxmax()] if len(started) else None
    years = yearly(timeseries, runs, frontier).to_dict(orient="records")
    return {
        "scenario": s.name,
        "seed": world.seed,
        "version": package_version(),
        "start_date": s.start_date.isoformat(),
        "end_date": s.end_date.isoformat(),
        "events_processed": world.env.events_processed,
        "runs": int(len(runs)),
        "runs_completed": int(len(done)),
        "largest_run_completed": _run_brief(largest),
        "largest_run_started": _run_brief(largest_any),
        "answer": build_answer(runs, timeseries, frontier, years,
                               buildout_table(world.projects.records, s.start_date, world.horizon_day)),
        "years": years,
        "disruptions": world.disruptions.records(),
        "h100e_per_gpu": dict(zip(world.products.names, world.products.h100e)),  # what the buildout plot stacks
    }
