"""Monte Carlo sweeps: many replications of a scenario whose uncertain inputs are distributions.

Each replication draws its inputs and runs from its own seed, spawned from one root seed
(numpy SeedSequence), so a replication's result depends only on (root seed, cell, index): not on
the worker count, the engine (a local process pool or a Dask cluster) or the order in which
replications finish. Finished replications stream to disk one file each (written whole, then
renamed); `resume` runs only the ones missing. The summary tables are computed from the files,
sorted, so an interrupted and resumed sweep writes the same bytes as an uninterrupted one.
Outputs: bands.csv (date, metric, p10, p50, p90, mean), thresholds.csv (per FLOP threshold: the
probability of a completed run that large by each year, and quantiles of the date), and
replications.csv (one row per replication: its inputs and outcomes). The batch-runner shape
(a cartesian grid of parameters to a pool, flat dicts to a table) follows Mesa's batch_run.
"""
from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from sim.config.errors import ScenarioError
from sim.outputs.tables import Result, write_files

THRESHOLDS_FLOP = (1e26, 1e27, 1e28, 1e29, 1e30)
BAND_METRICS = (  # (entity, metric) from timeseries.csv
    ("world", "produced_h100e_total"),
    ("world", "installed_h100e"),
    ("world", "power_online_mw"),
    ("world", "power_drawn_mw"),
)
QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs; stored with its outputs so that `resume` continues the same sweep."""

    scenario: str | None  # path, or None for the shipped baseline
    overrides: tuple[str, ...] = ()
    n: int = 100
    root_seed: int = 0
    grid: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (key path, values as written on the command line)
    thresholds_flop: tuple[float, ...] = THRESHOLDS_FLOP

    def cells(self) -> list[tuple[tuple[str, str], ...]]:
        """The cartesian product of the grid: each cell a tuple of (key, value) settings."""
        if not self.grid:
            return [()]
        keys = [k for k, _ in self.grid]
        return [tuple(zip(keys, values)) for values in itertools.product(*(v for _, v in self.grid))]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def parse_grid(items: Iterable[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`key=v1,v2` strings -> ((key, (v1, v2)), ...); refuses malformed ones with one clear line."""
    grid = []
    for item in items:
        key, sep, values = item.partition("=")
        parts = tuple(v.strip() for v in values.split(",")) if sep else ()
        if not key.strip() or not parts or not all(parts):
            raise ScenarioError("--grid", item or "(empty)", "expected key.path=value1,value2,...")
        grid.append((key.strip(), parts))
    return tuple(grid)


def replication_seed(root_seed: int, index: int) -> np.random.SeedSequence:
    """The seed of replication `index`: the index-th child of the root (numpy SeedSequence.spawn).

    The same index gets the same seed in every grid cell (common random numbers across cells).
    """
    return np.random.SeedSequence(root_seed, spawn_key=(index,))


@functools.lru_cache(maxsize=16)
def _template(scenario: str | None, overrides: tuple[str, ...]):
    """The scenario template of a cell, loaded once per process."""
    from sim.config.loading import load_template  # late: sim.config.loading is heavy and not needed to plan

    return load_template(scenario, overrides)


