"""`sim validate` and the table behind it (sim.studies.validate): every row computed, PASS/FAIL by its
tolerance, exit status 1 when any fails, validation.csv written whole, and the README's copy current."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sim.cli
from sim.cli import main
from sim.studies.validate import CASES, COLUMNS, ValidationCase, markdown_table, run_validation

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def table():
    return run_validation()


def test_table_has_a_row_per_case_and_all_pass(table):
    assert list(table.columns) == COLUMNS
    assert len(table) == len(CASES) >= 14
    assert table["case"].is_unique
    assert (table["status"] == "PASS").all(), table[table["status"] != "PASS"].to_string()


def test_every_public_case_is_covered(table):
    """Epoch's ten cases (Epoch 2030, App. E), Daly's three intervals, the ring
    all-reduce by hand, the nccl-tests busbw identity and the 16,384-GPU job MTTF."""
    sources = set(table["source"])
    assert {f"Epoch 2030 #{i}" for i in range(1, 11)} <= sources
    assert {"daly-24h", "daly-6h", "daly-15min", "ring-allreduce", "nccl-busbw", "mttf-16k"} <= set(table["case"])
    assert {"epoch-3a", "epoch-3b", "epoch-8b", "epoch-8c"} <= set(table["case"])  # multi-value cases split


def test_rel_error_and_status_follow_the_tolerance():
    rel = ValidationCase("r", "s", "d", 100.0, "u", 0.05, "rel", lambda: 105.0)
    fac = ValidationCase("f", "s", "d", 100.0, "u", 2, "factor", lambda: 45.0)
    row_rel, row_fac = run_validation([rel, fac]).to_dict("records")
    assert row_rel["rel_error"] == pytest.approx(0.05) and row_rel["status"] == "PASS"
    assert row_fac["rel_error"] == pytest.approx(-0.55) and row_fac["status"] == "FAIL"  # below 100 / 2
    assert (row_rel["tolerance"], row_fac["tolerance"]) == ("±5%", "x2")
    assert ValidationCase("x", "s", "d", 100.0, "u", 2, "factor", lambda: 200.0).passes(200.0)
    assert not ValidationCase("y", "s", "d", 100.0, "u", 0.05, "rel", lambda: 0).passes(94.9)
    with pytest.raises(ValueError):
        ValidationCase("z", "s", "d", 1.0, "u", 0.5, "factor", lambda: 1.0)


def test_cli_prints_the_table_and_exits_0(capsys, tmp_path):
    assert main(["validate", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^epoch-1\s+Epoch 2030 #1\s.*\bPASS$", out, re.M)
    assert f"{len(CASES)}/{len(CASES)} cases pass" in out
    written = pd.read_csv(tmp_path / "validation.csv")
    assert list(written.columns) == COLUMNS and len(written) == len(CASES)
    assert [p.name for p in tmp_path.iterdir()] == ["validation.csv"]  # no temporary files left


def test_cli_exits_1_when_a_case_fails(capsys, monkeypatch, tmp_path):
    bad = ValidationCase("bad", "test", "off by 2x", 1.0, "u", 0.1, "rel", lambda: 2.0)
    monkeypatch.setattr(sim.cli, "run_validation", lambda: run_validation([CASES[0], bad]))
    assert main(["validate"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^bad\s.*\bFAIL$", out, re.M) and "1/2 cases pass" in out


def test_python_m_sim_validate():
    proc = subprocess.run([sys.executable, "-m", "sim", "validate"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "FAIL" not in proc.stdout and "PASS" in proc.stdout


def test_readme_shows_the_current_table(table):
    """The README's Validation section holds the table `sim validate` prints, as Markdown."""
    section = README.read_text().split("## Validation", 1)[1]
    assert markdown_table(table) in section
