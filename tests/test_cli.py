"""The real `sim` command, run as a user would: python -m sim run ..."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

OUTPUTS = ["runs.csv", "timeseries.csv", "frontier.csv", "summary.json"]
RUN_COLUMNS = ["run", "lab", "start", "end", "gpus", "gpu_type", "sites", "flop", "mfu", "binding_constraint"]


def sim_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def baseline_out(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("cli") / "baseline"
    proc = sim_cli("run", "--out", str(out))
    return out, proc


def test_run_without_arguments_runs_the_shipped_baseline(baseline_out):
    out, proc = baseline_out
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "baseline"
    assert summary["seed"] == 0


def test_run_prints_a_summary_per_year(baseline_out):
    _, proc = baseline_out
    lines = proc.stdout.splitlines()
    for year in range(2024, 2031):
        assert any(line.strip().startswith(str(year)) for line in lines), f"no line for {year}"
    assert "delivered H100e" in proc.stdout and "power online GW" in proc.stdout
    assert "largest completed run" in proc.stdout


def test_runs_csv_has_the_promised_columns_and_real_runs(baseline_out):
    out, _ = baseline_out
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns[: len(RUN_COLUMNS)]) == RUN_COLUMNS
    assert len(runs) >= 3
    assert (runs["flop"] > 0).all()
    assert ((runs["mfu"] > 0) & (runs["mfu"] < 1)).all()
    assert set(runs["binding_constraint"]) <= {"chips", "power"}


def test_timeseries_is_tidy_and_frontier_covers_every_month(baseline_out):
    out, _ = baseline_out
    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts.columns) == ["date", "entity", "metric", "value"]
    assert not ts.duplicated(["date", "entity", "metric"]).any()
    frontier = pd.read_csv(out / "frontier.csv")
    months = frontier["date"].unique()
    assert len(months) >= 84  # Jan 2024 .. Dec 2030, plus the end date
    assert set(frontier["constraint"]) == {"chips", "power", "combined"}


def test_set_overrides_a_key_from_the_command_line(tmp_path):
    out = tmp_path / "short"
    proc = sim_cli("run", "--out", str(out), "--set", "end_date=2025-06-30", "--set", "frontier.duration_days=90")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["end_date"] == "2025-06-30"
    frontier = pd.read_csv(out / "frontier.csv")
    assert frontier["date"].max() <= "2025-06-30"


def test_a_scenario_that_extends_the_baseline(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text("extends: baseline\nname: no-xai\nlabs:\n  xai: {share_of_output: 0.0}\n")
    out = tmp_path / "out"
    proc = sim_cli("run", str(child), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "no-xai"
    ts = pd.read_csv(out / "timeseries.csv")
    xai = ts[(ts["entity"] == "xai") & (ts["metric"] == "delivered_h100e_total")]
    assert xai["value"].max() == 0


def test_seed_is_recorded(tmp_path):
    proc = sim_cli("run", "--out", str(tmp_path / "s7"), "--seed", "7", "--set", "end_date=2024-12-31")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "s7" / "summary.json").read_text())["seed"] == 7


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("sim")
    assert exe.exists(), "the `sim` console command is not installed next to this Python"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "run" in proc.stdout
