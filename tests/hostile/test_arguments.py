"""Wrong command-line arguments: each refused with one line `error: --option: ...`, exit status 2,
before any work and with nothing written (the Dask address cases are in test_sweeps.py)."""
from __future__ import annotations

import pytest

from refusal import Case, assert_refused, run_sim

# (case, argv with OUT standing for a fresh output folder)
ARGUMENTS = [
    (Case("arguments", "negative-seed", ("--seed:", "between 0 and")), ["run", "--seed", "-1", "--out", "OUT"]),
    (Case("arguments", "fractional-seed", ("--seed:", "whole number", "1.5")), ["run", "--seed", "1.5", "--out", "OUT"]),
    (Case("arguments", "word-seed", ("--seed:", "whole number")), ["sweep", "--seed", "ten", "--out", "OUT"]),
    (Case("arguments", "seed-past-63-bits", ("--seed:", "between 0 and")), ["run", "--seed", str(2**64), "--out", "OUT"]),
    (Case("arguments", "zero-replications", ("-n:", "between 1 and")), ["sweep", "-n", "0", "--out", "OUT"]),
    (Case("arguments", "a-billion-replications", ("-n:", "between 1 and")), ["sweep", "-n", "1000000000", "--out", "OUT"]),
    (Case("arguments", "zero-workers-sweep", ("--workers:", "between 1 and")), ["sweep", "--workers", "0", "--out", "OUT"]),
    (Case("arguments", "zero-workers-sensitivity", ("--workers:", "between 1 and")),
     ["sensitivity", "--workers", "0", "--out", "OUT"]),
    (Case("arguments", "ten-thousand-workers", ("--workers:", "between 1 and")),
     ["sweep", "--workers", "10000", "--out", "OUT"]),
    (Case("arguments", "no-command", ("required", "command")), []),
    (Case("arguments", "unknown-command", ("command:", "invalid choice", "simulate")), ["simulate"]),
    (Case("arguments", "unknown-option", ("unrecognized arguments", "--bogus")), ["run", "--bogus", "--out", "OUT"]),
    (Case("arguments", "two-scenarios", ("unrecognized arguments",)), ["run", "a.yaml", "b.yaml", "--out", "OUT"]),
    (Case("arguments", "sweep-without-out", ("required", "--out")), ["sweep", "-n", "2"]),
    (Case("arguments", "compare-without-topology", ("required", "--topology")), ["compare", "--out", "OUT"]),
    (Case("arguments", "grid-without-values", ("--grid:", "key.path=value1,value2")), ["sweep", "--grid", "tick_days", "--out", "OUT"]),
    (Case("arguments", "set-without-equals", ("--set:", "path.to.key=value")), ["run", "--set", "tick_days", "--out", "OUT"]),
    (Case("arguments", "unknown-topology", ("no-such-topology", "no such file or shipped topology")),
     ["compare", "--topology", "no-such-topology", "--out", "OUT"]),
    (Case("arguments", "report-of-missing-folder", ("(report)", "no such folder")), ["report", "NOWHERE"]),
    (Case("arguments", "missing-scenario-file", ("no such file",)), ["run", "NOWHERE.yaml", "--out", "OUT"]),
]
CASES = [case for case, _ in ARGUMENTS]


@pytest.mark.parametrize(("case", "argv"), ARGUMENTS, ids=[case.name for case in CASES])
def test_bad_argument_is_refused_in_one_line(case, argv, tmp_path):
    out = tmp_path / "out"
    argv = [str(out) if a == "OUT" else str(tmp_path / "nowhere") if a == "NOWHERE"
            else str(tmp_path / "nowhere.yaml") if a == "NOWHERE.yaml" else a for a in argv]
    proc = run_sim(*argv, cwd=tmp_path)
    assert_refused(proc, *case.says, untouched=(out, tmp_path / "results"))


def test_an_unexpected_failure_is_one_line_and_debug_shows_the_traceback(tmp_path):
    """A bug (here: an unreadable scenario path that is a folder) never shows a traceback unless asked."""
    folder = tmp_path / "a_folder.yaml"
    folder.mkdir()
    proc = run_sim("run", str(folder), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1 and proc.returncode != 0
