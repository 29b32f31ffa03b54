"""`sim backtest` and the table behind it (sim.studies.backtest): the shipped 2022 scenario run once, every
row PASS within its stated tolerance, exit status 1 when a row fails, backtest.csv written whole."""
from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

import sim.cli
from sim.cli import main
from sim.studies.backtest import CASES, COLUMNS, BacktestCase, case, rel, run_backtest, run_scenario


@pytest.fixture(scope="module")
def outputs():
    """The backtest scenario, run once for the module."""
    return run_scenario()


@pytest.fixture(scope="module")
def table(outputs):
    return run_backtest(outputs=outputs)


def test_table_has_a_row_per_case(table):
    assert list(table.columns) == COLUMNS
    assert len(table) == len(CASES) and table["case"].is_unique
    assert {"nvidia-dc-2022", "nvidia-dc-2023", "nvidia-hbm-2022", "nvidia-hbm-2023", "h100e-stock-2023",
            "h100e-production-2024", "cowos-bound-2023", "largest-run-2024"} == set(table["case"])


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_row_passes(table, case_id):
    row = table.set_index("case").loc[case_id]
    assert row["status"] == "PASS", row.to_dict()


def test_scenario_starts_in_2022_and_ends_in_2024(outputs):
    assert outputs.start_date == "2022-01-01"
    assert outputs.timeseries["date"].max().date().isoformat() == "2024-12-31"
    assert set(outputs.products("gpu")) == {"A100-SXM4-80GB", "H100-SXM5", "H200-SXM"}  # NVIDIA's HBM parts


def test_largest_run_is_llama_on_16k_h100(outputs):
    runs = outputs.runs
    run = runs[runs["run"] == "meta-llama3-405b"].iloc[0]
    assert run["status"] == "completed" and run["gpu_type"] == "H100-SXM5"
    assert 16_000 <= run["gpus"] <= 16_500  # the Llama 3 run's 16K H100, from the simulated deliveries


def test_bounds_follow_the_tolerance():
    r = case("r", "s", "d", 100.0, "u", rel(0.05), lambda out: 105.0)
    assert (r.low, r.high, r.tolerance) == (pytest.approx(95.0), pytest.approx(105.0), "±5%")
    ratio = case("f", "s", "d", 100.0, "u", {"kind": "ratio", "low": 0.2, "high": 0.5}, lambda out: 30.0)
    assert ratio.passes(30.0) and not ratio.passes(19.0) and ratio.tolerance == "x0.2-0.5"
    assert ratio.rel_error(30.0) == pytest.approx(-0.7)
    interval = case("i", "s", "d", 2.0, "u", {"kind": "interval", "low": 1.0, "high": 3.0, "label": "CI"},
                    lambda out: 2.9)
    assert interval.passes(2.9) and not interval.passes(3.1)
    with pytest.raises(ValueError):
        BacktestCase("z", "s", "d", 1.0, "u", 2.0, 1.0, "bad", lambda out: 1.0)


def test_cli_exits_1_when_a_case_fails(capsys, monkeypatch, outputs):
    bad = case("bad", "test", "off by 2x", 1.0, "u", rel(0.1), lambda out: 2.0)
    monkeypatch.setattr(sim.cli, "run_backtest", lambda: run_backtest([CASES[0], bad], outputs=outputs))
    assert main(["backtest"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^bad\s.*\bFAIL$", out, re.M) and "1/2 cases pass" in out


def test_python_m_sim_backtest_writes_backtest_csv(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sim", "backtest", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(CASES)}/{len(CASES)} cases pass" in proc.stdout and "FAIL" not in proc.stdout
    written = pd.read_csv(tmp_path / "backtest.csv")
    assert list(written.columns) == COLUMNS and len(written) == len(CASES)
    assert (written["status"] == "PASS").all()
    assert [p.name for p in tmp_path.iterdir()] == ["backtest.csv"]  # no temporary files left
