"""Same scenario and seed give byte-identical files."""
from __future__ import annotations

import sim


def test_same_seed_gives_identical_files(tmp_path, baseline):
    first = sim.run(baseline, seed=3)
    second = sim.run(baseline, seed=3)
    first.write(tmp_path / "a")
    second.write(tmp_path / "b")
    for name in ["runs.csv", "timeseries.csv", "frontier.csv", "summary.json"]:
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
