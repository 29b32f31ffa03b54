"""Monte Carlo sweeps: many replications of a scenario whose uncertain inputs are distributions.

Each replication draws its inputs and runs from its own seed, spawned from one root seed
(numpy SeedSequence, sim.world.streams.replication_seeds), so a replication's result depends only on
(root seed, cell, index): not on the worker count, the engine (a local process pool or a Dask
cluster, sim.studies.executor) or the order in which replications finish. Finished replications
stream to disk one file each (written whole, then renamed; sim.studies.store); `resume` runs only
the ones missing or damaged, and only if the scenario is still the one the sweep started with (a
digest of its resolved content is kept in sweep.json). Everything is checked before anything is
written; a sweep that fails before any replication finished leaves nothing behind. The summary
tables (sim.studies.summaries) are computed from the files, sorted, so an interrupted and resumed
sweep writes the same bytes as an uninterrupted one.
Outputs: bands.csv (date, metric, p10, p50, p90, mean), thresholds.csv (per FLOP threshold: the
probability of a completed run that large by each year, and quantiles of the date), and
replications.csv (one row per replication: its inputs and outcomes). The batch-runner shape
(a cartesian grid of parameters to a pool, flat dicts to a table) follows Mesa's batch_run.
`sweep` (re-exported as `sim.sweep`) runs the same replications in memory and writes files only
when given a folder.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from sim.config.errors import ScenarioError
from sim.config.loading import SET_SOURCE, load_template
from sim.config.yaml_io import read_yaml
from sim.metrics import BAND_METRICS
from sim.network.placement import place_on_topology
from sim.network.topology import packaged_topology
from sim.outputs.files import output_lock, write_files
from sim.outputs.tables import Result
from sim.studies.executor import StudyError, WorkerDied, check_dask, map_tasks, probe_dask
from sim.studies.simulate import run
from sim.studies.store import check_out, load_replications, open_sweep, pending, save_replication
from sim.studies.summaries import csv_files, sweep_tables
from sim.world.streams import replication_seeds

# the FLOP thresholds of thresholds.csv unless `--threshold` (or sim.sweep's `thresholds`) gives others:
# decades around Epoch AI's question (2024: ~2e29 FLOP by 2030)
THRESHOLDS_FLOP = (1e26, 1e27, 1e28, 1e29, 1e30)
BAND_ENTITY = "world"  # the band metrics are the world's, from timeseries.csv


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


def flop_threshold(value) -> float:
    """A FLOP threshold: a positive, finite number (text such as "2e29" too); ValueError otherwise."""
    try:
        flop = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a positive FLOP value such as 2e29, got {value}") from None
    if not math.isfinite(flop) or flop <= 0:
        raise ValueError(f"must be a positive FLOP value such as 2e29, got {value}")
    return flop


def flop_thresholds(values: Iterable) -> tuple[float, ...]:
    """Thresholds as a sweep records them: each checked (flop_threshold), sorted, without repeats."""
    thresholds = tuple(sorted({flop_threshold(v) for v in values}))
    if not thresholds:
        raise ValueError("must give at least one FLOP threshold")
    return thresholds


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


@functools.lru_cache(maxsize=16)
def cached_template(scenario: str | None, overrides: tuple[str, ...]):
    """The scenario template of a cell, loaded once per process."""
    return load_template(scenario, overrides)


def cell_overrides(spec: SweepSpec, cell: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """A cell's settings as --set overrides; `topology` is not one (see `cell_topology`)."""
    return spec.overrides + tuple(f"{key}={value}" for key, value in cell if key != "topology")


def cell_topology(cell: tuple[tuple[str, str], ...]) -> str | None:
    """A grid over `topology` puts the same buildout on each topology, as `sim compare` does."""
    return next((value for key, value in cell if key == "topology"), None)


def cell_scenario(scenario, cell: tuple[tuple[str, str], ...]):
    topology = cell_topology(cell)
    return place_on_topology(scenario, topology) if topology else scenario


