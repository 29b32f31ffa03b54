"""Hostile outputs: two commands writing one folder, output paths that cannot be written, `sim report`
on damaged or hand-edited folders, and `sim run` killed at any point.

Every refusal goes through the real command (refusal.run_sim) and the refusal contract
(refusal.assert_refused): one line, exit status 2, nothing written (a folder that was there is left
byte for byte as it was: no report.html, no lock file, no temporary file). The fault tests kill -9
`sim run` at seeded random points, some inside the write window (held open with the test hook
SIM_TEST_PAUSE_BEFORE_RENAME, see sim/outputs/files.py), and check that rerunning the command gives
the bytes of an uninterrupted run and leaves no temporary file, and that a kill inside the rename
window never leaves two runs mixed for any sim command (each file is whole, from one run or the
other, and the next command finishes the set from its journal).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from refusal import Case, assert_refused, run_sim
from sim.outputs.tables import RUN_COLUMNS

SHORT = ("--set", "end_date=2024-06-30")  # a half-year horizon keeps a run under a second
RUN_FILES = ("runs.csv", "timeseries.csv", "frontier.csv", "buildout.csv", "summary.json")  # in the order they are renamed
BUSY = "another sim command is writing to this folder"
PAUSE = "SIM_TEST_PAUSE_BEFORE_RENAME"

CASES = [
    # two writers
    Case("outputs", "second_run_into_a_folder_being_written", (BUSY,)),
    Case("outputs", "report_on_a_folder_being_written", (BUSY,)),
    Case("outputs", "compare_into_a_folder_being_written", (BUSY,)),
    # output paths
    Case("outputs", "out_is_a_file", ("it is a file, not a folder",)),
    Case("outputs", "out_is_inside_a_file", ("cannot create this folder", "is a file, not a folder")),
    Case("outputs", "out_where_the_system_refuses_a_folder", ("/proc/", "cannot create this folder")),
    Case("outputs", "compare_out_is_a_file", ("it is a file, not a folder",)),
    Case("outputs", "sensitivity_out_is_inside_a_file", ("cannot create this folder",)),
    Case("outputs", "validate_out_is_inside_a_file", ("cannot create this folder",)),
    # damaged run folders
    Case("outputs", "report_word_in_a_number_column", ("runs.csv: line 2, column flop: should be a number", '"lots"')),
    Case("outputs", "report_infinite_number", ("runs.csv: line 3, column gpus: should be a finite number",)),
    Case("outputs", "report_boolean_in_a_number_column", ("runs.csv: line 2, column stalled_days",)),
    Case("outputs", "report_bad_date", ("frontier.csv: line 5, column date: should be a date written YYYY-MM-DD",)),
    Case("outputs", "report_date_out_of_range", ("timeseries.csv", "column date", "between 1900 and 2199")),
    Case("outputs", "report_empty_text_cell", ("timeseries.csv", "column entity: is empty")),
    Case("outputs", "report_truncated_csv", ("timeseries.csv", "is cut short")),
    Case("outputs", "report_rows_lost", ("runs.csv: has 2 runs but summary.json says 3",)),
    Case("outputs", "report_extra_field",
         (f"runs.csv: line 3: has {len(RUN_COLUMNS) + 1} fields; the header has {len(RUN_COLUMNS)}",)),
    Case("outputs", "report_column_named_twice", ("runs.csv: line 1: the header names column run twice",)),
    Case("outputs", "report_missing_column", ("frontier.csv", "no column max_flop")),
    Case("outputs", "report_summary_missing_key", ("summary.json: seed: required key is missing",)),
    Case("outputs", "report_summary_missing_nested_key", ("summary.json: largest_run_completed.gpus: required key",)),
    Case("outputs", "report_summary_wrong_type", ("summary.json: years: should be a list of objects",)),
    Case("outputs", "report_summary_bad_date", ("summary.json: end_date: should be a date",)),
    Case("outputs", "report_summary_not_an_object", ("summary.json: should hold a JSON object",)),
    Case("outputs", "report_truncated_json", ("summary.json: line", "is not valid JSON")),
    Case("outputs", "report_json_nested_too_deeply", ("summary.json: is not valid JSON (nested too deeply)",)),
    Case("outputs", "report_empty_file", ("frontier.csv: is empty",)),
    Case("outputs", "report_binary_file", ("runs.csv: is not a text file",)),
    Case("outputs", "report_not_utf8", ("runs.csv: is not UTF-8 text",)),
    Case("outputs", "report_huge_file", ("timeseries.csv: is too large to report on", "the limit is 512 MB")),
    # damaged study folders
    Case("outputs", "report_compare_word_in_flop", ("compare.csv: line 3, column flop: should be a number",)),
    Case("outputs", "report_compare_json_wrong_type", ("compare.json: topologies: should be a list of text",)),
    Case("outputs", "report_thresholds_word_in_probability", ("thresholds.csv: line 2, column p_by_2025",)),
    Case("outputs", "report_sweep_json_bad_grid", ("sweep.json: grid: should be a list of [key, values] pairs",)),
    Case("outputs", "report_tornado_empty_swing", ("tornado.csv: line 2, column swing: is empty",)),
]


# --- helpers --------------------------------------------------------------------------------------

def snapshot(folder: Path) -> dict[str, bytes | tuple[int, int]]:
    """Every file in a folder (hidden ones too), by name: its bytes, or for a huge file its size and
    modification time."""
    def state(p: Path) -> bytes | tuple[int, int]:
        st = p.stat()
        return (st.st_size, st.st_mtime_ns) if st.st_size > 2**20 else p.read_bytes()

    return {p.name: state(p) for p in sorted(folder.iterdir()) if p.is_file()} if folder.is_dir() else {}


def leftovers(folder: Path) -> list[str]:
    """What a finished write must not leave: temporary files, the journal, the lock file."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def start_sim(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def kill9(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def in_write_window(out: Path) -> bool:
    """A writer holds the lock and has its temporary files and its journal on disk: with the test hook
    it is paused before its first rename."""
    journal = out / ".sim.journal"
    try:
        return journal.read_bytes().endswith(b"\n")
    except OSError:
        return False


