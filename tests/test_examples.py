"""The scripts in examples/ run as a user would run them, with no arguments, on a short horizon.

Every example honours SIM_EXAMPLE_END (the scenario override `end_date=...`); here it is
2026-12-31 and the sweep example runs SIM_EXAMPLE_N=4 replications, so the whole file runs in
seconds. TMPDIR points at the test's folder, so outputs written to a temporary folder stay there.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
OUTPUT_FOLDERS = {"run_scenario.py": "sim-example-*", "stress_test_timeline.py": "sim-sweep-*"}
SHORT = {"SIM_EXAMPLE_END": "2026-12-31", "SIM_EXAMPLE_N": "4"}


def run_example(script: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **SHORT, "TMPDIR": str(tmp_path), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120)


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    assert "SIM_EXAMPLE_END" in script.read_text()  # every example can be run on a short horizon
    proc = run_example(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "FLOP" in proc.stdout or "flop" in proc.stdout
    assert "Traceback" not in proc.stderr
    if script.name in OUTPUT_FOLDERS:  # no OUT_DIR given: a new temporary folder (under TMPDIR here)
        (out,) = tmp_path.glob(OUTPUT_FOLDERS[script.name])
        assert str(out) in proc.stdout
        names = {p.name for p in out.iterdir()}
        assert {"runs.csv", "summary.json"} <= names or {"bands.csv", "thresholds.csv"} <= names
        if "figures skipped" not in proc.stdout:
            assert any(name.endswith(".png") for name in names)