def scenario_digest(spec: SweepSpec) -> str:
    """sha256 of what the sweep runs, resolved: every cell's merged scenario document (after
    `extends` and --set, distributions and all) and the content of the topology it runs on, each as
    canonical JSON (so comments and layout do not count, values do).

    Loading the cells validates them: a bad scenario in any cell is refused here (ScenarioError).
    The templates are loaded afresh (the cache cleared), so the digest is of the files as they are now.
    """
    cached_template.cache_clear()
    if spec.grid:  # the scenario and --set without the grid first: what is wrong there is theirs
        cell_scenario(cached_template(spec.scenario, spec.overrides).median(), ())
    digest = hashlib.sha256()
    for cell in spec.cells():
        try:
            template = cached_template(spec.scenario, cell_overrides(spec, cell))
        except ScenarioError as exc:
            if exc.file != SET_SOURCE:
                raise
            settings = ", ".join(f"{k}={v}" for k, v in cell)
            raise ScenarioError("--grid", exc.key_path, f"{exc.problem} (in the cell {settings})") from None
        try:
            scenario = cell_scenario(template.median(), cell)
        except ScenarioError as exc:
            topology = cell_topology(cell)
            if exc.key_path != "(file)" or exc.file != topology:
                raise  # a fault inside a topology file: that file and key path
            raise ScenarioError("--grid", "topology", f"{topology}: {exc.problem}") from None
        digest.update(json.dumps(_canonical(template.doc), sort_keys=True, separators=(",", ":")).encode())
        digest.update(b"\0topology\0")
        if scenario.topology is not None:  # its content as read (comments and layout do not count)
            ref = Path(scenario.topology)
            topology = read_yaml(ref if ref.is_file() else packaged_topology(scenario.topology))
            digest.update(json.dumps(_canonical(topology), sort_keys=True, separators=(",", ":")).encode())
        digest.update(b"\0cell\0")
    return digest.hexdigest()