class Writer:
    """A `sim run` holding OUT's lock, paused inside its write window until killed."""

    def __init__(self, out: Path, *args: str):
        self.proc = start_sim("run", "--out", str(out), *SHORT, *args, env={PAUSE: "120"})
        wait_for(lambda: in_write_window(out) or self.proc.poll() is not None, what="the writer's temporaries")
        assert self.proc.poll() is None, "the writer ended before its write window"

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        kill9(self.proc)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A short run's folder, written once; cases copy it."""
    out = tmp_path_factory.mktemp("outputs") / "run"
    proc = run_sim("run", "--out", str(out), *SHORT)
    assert proc.returncode == 0, proc.stderr
    return out


def copy_of(run_dir: Path, tmp: Path) -> Path:
    out = tmp / "damaged"
    shutil.copytree(run_dir, out)
    return out


def edit_field(path: Path, number: int, column: str, new: str) -> None:
    """Replace one field of a CSV line (1 = the header) by column name, whatever its value."""
    lines = path.read_text().split("\n")
    fields = lines[number - 1].split(",")
    fields[lines[0].split(",").index(column)] = new
    lines[number - 1] = ",".join(fields)
    path.write_text("\n".join(lines))


def edit_line(path: Path, number: int, old: str, new: str) -> None:
    lines = path.read_text().split("\n")
    assert old in lines[number - 1], (old, lines[number - 1])
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    path.write_text("\n".join(lines))


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2) + "\n")


# --- setting up each case -------------------------------------------------------------------------

@dataclass
class Setup:
    argv: list[str]
    untouched: tuple[Path, ...] = ()  # must not exist afterwards (or be an empty folder)
    unchanged: tuple[Path, ...] = ()  # folders and files whose bytes must be the same afterwards
    writer: Writer | None = None  # a command holding the folder's lock while the case runs


def _report(folder: Path) -> Setup:
    return Setup(["report", str(folder)], unchanged=(folder,))


def _damage(run_dir: Path, tmp: Path, damage: Callable[[Path], None]) -> Setup:
    out = copy_of(run_dir, tmp)
    damage(out)
    return _report(out)


def _compare_dir(tmp: Path) -> Path:
    out = tmp / "compare"
    out.mkdir()
    (out / "compare.csv").write_text("topology,run,flop,mfu,status\nsingle_campus,r1,1e+26,0.4,completed\n"
                                     "ring_5_us,r1,9e+25,0.36,completed\n")
    (out / "compare.json").write_text(json.dumps({"scenario": "baseline", "seed": 0, "topologies": ["a", "b"]}))
    return out


def _sweep_dir(tmp: Path) -> Path:
    out = tmp / "sweep"
    out.mkdir()
    (out / "bands.csv").write_text("date,metric,p10,p50,p90,mean\n2025-01-01,installed_h100e,1,2,3,2\n"
                                   "2025-02-01,installed_h100e,2,3,4,3\n")
    (out / "thresholds.csv").write_text("threshold_flop,replications,p_by_2025\n1e+26,4,0.5\n1e+27,4,0\n")
    (out / "sweep.json").write_text(json.dumps({"grid": [], "n": 4, "root_seed": 0, "scenario": None}))
    return out


