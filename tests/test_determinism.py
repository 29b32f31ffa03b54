"""Same scenario and seed give byte-identical files."""
from __future__ import annotations

from pathlib import Path

import pytest

import sim


def test_same_seed_gives_identical_files(tmp_path, baseline):
    first = sim.run(baseline, seed=3)
    second = sim.run(baseline, seed=3)
    first.write(tmp_path / "a")
    second.write(tmp_path / "b")
    for name in ["runs.csv", "timeseries.csv", "frontier.csv", "buildout.csv", "summary.json"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_outputs_are_written_whole_and_leave_no_temporary_files(tmp_path, baseline_result):
    written = baseline_result.write(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)
    for path in written:
        assert path.read_text() == baseline_result.files()[path.name]


def test_a_failed_write_leaves_earlier_files_untouched(tmp_path, baseline_result, monkeypatch):
    out = tmp_path / "out"
    baseline_result.write(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import sim.outputs.files as results  # Result.write renders, then sim.outputs.files writes and renames

    calls = {"n": 0}
    real_replace = results.os.replace

    def failing_replace(src, dst):
        calls["n"] += 1
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results.os, "replace", failing_replace)
    try:
        baseline_result.write(out)
    except OSError:
        pass
    monkeypatch.setattr(results.os, "replace", real_replace)
    assert calls["n"] == 1
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # no half-written file, no temporary left behind


# --- writing: fsync, the folder lock, the journal, stale temporaries ---------------------------------

def test_each_file_is_fsynced_before_its_rename_and_the_folder_after(tmp_path, baseline_result, monkeypatch):
    import sim.outputs.files as files

    events = []
    real_fsync, real_replace = files.os.fsync, files.os.replace

    def fsync(fd):
        events.append(("fsync", files.os.path.isdir(f"/proc/self/fd/{fd}") if files.os.path.exists("/proc/self/fd")
                       else None))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    baseline_result.write(tmp_path / "out")
    first = next(i for i, e in enumerate(events) if e[0] == "replace")
    last = max(i for i, e in enumerate(events) if e[0] == "replace")
    assert [e for e in events[:first] if e == ("fsync", False)][:4] == [("fsync", False)] * 4  # the four files
    assert ("fsync", True) in events[last:]  # the folder, after the renames
    assert [e[1] for e in events if e[0] == "replace"] == ["runs.csv", "timeseries.csv", "frontier.csv", "buildout.csv", "summary.json"]


def test_a_second_writer_is_refused_and_the_lock_file_goes_with_the_first(tmp_path):
    import fcntl
    import os

    from sim.outputs.files import LOCK_NAME, OutputError, output_lock, write_files

    out = tmp_path / "out"
    out.mkdir()
    other = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT)  # another process's lock (its own open file)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(OutputError, match="another sim command is writing to this folder"):
            write_files(out, {"a.csv": "x\n"})
        with pytest.raises(OutputError) as refused:
            with output_lock(out / "inside"):  # the other writer's lock covers the folders inside
                pass
        assert "which this folder is inside" in str(refused.value)
    finally:
        os.close(other)
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written, nothing made
    with output_lock(out):  # re-entrant: the command holds it, its writes and the report go through
        assert (out / LOCK_NAME).exists()
        write_files(out, {"a.csv": "x\n"})
        write_files(out / "sub", {"b.csv": "y\n"})  # a folder inside a held folder
        with output_lock(out):
            pass
        assert (out / LOCK_NAME).exists()
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "sub"]  # the holder removes the lock file
    assert sorted(p.name for p in (out / "sub").iterdir()) == ["b.csv"]


def test_a_refused_or_failed_command_leaves_no_folder_behind(tmp_path):
    from sim.outputs.files import OutputError, check_writable, output_lock

    check_writable(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()  # checking writes nothing
    with pytest.raises(RuntimeError):
        with output_lock(tmp_path / "made" / "here"):
            assert (tmp_path / "made" / "here").is_dir()
            raise RuntimeError("the simulation failed")
    assert not (tmp_path / "made").exists()
    (tmp_path / "file").write_text("x")
    for bad, says in ((tmp_path / "file", "it is a file, not a folder"),
                      (tmp_path / "file" / "sub", "is a file, not a folder")):
        with pytest.raises(OutputError, match=says):
            check_writable(bad)
        with pytest.raises(OutputError, match=says):
            with output_lock(bad):
                pass
    assert (tmp_path / "file").read_text() == "x"


def test_stale_temporaries_are_removed_and_other_hidden_files_kept(tmp_path, baseline_result):
    out = tmp_path / "out"
    out.mkdir()
    stale = [".runs.csv.ab12cd_3.tmp", ".summary.json.zzzzzzzz.tmp"]
    for name in stale:
        (out / name).write_text("half a fi")
    (out / ".keep").write_text("mine\n")
    (out / ".notes.tmp").write_text("mine too\n")  # not a name the writer makes
    baseline_result.write(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".keep", ".notes.tmp", "runs.csv", "timeseries.csv", "frontier.csv", "buildout.csv", "summary.json"])


def test_a_write_interrupted_between_renames_is_finished_by_the_next_writer(tmp_path, baseline_result, monkeypatch):
    import sim
    import sim.outputs.files as files
    from sim.outputs.files import JOURNAL_NAME, output_lock

    out = tmp_path / "out"
    old = sim.run(sim.load_scenario(overrides=["end_date=2024-03-31"]), seed=1)
    old.write(out)
    real_replace = files.os.replace
    calls = {"n": 0}

    def dies_after_two(src, dst):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt  # as if killed: nothing after this runs
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        baseline_result.write(out)
    monkeypatch.setattr(files.os, "replace", real_replace)
    new, was = baseline_result.files(), old.files()
    now = {name: (out / name).read_text() for name in new}
    assert [now[n] == new[n] for n in new] == [True, True, False, False, False]  # each file whole, in order
    assert [now[n] == was[n] for n in new] == [False, False, True, True, True]
    assert (out / JOURNAL_NAME).is_file()
    with output_lock(out):  # the next writer finishes the set before anything else
        pass
    assert {name: (out / name).read_text() for name in new} == new
    assert sorted(p.name for p in out.iterdir()) == sorted(new)


def test_a_damaged_journal_is_dropped_without_renaming_anything(tmp_path, baseline_result):
    from sim.outputs.files import JOURNAL_NAME, output_lock

    out = tmp_path / "out"
    baseline_result.write(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / ".runs.csv.aaaaaaaa.tmp").write_text("staged\n")
    (out / JOURNAL_NAME).write_text('{"renames": [[".runs.csv.aaaaaaaa.tmp", "../escape.csv"]')  # cut short
    with output_lock(out):
        pass
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    (out / ".x.aaaaaaaa.tmp").write_text("staged\n")
    (out / JOURNAL_NAME).write_text('{"renames": [[".x.aaaaaaaa.tmp", "../x"]]}\n')  # not a name in the folder
    with output_lock(out):
        pass
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not (tmp_path / "x").exists()