def _canonical(value):
    """A scenario document as plain JSON values: mapping keys (dates among them) as text, dates ISO."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def replication_label(spec: SweepSpec, cell_index: int, index: int) -> str:
    """How errors name a replication: its index, its grid cell and its seed."""
    cell = spec.cells()[cell_index]
    settings = f" ({', '.join(f'{k}={v}' for k, v in cell)})" if cell else ""
    return f"replication {index} of cell {cell_index}{settings}, seed {replication_seeds(spec.root_seed, index)[1]}"


def run_replication(spec: SweepSpec, cell_index: int, index: int) -> dict:
    """One replication: draw the inputs, run, and keep what the summaries need (a plain dict).

    Its seeds are replication `index`'s of the root seed in every grid cell (common random numbers
    across cells).
    """
    cell = spec.cells()[cell_index]
    template = cached_template(spec.scenario, cell_overrides(spec, cell))
    inputs_rng, seed = replication_seeds(spec.root_seed, index)
    scenario, values = template.sample(inputs_rng)
    result = run(cell_scenario(scenario, cell), seed=seed)
    return summarise(result, spec, cell_index, index, seed, values)


def _replication_task(spec: SweepSpec, item: tuple[int, int]) -> dict:
    """run_replication of one (cell, index) pair: the task the executor maps."""
    cell_index, index = item
    try:
        return run_replication(spec, cell_index, index)
    except ScenarioError as exc:  # a draw the scenario does not allow: say which replication drew it
        where = replication_label(spec, cell_index, index)
        raise ScenarioError(exc.file, exc.key_path, f"{exc.problem} (in {where})") from exc
    except Exception as exc:  # anything else: one line naming the replication, picklable
        text = " ".join(str(exc).split()) or "no message"
        raise StudyError(f"{replication_label(spec, cell_index, index)} failed: {type(exc).__name__}: {text}") from exc


def summarise(result: Result, spec: SweepSpec, cell_index: int, index: int, seed: int, values: dict) -> dict:
    """The numbers a replication contributes: inputs drawn, outcomes, monthly band metrics."""
    runs = result.runs
    done = runs[runs["status"] == "completed"].sort_values(["end", "run"])
    largest = float(done["flop"].max()) if len(done) else 0.0
    first = {}
    for threshold in spec.thresholds_flop:
        hit = done[done["flop"] >= threshold]
        first[repr(threshold)] = iso_date(hit["end"].iloc[0]) if len(hit) else None
    return {
        "cell": cell_index, "replication": index, "seed": seed,
        "inputs": {k: float(v) for k, v in values.items()},
        "largest_run_flop": largest, "first_end_at_or_above": first, "bands": band_series(result, done),
        "disruptions": result.summary.get("disruptions", []),
    }


def band_series(result: Result, done: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Each band metric (the registry's kind "sweep") of one replication: {date: value}, monthly.

    `done`: its completed runs, sorted by end date. Dates are ISO strings (the records are JSON).
    """
    ts = result.timeseries
    months = ts[ts["date"].dt.day == 1]
    bands = {}
    for metric in BAND_METRICS:
        rows = months[(months["entity"] == BAND_ENTITY) & (months["metric"] == metric)]
        bands[metric] = dict(zip(map(iso_date, rows["date"]), rows["value"].astype(float)))
    # the largest completed run to date, month by month
    dates = sorted(bands[BAND_METRICS[0]])
    ends, flops = [iso_date(e) for e in done["end"]], done["flop"].tolist()
    bands["largest_run_flop_to_date"] = {
        d: max([f for e, f in zip(ends, flops) if e <= d], default=0.0) for d in dates
    }
    frontier = result.frontier[result.frontier["constraint"] == "combined"]
    bands["frontier_combined_flop"] = dict(zip(map(iso_date, frontier["date"]), frontier["max_flop"].astype(float)))
    return bands


def iso_date(value) -> str:
    """A date of a Result's table (a Timestamp) as the ISO text the replication records hold."""
    return value.strftime("%Y-%m-%d")