def _tornado_dir(tmp: Path) -> Path:
    out = tmp / "tornado"
    out.mkdir()
    (out / "tornado.csv").write_text("input,low_value,high_value,output_at_low,output_at_high,output_at_median,swing\n"
                                     "training.kernel_efficiency,0.44,0.56,7.2e+27,9e+27,8.1e+27,1.8e+27\n")
    return out


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def setup(case: Case, tmp: Path, run_dir: Path) -> Setup:  # noqa: C901 - one branch per case
    name = case.name
    busy = tmp / "busy"
    if name == "second_run_into_a_folder_being_written":
        return Setup(["run", "--out", str(busy), *SHORT, "--seed", "1"], unchanged=(busy,), writer=Writer(busy))
    if name == "report_on_a_folder_being_written":
        shutil.copytree(run_dir, busy)  # a finished run there, being overwritten by a second run
        return Setup(["report", str(busy)], unchanged=(busy,), writer=Writer(busy, "--seed", "1"))
    if name == "compare_into_a_folder_being_written":
        return Setup(["compare", "--topology", "single_campus", "--topology", "ring_5_us", *SHORT, "--out", str(busy)],
                     unchanged=(busy,), writer=Writer(busy))
    a_file = tmp / "a_file"
    a_file.write_text("not a folder\n")
    if name == "out_is_a_file":
        return Setup(["run", "--out", str(a_file), *SHORT], unchanged=(a_file,))
    if name == "out_is_inside_a_file":
        return Setup(["run", "--out", str(a_file / "sub"), *SHORT], unchanged=(a_file,))
    if name == "out_where_the_system_refuses_a_folder":
        target = Path(f"/proc/sim-hostile-{os.getpid()}")
        return Setup(["run", "--out", str(target), *SHORT], untouched=(target,))
    if name == "compare_out_is_a_file":
        return Setup(["compare", "--topology", "single_campus", *SHORT, "--out", str(a_file)], unchanged=(a_file,))
    if name == "sensitivity_out_is_inside_a_file":
        return Setup(["sensitivity", *SHORT, "--out", str(a_file / "t")], unchanged=(a_file,))
    if name == "validate_out_is_inside_a_file":
        return Setup(["validate", "--out", str(a_file / "v")], unchanged=(a_file,))

    if name == "report_word_in_a_number_column":
        return _damage(run_dir, tmp, lambda d: edit_field(d / "runs.csv", 2, "flop", "lots"))
    if name == "report_infinite_number":
        return _damage(run_dir, tmp, lambda d: edit_field(d / "runs.csv", 3, "gpus", "1e400"))
    if name == "report_boolean_in_a_number_column":
        return _damage(run_dir, tmp, lambda d: edit_field(d / "runs.csv", 2, "stalled_days", "True"))
    if name == "report_bad_date":
        return _damage(run_dir, tmp, lambda d: edit_line(d / "frontier.csv", 5, "2024-01-01", "tomorrow"))
    if name == "report_date_out_of_range":
        return _damage(run_dir, tmp, lambda d: _replace(d / "timeseries.csv", "\n2024-03-01,", "\n9999-03-01,"))
    if name == "report_empty_text_cell":
        return _damage(run_dir, tmp, lambda d: _replace(d / "timeseries.csv", "\n2024-02-01,world,", "\n2024-02-01,,"))
    if name == "report_truncated_csv":
        def cut(d: Path) -> None:
            data = (d / "timeseries.csv").read_bytes()
            (d / "timeseries.csv").write_bytes(data[: data.index(b",", len(data) // 2) + 1])  # mid-line
            assert not (d / "timeseries.csv").read_bytes().endswith(b"\n")
        return _damage(run_dir, tmp, cut)
    if name == "report_rows_lost":
        return _damage(run_dir, tmp, lambda d: (d / "runs.csv").write_text(
            "\n".join((run_dir / "runs.csv").read_text().split("\n")[:3]) + "\n"))
    if name == "report_extra_field":
        return _damage(run_dir, tmp, lambda d: edit_line(d / "runs.csv", 3, "running_at_end", "running_at_end,extra"))
    if name == "report_column_named_twice":
        return _damage(run_dir, tmp, lambda d: edit_line(d / "runs.csv", 1, "run,lab,", "run,run,"))
    if name == "report_missing_column":
        return _damage(run_dir, tmp, lambda d: edit_line(d / "frontier.csv", 1, "max_flop", "maximum"))
    if name == "report_summary_missing_key":
        return _damage(run_dir, tmp, lambda d: edit_json(d / "summary.json", lambda s: s.pop("seed")))
    if name == "report_summary_missing_nested_key":
        return _damage(run_dir, tmp, lambda d: edit_json(d / "summary.json",
                                                         lambda s: s["largest_run_completed"].pop("gpus")))
    if name == "report_summary_wrong_type":
        return _damage(run_dir, tmp, lambda d: edit_json(d / "summary.json", lambda s: s.update(years="lots")))
    if name == "report_summary_bad_date":
        return _damage(run_dir, tmp, lambda d: edit_json(d / "summary.json", lambda s: s.update(end_date="2024-13-45")))
    if name == "report_summary_not_an_object":
        return _damage(run_dir, tmp, lambda d: (d / "summary.json").write_text("[1, 2]\n"))
    if name == "report_truncated_json":
        return _damage(run_dir, tmp, lambda d: (d / "summary.json").write_bytes(
            (run_dir / "summary.json").read_bytes()[:300]))
    if name == "report_json_nested_too_deeply":
        return _damage(run_dir, tmp, lambda d: (d / "summary.json").write_text("[" * 200_000))
    if name == "report_empty_file":
        return _damage(run_dir, tmp, lambda d: (d / "frontier.csv").write_bytes(b""))
    if name == "report_binary_file":
        return _damage(run_dir, tmp, lambda d: (d / "runs.csv").write_bytes(random.Random(1).randbytes(4096)))
    if name == "report_not_utf8":
        return _damage(run_dir, tmp, lambda d: (d / "runs.csv").write_bytes(
            (run_dir / "runs.csv").read_bytes().replace(b"meta", b"m\xe9ta")))
    if name == "report_huge_file":
        def huge(d: Path) -> None:
            with open(d / "timeseries.csv", "r+b") as fh:
                fh.truncate(600 * 2**20)  # sparse: 600 MB on paper, nothing on disk
        return _damage(run_dir, tmp, huge)

    if name == "report_compare_word_in_flop":
        out = _compare_dir(tmp)
        _replace(out / "compare.csv", "9e+25", "ninety")
        return _report(out)
    if name == "report_compare_json_wrong_type":
        out = _compare_dir(tmp)
        edit_json(out / "compare.json", lambda s: s.update(topologies="a,b"))
        return _report(out)
    if name == "report_thresholds_word_in_probability":
        out = _sweep_dir(tmp)
        _replace(out / "thresholds.csv", ",0.5\n", ",half\n")
        return _report(out)
    if name == "report_sweep_json_bad_grid":
        out = _sweep_dir(tmp)
        edit_json(out / "sweep.json", lambda s: s.update(grid={"a": [1, 2]}))
        return _report(out)
    if name == "report_tornado_empty_swing":
        out = _tornado_dir(tmp)
        _replace(out / "tornado.csv", ",1.8e+27\n", ",\n")
        return _report(out)
    raise AssertionError(f"no setup for {name}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused(case: Case, tmp_path: Path, run_dir: Path):
    s = setup(case, tmp_path, run_dir)
    try:
        before = {p: snapshot(p) if p.is_dir() else p.read_bytes() for p in s.unchanged}
        proc = run_sim(*s.argv, timeout=120)
        assert_refused(proc, *case.says, untouched=s.untouched)
        for path, was in before.items():
            assert (snapshot(path) if path.is_dir() else path.read_bytes()) == was, f"{path} was written"
        if s.writer is not None:
            assert s.writer.proc.poll() is None, "the first writer should still be writing"
    finally:
        if s.writer is not None:
            kill9(s.writer.proc)


def test_the_first_writer_finishes_and_its_folder_is_clean(tmp_path: Path, run_dir: Path):
    """Refusing a second writer does not disturb the first: it finishes with its own files, whole,
    and leaves neither the lock file nor a temporary file."""
    out = tmp_path / "out"
    first = start_sim("run", "--out", str(out), *SHORT, env={PAUSE: "1.0"})
    try:
        wait_for(lambda: in_write_window(out) or first.poll() is not None, what="the first writer's temporaries")
        assert_refused(run_sim("run", "--out", str(out), *SHORT, "--seed", "1"), BUSY)
        assert first.wait(timeout=60) == 0
    finally:
        kill9(first)
    assert snapshot(out) == snapshot(run_dir)


# --- kill -9 at random points ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def old_and_new(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """Two uninterrupted runs whose four files all differ (another seed and horizon), and the
    command line of the second."""
    base = tmp_path_factory.mktemp("runs")
    old, new = base / "old", base / "new"
    assert run_sim("run", "--out", str(old), "--set", "end_date=2024-03-31").returncode == 0
    argv = ["run", "--seed", "1", *SHORT]
    assert run_sim(*argv, "--out", str(new)).returncode == 0
    for name in RUN_FILES:
        assert (old / name).read_bytes() != (new / name).read_bytes(), name
    return old, new, argv


def kill_after_renames(argv: list[str], out: Path, new: Path, renamed: int, rng: random.Random) -> subprocess.Popen:
    """Start ARGV into OUT with the write window held open (1 s before each rename), wait until
    `renamed` files hold the new bytes, then kill -9 it a seeded random moment later, still inside
    the pause before the next rename."""
    proc = start_sim(*argv, "--out", str(out), env={PAUSE: "1.0"})
    try:
        def done() -> int:
            return sum((out / n).is_file() and (out / n).read_bytes() == (new / n).read_bytes() for n in RUN_FILES)

        wait_for(lambda: (in_write_window(out) and done() >= renamed) or proc.poll() is not None,
                 what=f"{renamed} renames")
        time.sleep(rng.uniform(0.0, 0.4))
    finally:
        kill9(proc)
    return proc


def test_a_killed_run_rerun_gives_the_bytes_of_an_uninterrupted_run(tmp_path: Path, old_and_new):
    """kill -9 at seeded random moments (while starting, while simulating, inside the write window
    before and between renames), then the same command again: the uninterrupted run's bytes, and
    no temporary file, journal or lock file left."""
    _, new, argv = old_and_new
    rng = random.Random(20240630)
    points = [("delay", rng.uniform(0.05, 1.2)) for _ in range(3)] + [("renamed", k) for k in (0, 2)]
    for i, (kind, at) in enumerate(points):
        out = tmp_path / f"kill{i}"
        if kind == "delay":
            proc = start_sim(*argv, "--out", str(out))
            time.sleep(at)
            kill9(proc)
        else:
            kill_after_renames(argv, out, new, at, rng)
        for name in RUN_FILES:  # whatever is there is whole
            if (out / name).exists():
                assert (out / name).read_bytes() == (new / name).read_bytes(), (kind, at, name)
        proc = run_sim(*argv, "--out", str(out))
        assert proc.returncode == 0, (kind, at, proc.stderr)
        assert snapshot(out) == snapshot(new), (kind, at, leftovers(out))


def test_a_kill_in_the_rename_window_never_leaves_two_runs_mixed(tmp_path: Path, old_and_new):
    """A folder holding one run's files, overwritten by another run killed between its renames: each
    file is whole, from one run or the other; the journal the kill leaves makes the next sim command
    on the folder (here `sim report`) finish the set first, so no sim command sees the mix and the
    folder ends holding the new run only. Killed while still simulating, the old run stays whole."""
    old, new, argv = old_and_new
    rng = random.Random(7)
    for renamed in (1, 3):
        out = tmp_path / f"mixed{renamed}"
        shutil.copytree(old, out)
        kill_after_renames(argv, out, new, renamed, rng)
        sources = {}
        for name in RUN_FILES:
            data = (out / name).read_bytes()
            assert data in ((old / name).read_bytes(), (new / name).read_bytes()), name
            sources[name] = "new" if data == (new / name).read_bytes() else "old"
        assert list(sources.values()).count("new") == renamed, sources  # file by file, in order
        assert (out / ".sim.journal").is_file()
        proc = run_sim("report", str(out))
        assert proc.returncode == 0, proc.stderr
        files = snapshot(out)
        assert sorted(files) == sorted([*RUN_FILES, "report.html"]), leftovers(out)
        for name in RUN_FILES:
            assert files[name] == (new / name).read_bytes(), name
        assert '<th>seed</th><td>1</td>' in files["report.html"].decode()
    out = tmp_path / "early"
    shutil.copytree(old, out)
    proc = start_sim(*argv, "--out", str(out))
    wait_for(lambda: (out / ".sim.lock").exists() or proc.poll() is not None, what="the lock")
    kill9(proc)
    assert all((out / n).read_bytes() == (old / n).read_bytes() for n in RUN_FILES)
    assert run_sim("report", str(out)).returncode == 0
    assert sorted(snapshot(out)) == sorted([*RUN_FILES, "report.html"])
    assert all((out / n).read_bytes() == (old / n).read_bytes() for n in RUN_FILES)
