"""Sweeps: results independent of workers, engine and interruption; bands and thresholds sane."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.config.errors import ScenarioError
from sim.studies.store import pending, replication_path
from sim.studies.sweep import SweepSpec, parse_grid, run_sweep

SHORT = ("end_date=2026-12-31",)  # a short horizon keeps replications quick
SUMMARIES = ("bands.csv", "thresholds.csv")


def sim_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, timeout=600, **kw)


def read(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in SUMMARIES}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory) -> Path:
    """The issue's command: 40 replications of the baseline on 2 workers."""
    out = tmp_path_factory.mktemp("sweep") / "two"
    proc = sim_cli("sweep", "-n", "40", "--workers", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_sweep_writes_ordered_bands_and_thresholds(two_workers):
    bands = pd.read_csv(two_workers / "bands.csv")
    assert list(bands.columns) == ["date", "metric", "p10", "p50", "p90", "mean"]
    assert (bands["p10"] <= bands["p50"] + 1e-9).all() and (bands["p50"] <= bands["p90"] + 1e-9).all()
    assert {"installed_h100e", "largest_run_flop_to_date", "power_online_mw"} <= set(bands["metric"])
    thresholds = pd.read_csv(two_workers / "thresholds.csv")
    assert set(thresholds["threshold_flop"]) >= {1e27, 1e28, 1e29}
    years = [c for c in thresholds.columns if c.startswith("p_by_")]
    probs = thresholds[years].to_numpy()
    assert ((probs >= 0) & (probs <= 1)).all()
    assert (probs[:, 1:] >= probs[:, :-1]).all()  # reached by a later year at least as often
    assert (thresholds["replications"] == 40).all()
    reps = pd.read_csv(two_workers / "replications.csv")
    assert len(reps) == 40 and reps["seed"].nunique() == 40
    assert any(c.startswith("input:") for c in reps.columns)  # the baseline's uncertain inputs were drawn
    assert reps["largest_run_flop"].nunique() > 1  # replications differ


def test_one_worker_gives_the_same_bytes(two_workers, tmp_path):
    proc = sim_cli("sweep", "-n", "40", "--workers", "1", "--out", str(tmp_path / "one"))
    assert proc.returncode == 0, proc.stderr
    assert read(tmp_path / "one") == read(two_workers)


def test_dask_local_cluster_gives_the_same_bytes(two_workers, tmp_path):
    pytest.importorskip("distributed")
    proc = sim_cli("sweep", "-n", "40", "--workers", "2", "--dask", "local", "--out", str(tmp_path / "dask"))
    assert proc.returncode == 0, proc.stderr
    assert read(tmp_path / "dask") == read(two_workers)


def test_an_interrupted_sweep_resumes_without_losing_or_repeating(two_workers, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", "-n", "40", "--workers", "2", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    reps = out / "replications"
    deadline = time.time() + 300
    while time.time() < deadline and (not reps.exists() or len(list(reps.glob("*.json"))) < 5):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, pool workers included
    proc.wait()
    done_before = len(list(reps.glob("*.json")))
    assert 5 <= done_before < 40, done_before
    assert not (out / "bands.csv").exists()
    refused = sim_cli("sweep", "-n", "40", "--workers", "2", "--out", str(out))
    assert refused.returncode == 2 and "--resume" in refused.stderr  # never overwritten by accident
    resumed = sim_cli("sweep", "-n", "40", "--workers", "2", "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(reps.glob("*.json"))) == 40
    assert not list(reps.glob(".*.tmp"))  # half-written files of the killed run are cleared
    assert read(out) == read(two_workers)


def test_resume_runs_only_missing_replications(tmp_path):
    spec = SweepSpec(scenario=None, overrides=SHORT, n=6, root_seed=3)
    out = tmp_path / "s"
    run_sweep(spec, out, progress=False)
    first = read(out)
    kept = replication_path(out, 0, 0).read_bytes()
    for i in (2, 4):
        replication_path(out, 0, i).unlink()
    assert pending(spec, out) == [(0, 2), (0, 4)]
    run_sweep(spec, out, resume=True, progress=False)
    assert read(out) == first
    assert replication_path(out, 0, 0).read_bytes() == kept  # finished ones are not run again


def test_resume_refuses_a_different_sweep(tmp_path):
    out = tmp_path / "s"
    run_sweep(SweepSpec(scenario=None, overrides=SHORT, n=2), out, progress=False)
    with pytest.raises(ScenarioError, match="--resume must repeat"):
        run_sweep(SweepSpec(scenario=None, overrides=SHORT, n=3), out, resume=True, progress=False)


def test_grid_runs_the_cartesian_product(tmp_path):
    spec = SweepSpec(scenario=None, overrides=SHORT, n=3, root_seed=1,
                     grid=parse_grid(["labs.openai.share_of_output=0.1,0.3", "tick_days=7,14"]))
    assert len(spec.cells()) == 4
    tables = run_sweep(spec, tmp_path / "g", progress=False)
    reps = tables["replications"]
    assert len(reps) == 12
    assert set(map(str, reps["labs.openai.share_of_output"])) == {"0.1", "0.3"}
    bands = tables["bands"]
    assert {"labs.openai.share_of_output", "tick_days"} <= set(bands.columns)


def test_bad_grid_is_refused_with_one_line(tmp_path):
    proc = sim_cli("sweep", "-n", "2", "--grid", "tick_days", "--out", str(tmp_path / "g"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --grid: tick_days:") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "g").exists()


def test_sensitivity_ranks_inputs_by_swing(tmp_path):
    proc = sim_cli("sensitivity", "--out", str(tmp_path / "t"), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "t" / "tornado.csv")
    assert len(table) >= 3
    assert (table["swing"].diff().dropna() <= 0).all()  # largest effect first
    assert (table["low_value"] <= table["high_value"]).all()


def test_progress_bar_draws_on_a_terminal_and_stays_quiet_elsewhere():
    import io

    from sim.studies.sweep import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term, pipe = Terminal(), io.StringIO()
    for stream in (term, pipe):
        bar = Progress(4, stream=stream)
        for _ in range(4):
            bar.step()
    assert term.getvalue().count("\r") == 4 and "4/4 replications" in term.getvalue()
    assert pipe.getvalue() == ""


def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("workers", [1, 2])
def test_executor_hands_back_every_result_with_its_index(workers):
    from sim.studies.executor import map_ordered, map_tasks

    tasks = list(range(7))
    assert sorted(map_tasks(square, tasks, workers)) == [(i, i * i) for i in tasks]
    assert map_ordered(square, tasks, workers) == [i * i for i in tasks]
    assert list(map_tasks(square, [], workers)) == []


def test_band_metrics_are_the_registry_sweep_metrics(tmp_path):
    from sim.metrics import of_kind

    tables = run_sweep(SweepSpec(scenario=None, overrides=SHORT, n=2), tmp_path / "b", progress=False)
    assert set(tables["bands"]["metric"]) == {m.name for m in of_kind("sweep")}


def test_compare_on_two_workers_keeps_the_order_of_the_topologies():
    from sim.config.loading import load_scenario
    from sim.network.placement import place_on_topology
    from sim.network.topology import load_topology
    from sim.studies.compare import compare

    scenario = load_scenario(overrides=list(SHORT))
    placed = [place_on_topology(scenario, name) for name in ("ring_5_us", "single_campus")]
    serial, pooled = compare(placed), compare(placed, workers=2)
    pd.testing.assert_frame_equal(serial, pooled)
    assert list(dict.fromkeys(serial["topology"])) == [load_topology(p.topology).name for p in placed]


# --- errors from workers, damaged files, the scenario digest ----------------------------------------

def refuse(x: int) -> int:
    if x == 3:
        raise ScenarioError("s.yaml", "labs.a.share", "must be at most 1 (got 3)")
    return x


def test_scenario_errors_pickle_whole():
    import pickle

    from sim.studies.executor import OptionError

    err = pickle.loads(pickle.dumps(ScenarioError("s.yaml", "runs.0.gpus", "must be positive")))
    assert (type(err), err.file, err.key_path, err.problem, str(err)) == (
        ScenarioError, "s.yaml", "runs.0.gpus", "must be positive", "s.yaml: runs.0.gpus: must be positive")
    opt = pickle.loads(pickle.dumps(OptionError("--dask", "cannot reach scheduler at x:1 (no answer in 5 s)")))
    assert type(opt) is OptionError and str(opt) == "--dask: cannot reach scheduler at x:1 (no answer in 5 s)"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_task_error_comes_back_whole_from_the_pool(workers):
    """Not BrokenProcessPool: the task's own ScenarioError, file, key path and problem intact."""
    from sim.studies.executor import map_ordered

    with pytest.raises(ScenarioError) as caught:
        map_ordered(refuse, list(range(6)), workers)
    assert str(caught.value) == "s.yaml: labs.a.share: must be at most 1 (got 3)"


@pytest.mark.parametrize(("address", "ok"), [
    ("local", True), ("tcp://127.0.0.1:8786", True), ("127.0.0.1:8786", True), ("scheduler.example:1", True),
    ("tcp://[::1]:8786", True), ("", False), ("127.0.0.1", False), ("127.0.0.1:0", False), ("127.0.0.1:65536", False),
    ("http://127.0.0.1:8786", False), ("tcp://", False), ("a b:1", False), ("tcp://127.0.0.1:8786/x", False),
])
def test_dask_addresses_are_checked_before_connecting(address, ok):
    from sim.studies.executor import OptionError, check_dask

    if ok:
        check_dask(address)
    else:
        with pytest.raises(OptionError, match="^--dask: not a scheduler address"):
            check_dask(address)


def test_damaged_replication_files_are_pending_again(tmp_path):
    spec = SweepSpec(scenario=None, overrides=SHORT, n=5, root_seed=2)
    out = tmp_path / "s"
    run_sweep(spec, out, progress=False)
    first = read(out)
    replication_path(out, 0, 0).write_text("")  # empty
    replication_path(out, 0, 1).write_text(replication_path(out, 0, 1).read_text()[:50])  # cut short
    replication_path(out, 0, 2).write_bytes(replication_path(out, 0, 3).read_bytes())  # another replication's
    assert pending(spec, out) == [(0, 0), (0, 1), (0, 2)]
    assert not replication_path(out, 0, 0).exists()  # deleted, to be run again
    run_sweep(spec, out, resume=True, progress=False)
    assert read(out) == first


def test_the_digest_is_of_the_resolved_scenario(tmp_path):
    from sim.config.loading import packaged_scenario
    from sim.studies.sweep import scenario_digest

    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {packaged_scenario()}\ntick_days: 7\n")
    spec = SweepSpec(scenario=str(scenario), overrides=SHORT, n=2)
    digest = scenario_digest(spec)
    assert digest == scenario_digest(SweepSpec(scenario=str(scenario), overrides=SHORT, n=9))  # content, not spec
    scenario.write_text(f"extends: {packaged_scenario()}\n\ntick_days:  7  # same value\n")
    assert scenario_digest(spec) == digest
    scenario.write_text(f"extends: {packaged_scenario()}\ntick_days: 14\n")
    assert scenario_digest(spec) != digest
    assert scenario_digest(SweepSpec(scenario=str(scenario), overrides=(*SHORT, "tick_days=7"), n=2)) == digest


def test_a_sweep_refused_or_failing_before_any_replication_writes_nothing(tmp_path, monkeypatch):
    import sim.studies.sweep as sweep

    def boom(*args, **kw):
        raise RuntimeError("bug")

    monkeypatch.setattr(sweep, "run", boom)
    out = tmp_path / "a" / "b"
    with pytest.raises(sweep.StudyError, match="^replication 0 of cell 0, seed [0-9]+ failed: RuntimeError: bug$"):
        run_sweep(SweepSpec(scenario=None, overrides=SHORT, n=2), out, progress=False)
    assert not (tmp_path / "a").exists()
    out.mkdir(parents=True)
    with pytest.raises(sweep.StudyError):
        run_sweep(SweepSpec(scenario=None, overrides=SHORT, n=2), out, progress=False)
    assert list(out.iterdir()) == []
