"""Hostile sweeps: bad output folders, resumes that would mix two sweeps, draws the scenario does not
allow, bad Dask addresses, and a sweep killed at any point.

Every refusal goes through the real `sim sweep` (refusal.run_sim) and the refusal contract
(refusal.assert_refused): one line, exit status 2, nothing written; a refused resume leaves the sweep
there as it was. The fault tests kill -9 a sweep at seeded random points and check that `--resume`
loses nothing, mixes nothing and writes the same bytes as an uninterrupted run, that damaged
replication files are run again, and that a killed sweep leaves no pool workers behind.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from refusal import Case, assert_refused, run_sim
from sim.config.errors import ScenarioError
from sim.config.loading import load_template, packaged_scenario
from sim.network.topology import packaged_topology
from sim.studies.sweep import SweepSpec, parse_grid, run_sweep
from sim.world.streams import replication_seeds

SHORT = "end_date=2025-06-30"  # a short horizon keeps a replication quick
OUTPUTS = ("bands.csv", "thresholds.csv", "replications.csv")
# an input that half its draws put below zero, where the schema wants a number >= 0 (its median is fine)
BAD_DRAW = "sites.openai_campus2.construction_days={dist: uniform, low: -1000, high: 1000.01}"


# --- setting up each case -----------------------------------------------------------------------

@dataclass
class Setup:
    """A case's command line and what must be left as it was."""

    argv: list[str]
    untouched: tuple[Path, ...] = ()  # must not exist afterwards (or be an empty folder)
    unchanged: tuple[Path, ...] = ()  # files and folders whose content must be the same afterwards
    timeout: float = 120
    cleanup: Callable[[], None] = lambda: None


def scenario_file(tmp: Path, text: str = "", name: str = "scenario.yaml") -> Path:
    """A scenario of the user's: the shipped baseline, extended."""
    path = tmp / name
    path.write_text(f"extends: {packaged_scenario()}\n{text}")
    return path


def finished_sweep(tmp: Path, scenario: Path, *sets: str, grid: tuple[str, ...] = (), n: int = 2) -> Path:
    """A finished sweep of `scenario` in tmp/out (run in-process: setup, not the case under test)."""
    out = tmp / "out"
    spec = SweepSpec(scenario=str(scenario.resolve()), overrides=(SHORT, *sets), n=n, grid=parse_grid(grid))
    run_sweep(spec, out, progress=False)
    return out


def sweep_argv(scenario: Path | None, out: Path, *more: str, n: int = 2) -> list[str]:
    return ["sweep", *([str(scenario)] if scenario else []), "-n", str(n), "--set", SHORT, "--out", str(out), *more]