def cell_overrides(spec: SweepSpec, cell: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """A cell's settings as --set overrides; `topology` is not one (see `cell_topology`)."""
    return spec.overrides + tuple(f"{key}={value}" for key, value in cell if key != "topology")


def cell_topology(cell: tuple[tuple[str, str], ...]) -> str | None:
    """A grid over `topology` puts the same buildout on each topology, as `sim compare` does."""
    return next((value for key, value in cell if key == "topology"), None)


def cell_scenario(scenario, cell: tuple[tuple[str, str], ...]):
    from sim.network.placement import place_on_topology

    topology = cell_topology(cell)
    return place_on_topology(scenario, topology) if topology else scenario


def run_replication(spec: SweepSpec, cell_index: int, index: int) -> dict:
    """One replication: draw the inputs, run, and keep what the summaries need (a plain dict)."""
    from sim.api import run

    cell = spec.cells()[cell_index]
    template = _template(spec.scenario, cell_overrides(spec, cell))
    inputs_seed, run_seed = replication_seed(spec.root_seed, index).spawn(2)
    scenario, values = template.sample(np.random.default_rng(inputs_seed))
    scenario = cell_scenario(scenario, cell)
    seed = int(run_seed.generate_state(1)[0])
    result = run(scenario, seed=seed)
    return summarise(result, spec, cell_index, index, seed, values)


def run_replications(spec: SweepSpec, items: list[tuple[int, int]]) -> list[dict]:
    """Several replications in one task, in order."""
    return [run_replication(spec, cell, index) for cell, index in items]


def summarise(result: Result, spec: SweepSpec, cell_index: int, index: int, seed: int, values: dict) -> dict:
    """The numbers a replication contributes: inputs drawn, outcomes, monthly band metrics."""
    runs = result.runs
    done = runs[runs["status"] == "completed"].sort_values(["end", "run"])
    largest = float(done["flop"].max()) if len(done) else 0.0
    first = {}
    for threshold in spec.thresholds_flop:
        hit = done[done["flop"] >= threshold]
        first[repr(threshold)] = hit["end"].iloc[0] if len(hit) else None
    ts = result.timeseries
    months = ts[ts["date"].str.endswith("-01")]
    bands = {}
    for entity, metric in BAND_METRICS:
        rows = months[(months["entity"] == entity) & (months["metric"] == metric)]
        bands[metric] = dict(zip(rows["date"], rows["value"].astype(float)))
    # the largest completed run to date, month by month
    dates = sorted(bands[BAND_METRICS[0][1]])
    ends, flops = done["end"].tolist(), done["flop"].tolist()
    bands["largest_run_flop_to_date"] = {
        d: max([f for e, f in zip(ends, flops) if e <= d], default=0.0) for d in dates
    }
    frontier = result.frontier[result.frontier["constraint"] == "combined"]
    bands["frontier_combined_flop"] = dict(zip(frontier["date"], frontier["max_flop"].astype(float)))
    return {
        "cell": cell_index, "replication": index, "seed": seed,
        "inputs": {k: float(v) for k, v in values.items()},
        "largest_run_flop": largest, "first_end_at_or_above": first, "bands": bands,
        "disruptions": result.summary.get("disruptions", []),
    }


# --- running -------------------------------------------------------------------------------------

def replication_path(out: Path, cell: int, index: int) -> Path:
    return out / "replications" / f"cell{cell:03d}_rep{index:06d}.json"


def pending(spec: SweepSpec, out: Path) -> list[tuple[int, int]]:
    """(cell, replication) pairs without a finished file."""
    return [(c, i) for c in range(len(spec.cells())) for i in range(spec.n)
            if not replication_path(out, c, i).exists()]


def save_replication(out: Path, record: dict) -> None:
    """Stream one finished replication to disk, whole or not at all."""
    path = replication_path(out, record["cell"], record["replication"])
    write_files(path.parent, {path.name: json.dumps(record, sort_keys=True) + "\n"})


class Progress:
    """A one-line progress bar on stderr, redrawn in place; silent when stderr is not a terminal."""

    def __init__(self, total: int, done: int = 0, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.total, self.done, self.start = total, done, time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def step(self) -> None:
        self.done += 1
        if not self.tty:
            return
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        filled = int(30 * self.done / max(self.total, 1))
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} replications, {rate:.1f}/s"
        self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        self.stream.flush()


def run_sweep(spec: SweepSpec, out: str | Path, workers: int = 1, dask: str | None = None,
              resume: bool = False, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Run (or finish) a sweep into `out` and write its summary tables; returns them.

    `dask`: None for a local process pool, "local" for a Dask LocalCluster with `workers` worker
    processes, or a scheduler address. Without `resume`, an existing sweep in `out` is refused.
    """
    out = Path(out)
    manifest = out / "sweep.json"
    if manifest.exists():
        if not resume:
            raise ScenarioError(str(out), "(sweep)", "a sweep is already here: pass --resume to finish it, or choose another --out")
        if manifest.read_text() != spec.to_json():
            raise ScenarioError(str(manifest), "(sweep)", "--resume must repeat the sweep's scenario, -n, --seed, --set and --grid")
        for stray in (out / "replications").glob(".*.tmp"):  # half-written by an interrupted run
            stray.unlink()
    else:
        write_files(out, {"sweep.json": spec.to_json()})
    todo = pending(spec, out)
    total = len(spec.cells()) * spec.n
    bar = Progress(total, total - len(todo)) if progress else None
    for record in _execute(spec, todo, workers, dask):
        save_replication(out, record)
        if bar:
            bar.step()
    tables = summarise_sweep(spec, out)
    files = {
        "bands.csv": tables["bands"].to_csv(index=False, float_format="%.6g", lineterminator="\n"),
        "thresholds.csv": tables["thresholds"].to_csv(index=False, float_format="%.6g", lineterminator="\n"),
        "replications.csv": tables["replications"].to_csv(index=False, float_format="%.6g", lineterminator="\n"),
    }
    write_files(out, files)
    return tables


def _execute(spec: SweepSpec, todo: list[tuple[int, int]], workers: int, dask: str | None):
    """Yield finished replication records, in whatever order they finish."""
    if not todo:
        return
    if dask is not None:
        yield from _execute_dask(spec, todo, workers, dask)
    elif workers <= 1:
        for cell, index in todo:
            yield run_replication(spec, cell, index)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_replication, spec, cell, index) for cell, index in todo]
            for future in as_completed(futures):
                yield future.result()


def _execute_dask(spec: SweepSpec, todo: list[tuple[int, int]], workers: int, address: str):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - the extra is not installed
        raise ScenarioError("--dask", address, "needs the dask extra: pip install -e '.[dask]'") from None
    import dask

    cluster = None
    if address == "local":
        # replications are pure CPU: the workers' statistical profiler (a stack sample every 10 ms)
        # and frequent system monitoring only take cycles from them on a small machine
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              "distributed.admin.system-monitor.interval": "2s"}):
            cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        # a few replications per task: Dask's per-task overhead (scheduler round trips, on the same
        # cores as the workers) then stays small; each finished chunk is written at once
        size = max(1, min(10, len(todo) // (4 * max(workers, 1))))
        chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
        futures = [client.submit(run_replications, spec, chunk, pure=False) for chunk in chunks]
        for future in as_completed(futures):
            yield from future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --- summaries -----------------------------------------------------------------------------------

def load_replications(spec: SweepSpec, out: Path) -> list[dict]:
    """Every finished replication, in (cell, index) order."""
    return [json.loads(replication_path(out, c, i).read_text())
            for c in range(len(spec.cells())) for i in range(spec.n)
            if replication_path(out, c, i).exists()]


def _cell_columns(spec: SweepSpec, cell_index: int) -> dict[str, str]:
    return {key: value for key, value in spec.cells()[cell_index]}


def summarise_sweep(spec: SweepSpec, out: Path) -> dict[str, pd.DataFrame]:
    """bands, thresholds and replications tables from the replication files."""
    records = load_replications(spec, out)
    grid_keys = [k for k, _ in spec.grid]
    band_rows, threshold_rows, rep_rows = [], [], []
    for cell_index in range(len(spec.cells())):
        cell = _cell_columns(spec, cell_index)
        mine = [r for r in records if r["cell"] == cell_index]
        if not mine:
            continue
        band_rows += _bands(mine, cell)
        threshold_rows += _thresholds(mine, cell, spec.thresholds_flop)
        for r in mine:
            row = {**cell, "replication": r["replication"], "seed": r["seed"], "largest_run_flop": r["largest_run_flop"]}
            row.update({f"input:{k}": v for k, v in r["inputs"].items()})
            row.update({f"first_run_at_or_above_{float(t):.0e}": r["first_end_at_or_above"].get(repr(t)) or ""
                        for t in spec.thresholds_flop})
            row["disruptions"] = len(r.get("disruptions", []))
            rep_rows.append(row)
    return {
        "bands": pd.DataFrame(band_rows, columns=[*grid_keys, "date", "metric", "p10", "p50", "p90", "mean"]),
        "thresholds": pd.DataFrame(threshold_rows),
        "replications": pd.DataFrame(rep_rows),
    }


def _bands(records: list[dict], cell: dict) -> list[dict]:
    rows = []
    metrics = sorted(records[0]["bands"])
    for metric in metrics:
        dates = sorted(records[0]["bands"][metric])
        values = np.array([[r["bands"][metric].get(d, np.nan) for d in dates] for r in records], dtype=float)
        p10, p50, p90 = np.nanquantile(values, QUANTILES, axis=0)
        mean = np.nanmean(values, axis=0)
        for j, date in enumerate(dates):
            rows.append({**cell, "date": date, "metric": metric, "p10": p10[j], "p50": p50[j], "p90": p90[j], "mean": mean[j]})
    return rows


def _thresholds(records: list[dict], cell: dict, thresholds: tuple[float, ...]) -> list[dict]:
    """Per threshold: P(a completed run at or above it has ended by 31 Dec of each year), and the
    10/50/90% quantiles of that date over replications ('' where fewer than that share reach it)."""
    years = sorted({int(d[:4]) for r in records for m in r["bands"].values() for d in m})
    rows = []
    for threshold in thresholds:
        dates = [r["first_end_at_or_above"].get(repr(threshold)) for r in records]
        ordinals = np.sort([dt.date.fromisoformat(d).toordinal() if d else np.inf for d in dates])
        row = {**cell, "threshold_flop": threshold, "replications": len(records)}
        for year in years:
            row[f"p_by_{year}"] = float(np.mean([d is not None and d <= f"{year}-12-31" for d in dates]))
        for q in QUANTILES:
            k = int(np.ceil(q * len(ordinals))) - 1  # the empirical quantile: an actual replication's date
            value = ordinals[max(k, 0)]
            row[f"date_p{int(q * 100)}"] = dt.date.fromordinal(int(value)).isoformat() if np.isfinite(value) else ""
        rows.append(row)
    return rows


# --- sensitivity ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Swing:
    key_path: str
    low_value: float
    high_value: float
    output_low: float
    output_high: float

    output_median: float = 0.0

    @property
    def swing(self) -> float:
        """The spread of the output over the input's p10, median and p90 (an effect need not be monotone)."""
        outputs = (self.output_low, self.output_median, self.output_high)
        return max(outputs) - min(outputs)


def largest_completed_flop(result: Result) -> float:
    done = result.runs[result.runs["status"] == "completed"]
    return float(done["flop"].max()) if len(done) else 0.0


def tornado(scenario: str | None, overrides: tuple[str, ...] = (), seed: int = 0,
            output: Callable[[Result], float] = largest_completed_flop, workers: int = 1) -> pd.DataFrame:
    """One-at-a-time sensitivity: each uncertain input at its p10 and its p90, all others at
    their medians, ranked by the swing in `output` (a tornado diagram's table): the spread of the
    output over the input's p10, median and p90."""
    from sim.config.loading import load_template

    template = load_template(scenario, overrides)
    tasks = []
    for item in template.inputs:
        low, high = item.distribution.quantile(0.1), item.distribution.quantile(0.9)
        tasks.append((item.key_path, low, high))
    results = _map(_swing_output, [(scenario, overrides, seed, key, value, output)
                                   for key, low, high in tasks for value in (low, high)], workers)
    baseline_output = output(_run_at(scenario, overrides, seed, {}))
    swings = [Swing(key, low, high, results[2 * i], results[2 * i + 1], baseline_output)
              for i, (key, low, high) in enumerate(tasks)]
    rows = [{"input": s.key_path, "low_value": s.low_value, "high_value": s.high_value,
             "output_at_low": s.output_low, "output_at_high": s.output_high,
             "output_at_median": baseline_output, "swing": s.swing} for s in swings]
    table = pd.DataFrame(rows, columns=["input", "low_value", "high_value", "output_at_low", "output_at_high",
                                        "output_at_median", "swing"])
    return table.sort_values(["swing", "input"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def _run_at(scenario, overrides, seed, values: dict) -> Result:
    from sim.api import run

    return run(_template(scenario, tuple(overrides)).at(values), seed=seed)


def _swing_output(task) -> float:
    scenario, overrides, seed, key, value, output = task
    return output(_run_at(scenario, overrides, seed, {key: value}))


def _map(fn, tasks: list, workers: int) -> list:
    if workers <= 1:
        return [fn(t) for t in tasks]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, tasks))