class Progress:
    """A one-line progress bar on stderr, redrawn in place; silent when stderr is not a terminal."""

    def __init__(self, total: int, done: int = 0, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.total, self.done, self.start = total, done, time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def close(self) -> None:
        """End a bar left unfinished (by an error), so that what is printed next starts a line."""
        if self.tty and self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()

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
    processes, or a scheduler address. Without `resume`, an existing sweep in `out` is refused; with
    it, a sweep of another spec or of a changed scenario is refused, and missing or damaged
    replications are run. Every refusal (ScenarioError) comes before anything is written, and a sweep
    that fails before any replication finished removes what it wrote. A replication that fails for
    another reason raises StudyError naming it.
    """
    out = Path(out)
    # everything that could refuse the sweep, before anything is written
    if dask is not None:
        check_dask(dask)
    digest = scenario_digest(spec)  # validates every cell's scenario
    check_out(spec, out, resume, digest)
    if dask is not None:
        probe_dask(dask)
    # one sweep at a time in a folder: a second (a resume while the first runs) is refused at once
    with output_lock(out):
        started = open_sweep(spec, out, resume, digest)  # checks `out` again, under the lock
        saved = 0
        bar = None
        try:
            todo = pending(spec, out)
            total = len(spec.cells()) * spec.n
            bar = Progress(total, total - len(todo)) if progress else None
            try:
                for _, record in map_tasks(functools.partial(_replication_task, spec), todo, workers, dask):
                    save_replication(out, record)
                    saved += 1
                    if bar:
                        bar.step()
            except WorkerDied as exc:
                kept = "; the finished replications are kept: --resume to go on" if saved else ""
                raise WorkerDied(f"{exc}{kept}") from None
        except BaseException:
            if bar:
                bar.close()
            if saved == 0:  # nothing of this sweep finished: leave the folder as it was
                started.undo()
            raise
        tables = summarise_sweep(spec, out)
        write_files(out, csv_files(tables))
    return tables


def summarise_sweep(spec: SweepSpec, out: Path) -> dict[str, pd.DataFrame]:
    """bands, thresholds and replications tables from the replication files in `out`."""
    return sweep_tables(spec, load_replications(spec, out))


def replications_in_memory(spec: SweepSpec, workers: int = 1, dask: str | None = None) -> list[dict]:
    """Every replication's record, run as `run_sweep` runs them but kept in memory, in (cell, index)
    order and as the files hold them (JSON with sorted keys), so the tables equal a written sweep's."""
    todo = [(c, i) for c in range(len(spec.cells())) for i in range(spec.n)]
    records = [json.loads(json.dumps(record, sort_keys=True))
               for _, record in map_tasks(functools.partial(_replication_task, spec), todo, workers, dask)]
    return sorted(records, key=lambda r: (r["cell"], r["replication"]))


@dataclass(repr=False)
class SweepResult:
    """A sweep's tables in memory (what `sweep` returns): bands, thresholds and replications, as
    bands.csv, thresholds.csv and replications.csv hold them, and the spec that made them."""

    spec: SweepSpec
    bands: pd.DataFrame
    thresholds: pd.DataFrame
    replications: pd.DataFrame

    def __repr__(self) -> str:
        """One line: what ran, and the median largest completed run over the replications."""
        s = self.spec
        flop = self.replications["largest_run_flop"] if "largest_run_flop" in self.replications else pd.Series()
        median = f"{float(flop.median()):.2e} FLOP" if len(flop) else "-"
        name = "baseline" if s.scenario is None else Path(s.scenario).name
        cells = f" x {len(s.cells())} cells" if s.grid else ""
        return (f"<SweepResult {name[:40]!r} seed {s.root_seed}: {s.n} replications{cells}, "
                f"{len(s.thresholds_flop)} thresholds, {len(self.bands):,} band rows; median largest run {median}>")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"bands": self.bands, "thresholds": self.thresholds, "replications": self.replications}


def sweep(scenario: str | Path | None = None, n: int = 4, seed: int = 0, workers: int = 1,
          overrides: Iterable[str] = (), thresholds: Iterable[float] | None = None,
          out: str | Path | None = None) -> SweepResult:
    """Monte Carlo replications of a scenario file (None: the shipped baseline) whose uncertain
    inputs are distributions, as `sim sweep` runs them; the tables in memory.

    `n` replications from root seed `seed` on `workers` processes; `overrides` as --set; `thresholds`
    the FLOP thresholds of the thresholds table (default THRESHOLDS_FLOP). Without `out` nothing is
    written anywhere; with it, the sweep's files go there as `sim sweep --out` writes them (and an
    interrupted sweep there is not resumed: that is `sim sweep --resume`). The same arguments give
    the same tables. A bad scenario raises ScenarioError before anything runs, a bad `n`, `workers`
    or threshold ValueError.
    """
    for name, value, high in (("n", n, 1_000_000), ("workers", workers, 256)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise ValueError(f"{name}: must be a whole number between 1 and {high:,}, got {value!r}")
    spec = SweepSpec(scenario=str(Path(scenario).resolve()) if scenario is not None else None,
                     overrides=tuple(overrides), n=n, root_seed=seed,
                     thresholds_flop=THRESHOLDS_FLOP if thresholds is None else flop_thresholds(thresholds))
    if out is not None:
        tables = run_sweep(spec, out, workers=workers, progress=False)
    else:
        scenario_digest(spec)  # validates every cell's scenario before anything runs
        tables = sweep_tables(spec, replications_in_memory(spec, workers))
    return SweepResult(spec, tables["bands"], tables["thresholds"], tables["replications"])