def closed_port() -> int:
    """A port on this machine that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bad_draw_seed(n: int = 2) -> int:
    """A root seed whose first `n` replications all draw BAD_DRAW below zero (found, not assumed)."""
    template = load_template(None, (SHORT, BAD_DRAW))
    for root in range(1000):
        try:
            for index in range(n):
                try:
                    template.sample(replication_seeds(root, index)[0])
                except ScenarioError:
                    continue
                raise LookupError  # this replication's draw is allowed
        except LookupError:
            continue
        return root
    raise AssertionError("no root seed draws every replication out of bounds")  # pragma: no cover


def out_is_a_file(tmp: Path) -> Setup:
    out = tmp / "out"
    out.write_text("keep me\n")
    return Setup(sweep_argv(None, out), unchanged=(out,))


def out_inside_a_file(tmp: Path) -> Setup:
    (tmp / "file").write_text("keep me\n")
    return Setup(sweep_argv(None, tmp / "file" / "out"), unchanged=(tmp / "file",))


def replications_is_a_file(tmp: Path) -> Setup:
    out = tmp / "out"
    out.mkdir()
    (out / "replications").write_text("not a folder\n")
    return Setup(sweep_argv(None, out), unchanged=(out,))


def sweep_already_here(tmp: Path) -> Setup:
    scenario = scenario_file(tmp)
    out = finished_sweep(tmp, scenario)
    return Setup(sweep_argv(scenario, out), unchanged=(out,))


def resume_other(*more: str, n: int = 2, grid: tuple[str, ...] = ()) -> Callable[[Path], Setup]:
    """Finish a sweep, then --resume it with other arguments."""
    def setup(tmp: Path) -> Setup:
        scenario = scenario_file(tmp)
        out = finished_sweep(tmp, scenario, grid=grid)
        return Setup(sweep_argv(scenario, out, "--resume", *more, n=n), unchanged=(out,))
    return setup


def resume_edited_scenario(tmp: Path) -> Setup:
    scenario = scenario_file(tmp, "tick_days: 7\n")
    out = finished_sweep(tmp, scenario)
    scenario.write_text(scenario.read_text().replace("tick_days: 7", "tick_days: 14"))
    return Setup(sweep_argv(scenario, out, "--resume"), unchanged=(out,))


def resume_edited_parent(tmp: Path) -> Setup:
    parent = scenario_file(tmp, "tick_days: 7\n", name="parent.yaml")
    child = tmp / "child.yaml"
    child.write_text("extends: parent.yaml\n")
    out = finished_sweep(tmp, child)
    parent.write_text(parent.read_text().replace("tick_days: 7", "tick_days: 14"))
    return Setup(sweep_argv(child, out, "--resume"), unchanged=(out,))


def resume_edited_topology(tmp: Path) -> Setup:
    shutil.copy(packaged_topology("baseline_sites"), tmp / "sites.yaml")
    scenario = scenario_file(tmp, "topology: sites.yaml\n")
    out = finished_sweep(tmp, scenario)
    topology = tmp / "sites.yaml"
    text = topology.read_text()
    assert "hop_latency_s: 1.0e-6" in text
    topology.write_text(text.replace("hop_latency_s: 1.0e-6", "hop_latency_s: 2.0e-6", 1))
    return Setup(sweep_argv(scenario, out, "--resume"), unchanged=(out,))


def resume_while_running(tmp: Path) -> Setup:
    """A second command resuming a sweep that is still running: refused at once by the folder's lock."""
    out = tmp / "out"
    argv = ["sweep", "-n", "40", "--workers", "2", "--out", str(out)]
    first = subprocess.Popen([sys.executable, "-m", "sim", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while count(out) < 1 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.poll() is None, "the first sweep ended before the second could start"

    def cleanup() -> None:
        first.kill()
        first.wait()
    return Setup([*argv, "--resume"], cleanup=cleanup)


def damaged_manifest(content: str) -> Callable[[Path], Setup]:
    def setup(tmp: Path) -> Setup:
        scenario = scenario_file(tmp)
        out = finished_sweep(tmp, scenario)
        (out / "sweep.json").write_text(content)
        return Setup(sweep_argv(scenario, out, "--resume"), unchanged=(out,))
    return setup


def manifest_without_digest(tmp: Path) -> Setup:
    """A sweep.json as an older sim wrote it: the spec, no digest of the scenario."""
    scenario = scenario_file(tmp)
    out = finished_sweep(tmp, scenario)
    manifest = json.loads((out / "sweep.json").read_text())
    del manifest["scenario_sha256"]
    (out / "sweep.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return Setup(sweep_argv(scenario, out, "--resume"), unchanged=(out,))


def replications_without_manifest(tmp: Path) -> Setup:
    scenario = scenario_file(tmp)
    out = finished_sweep(tmp, scenario)
    (out / "sweep.json").unlink()
    return Setup(sweep_argv(scenario, out, "--resume"), unchanged=(out,))


def bad_draw(workers: int, existing_folder: bool = False) -> Callable[[Path], Setup]:
    """Every replication draws a value the scenario does not allow: refused, and nothing left behind
    (not even sweep.json, which would make the next sweep into the folder a refused one)."""
    def setup(tmp: Path) -> Setup:
        out = tmp / "out"
        if existing_folder:
            out.mkdir()
        argv = sweep_argv(None, out, "--set", BAD_DRAW, "--seed", str(bad_draw_seed()), "--workers", str(workers))
        return Setup(argv, untouched=(out,))
    return setup


def grid(*values: str) -> Callable[[Path], Setup]:
    def setup(tmp: Path) -> Setup:
        out = tmp / "out"
        return Setup(sweep_argv(None, out, *(a for v in values for a in ("--grid", v))), untouched=(out,))
    return setup


def missing_scenario(tmp: Path) -> Setup:
    return Setup(sweep_argv(tmp / "nowhere.yaml", tmp / "out"), untouched=(tmp / "out",))


def dask(address: str | Callable[[], str]) -> Callable[[Path], Setup]:
    def setup(tmp: Path) -> Setup:
        out = tmp / "out"
        where = address() if callable(address) else address
        return Setup(sweep_argv(None, out, "--workers", "2", "--dask", where), untouched=(out,), timeout=60)
    return setup


def unreachable() -> str:
    pytest.importorskip("distributed")
    return f"tcp://127.0.0.1:{closed_port()}"


SWEEPS = [
    (Case("sweeps", "out-is-a-file", ("out: ", "is a file, not a folder")), out_is_a_file),
    (Case("sweeps", "out-inside-a-file", ("cannot create this folder", "file is a file, not a folder")),
     out_inside_a_file),
    (Case("sweeps", "replications-is-a-file", ("replications: (sweep):", "not the replications folder")),
     replications_is_a_file),
    (Case("sweeps", "sweep-already-here", ("a sweep is already here", "--resume")), sweep_already_here),
    (Case("sweeps", "resume-with-other-n",
          ("sweep.json: (sweep):", "--resume must repeat", "-n differs from the one in sweep.json: 2 there, 3 here")),
     resume_other(n=3)),
    (Case("sweeps", "resume-with-other-seed", ("--resume must repeat", "--seed differs")), resume_other("--seed", "5")),
    (Case("sweeps", "resume-with-other-set", ("--resume must repeat", "--set differs")),
     resume_other("--set", "tick_days=14")),
    (Case("sweeps", "resume-with-other-grid", ("--resume must repeat", "--grid differs")),
     resume_other("--grid", "tick_days=7,14")),
    (Case("sweeps", "resume-after-scenario-edited",
          ("sweep.json: (sweep): the scenario changed since the sweep started",)),
     resume_edited_scenario),
    (Case("sweeps", "resume-after-parent-edited", ("(sweep): the scenario changed since the sweep started",)),
     resume_edited_parent),
    (Case("sweeps", "resume-after-topology-edited", ("(sweep): the scenario changed since the sweep started",)),
     resume_edited_topology),
    (Case("sweeps", "resume-while-running", ("another sim command is writing to this folder",)), resume_while_running),
    (Case("sweeps", "resume-with-empty-manifest", ("sweep.json: (sweep): is damaged (empty)",)), damaged_manifest("")),
    (Case("sweeps", "resume-with-garbage-manifest", ("sweep.json: (sweep): is damaged (not readable JSON)",)),
     damaged_manifest('{"n": 2, "grid": [')),
    (Case("sweeps", "resume-with-list-manifest", ("sweep.json: (sweep): is damaged (not a JSON object)",)),
     damaged_manifest("[]\n")),
    (Case("sweeps", "resume-of-a-sweep-without-digest", ("sweep.json: (sweep): records no digest of the scenario",)),
     manifest_without_digest),
    (Case("sweeps", "replications-without-manifest", ("replication files but no sweep.json",)),
     replications_without_manifest),
    (Case("sweeps", "bad-draw-on-two-workers", ("--set: sites.openai_campus2.construction_days:", "in replication",
                                                "of cell 0, seed")), bad_draw(workers=2)),
    (Case("sweeps", "bad-draw-serial", ("sites.openai_campus2.construction_days:", "in replication 0 of cell 0")),
     bad_draw(workers=1)),
    (Case("sweeps", "bad-draw-into-an-empty-folder", ("construction_days:", "in replication")),
     bad_draw(workers=2, existing_folder=True)),
    (Case("sweeps", "grid-cell-out-of-bounds", ("--grid: tick_days:", "in the cell tick_days=-3")),
     grid("tick_days=7,-3")),
    (Case("sweeps", "grid-unknown-key", ("--grid: no:", "unknown key")), grid("no.such.key=1,2")),
    (Case("sweeps", "grid-unknown-topology", ("--grid: topology: nosuch: no such file or shipped topology",)),
     grid("topology=ring_5_us,nosuch")),
    (Case("sweeps", "missing-scenario", ("nowhere.yaml",)), missing_scenario),
    (Case("arguments", "dask-not-an-address", ("--dask: not a scheduler address: not an address", "tcp://HOST:PORT")),
     dask("not an address")),
    (Case("arguments", "dask-port-out-of-range", ("--dask: not a scheduler address: 127.0.0.1:99999",)),
     dask("127.0.0.1:99999")),
    (Case("arguments", "dask-no-port", ("--dask: not a scheduler address: tcp://127.0.0.1",)), dask("tcp://127.0.0.1")),
    (Case("arguments", "dask-other-scheme", ("--dask: not a scheduler address: http://127.0.0.1:8786",)),
     dask("http://127.0.0.1:8786")),
    (Case("arguments", "dask-unreachable", ("--dask: cannot reach scheduler at tcp://127.0.0.1:", "no answer in 5 s")),
     dask(unreachable)),
]
CASES = [case for case, _ in SWEEPS]


def snapshot(paths: tuple[Path, ...]) -> dict[Path, bytes | None]:
    """Every file under `paths` and its bytes."""
    files: dict[Path, bytes | None] = {}
    for path in paths:
        for p in [path, *(path.rglob("*") if path.is_dir() else ())]:
            files[p] = p.read_bytes() if p.is_file() else None
    return files


@pytest.mark.parametrize(("case", "setup"), SWEEPS, ids=[case.name for case in CASES])
def test_bad_sweep_is_refused_in_one_line(case, setup, tmp_path):
    given = setup(tmp_path)
    try:
        before = snapshot(given.unchanged)
        proc = run_sim(*given.argv, cwd=tmp_path, timeout=given.timeout)
        assert_refused(proc, *case.says, untouched=given.untouched)
        assert snapshot(given.unchanged) == before  # a refused resume leaves the sweep as it was
    finally:
        given.cleanup()


# --- failures that are not bad input: one line, exit 1 --------------------------------------------

PATCHED_SIM = """
import os, signal, sys
import sim.studies.sweep as sweep
from sim.cli import main
real_run, failing_seed = sweep.run, sweep.replication_seeds(0, 3)[1]
def run(scenario, seed):
    if seed == failing_seed:
        {failure}
    return real_run(scenario, seed=seed)
sweep.run = run  # pool workers are forked from this process, so they run it too
sys.exit(main(sys.argv[1:]))
"""


def run_patched(failure: str, *argv: str) -> subprocess.CompletedProcess:
    """`sim ARGV` whose replication 3 fails as `failure` says (a bug in the simulator, not bad input)."""
    code = PATCHED_SIM.replace("{failure}", failure)
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_replication_that_fails_is_one_line_naming_it(workers, tmp_path):
    proc = run_patched("raise ZeroDivisionError('division by zero')",
                       *sweep_argv(None, tmp_path / "out", "--workers", workers, n=6))
    assert proc.returncode == 1, proc.stderr
    seed = replication_seeds(0, 3)[1]
    assert proc.stderr == f"error: replication 3 of cell 0, seed {seed} failed: ZeroDivisionError: division by zero\n"


def test_a_worker_that_dies_is_one_line(tmp_path):
    argv = sweep_argv(None, tmp_path / "out", "--workers", "2", n=6)
    proc = run_patched("os.kill(os.getpid(), signal.SIGKILL)", *argv)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: a worker process died") and proc.stderr.count("\n") == 1, proc.stderr


# --- killed sweeps --------------------------------------------------------------------------------

FAULT_N = "6"  # the fault test: a small sweep on 2 workers, default horizon (replications ~0.2 s)


def fault_argv(out: Path, *more: str) -> list[str]:
    return ["sweep", "-n", FAULT_N, "--workers", "2", "--out", str(out), *more]


def outputs(out: Path) -> dict[str, bytes]:
    """The summary tables and every replication file."""
    files = {name: (out / name).read_bytes() for name in OUTPUTS}
    files.update({f"replications/{p.name}": p.read_bytes() for p in sorted((out / "replications").glob("*"))})
    return files


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """The sweep run without interruption."""
    out = tmp_path_factory.mktemp("fault") / "whole"
    proc = run_sim(*fault_argv(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def uninterrupted(whole) -> dict[str, bytes]:
    return outputs(whole)


def _processes() -> dict[int, tuple[int, str]]:
    """pid: (parent pid, state) of every process, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            table[int(entry)] = (int(fields[1]), fields[0].decode())
    return table


def descendants(pid: int) -> set[int]:
    table = _processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, (parent, _) in table.items() if parent in frontier} - found
        found |= frontier
    return found


def running(pids: set[int]) -> set[int]:
    """The ones still running (an exited process left as a zombie is not)."""
    table = _processes()
    return {pid for pid in pids if pid in table and table[pid][1] not in ("Z", "X")}


def wait_gone(pids: set[int], seconds: float = 10) -> set[int]:
    deadline = time.monotonic() + seconds
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running(pids)


def count(out: Path) -> int:
    folder = out / "replications"
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


def start_and_kill(argv: list[str], until: Callable[[], bool], deadline_s: float = 120) -> int:
    """Start `sim ARGV`, SIGKILL it (it alone, not its process group) once `until()` holds, and
    wait until its pool workers are gone; returns the number of replication files at the kill."""
    proc = subprocess.Popen([sys.executable, "-m", "sim", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + deadline_s
    kids: set[int] = set()
    try:
        while not until() and proc.poll() is None and time.monotonic() < deadline:
            kids |= descendants(proc.pid)
            time.sleep(0.005)
    finally:
        kids |= descendants(proc.pid)
        proc.kill()
        proc.wait()
    assert not wait_gone(kids), "pool workers outlived the killed sweep"
    return count(Path(argv[argv.index("--out") + 1]))


def after(seconds: float) -> Callable[[], bool]:
    start = time.monotonic()
    return lambda: time.monotonic() - start >= seconds


def once(out: Path, files: int, then: float = 0.0) -> Callable[[], bool]:
    """Kill once `files` replication files exist and `then` more seconds have passed."""
    since: list[float] = []

    def ready() -> bool:
        if not since and count(out) >= files:
            since.append(time.monotonic())
        return bool(since) and time.monotonic() - since[0] >= then
    return ready


def at_random(rng: random.Random) -> Callable[[Path], Callable[[], bool]]:
    """A random point of a run: after a random number of finished replications and a random delay."""
    files, then = rng.randrange(int(FAULT_N)), rng.uniform(0.0, 0.25)
    return lambda out: once(out, files, then)


RNG = random.Random(20250601)  # seeded: the same "random" kill points on every run
KILL_POINTS = {
    "before-anything": [lambda out: after(0.0)],
    "during-start-up": [lambda out, s=RNG.uniform(0.1, 0.8): after(s)],
    "manifest-only": [lambda out: lambda: (out / "sweep.json").exists()],
    "first-replication": [lambda out: once(out, 1)],
    "mid-way": [lambda out: once(out, 3)],
    **{f"random-{i}": [at_random(RNG)] for i in range(3)},
    "twice-at-random": [at_random(RNG), at_random(RNG)],
    "resume-killed-mid-way": [lambda out: once(out, 2), lambda out: once(out, 4)],
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_sweep_killed_at_any_point_resumes_to_the_same_bytes(point, uninterrupted, tmp_path):
    """kill -9 of `sim sweep` (and of its resume), then `--resume`: nothing lost, nothing mixed, the
    same bytes as an uninterrupted run."""
    out = tmp_path / "killed"
    for i, kill_when in enumerate(KILL_POINTS[point]):
        start_and_kill(fault_argv(out, *(["--resume"] if i else [])), kill_when(out))
    assert not (out / "bands.csv").exists() or count(out) == int(FAULT_N)  # tables only once all are done
    proc = run_sim(*fault_argv(out, "--resume"))
    assert proc.returncode == 0, proc.stderr
    assert outputs(out) == uninterrupted
    assert not list(out.rglob(".*.tmp"))  # the half-written files of the killed runs are cleared


def test_a_killed_sweep_leaves_no_pool_workers(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", "-n", "40", "--workers", "2", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while count(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        workers = descendants(proc.pid)
    finally:
        proc.kill()  # kill -9 of the sweep alone: its workers must go by themselves
        proc.wait()
    assert len(workers) >= 2, workers
    assert not wait_gone(workers), "pool workers outlived the killed sweep"


# --- damaged replication files --------------------------------------------------------------------

DAMAGE: dict[str, Callable[[Path, bytes], None]] = {  # how to damage a file, given another replication's bytes
    "empty": lambda path, other: path.write_bytes(b""),
    "cut short": lambda path, other: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]),
    "not an object": lambda path, other: path.write_text("[1, 2, 3]\n"),
    "keys missing": lambda path, other: path.write_text('{"cell": 0, "replication": 3}\n'),
    "another replication's": lambda path, other: path.write_bytes(other),
    "not text": lambda path, other: path.write_bytes(b"\xff\xfe\x00garbage"),
}


def test_damaged_replication_files_are_run_again(whole, uninterrupted, tmp_path):
    out = tmp_path / "damaged"
    shutil.copytree(whole, out)
    files = sorted((out / "replications").glob("*.json"))
    first = files[0].read_bytes()
    assert len(files) == len(DAMAGE)
    for damage, path in zip(DAMAGE.values(), files):
        damage(path, first if path != files[0] else files[1].read_bytes())
    (out / "bands.csv").unlink()
    proc = run_sim(*fault_argv(out, "--resume"))
    assert proc.returncode == 0, proc.stderr
    assert outputs(out) == uninterrupted


def test_resume_accepts_a_scenario_edited_only_in_comments(tmp_path):
    """The digest is of the resolved content: comments and layout may change, values may not."""
    scenario = scenario_file(tmp_path, "tick_days: 7\n")
    out = finished_sweep(tmp_path, scenario)
    scenario.write_text(scenario.read_text().replace("tick_days: 7", "tick_days:   7    # a comment"))
    proc = run_sim(*sweep_argv(scenario, out, "--resume"))
    assert proc.returncode == 0, proc.stderr
