"""A wrong scenario is refused before the run: one line `error: FILE: key.path: problem` on stderr,
exit status 2, no traceback, nothing written.

Every file in tests/bad_scenarios/ holds one fault, described in its comments; expected.yaml there
says which key path (and which words) the error must name. Each is run through the real command in
a subprocess, and also loaded in-process to check the ScenarioError's attributes.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import sim
from sim import ScenarioError

CORPUS = Path(__file__).resolve().parent / "bad_scenarios"
EXPECTED: dict[str, dict] = yaml.safe_load((CORPUS / "expected.yaml").read_text())


def sim_run(*args: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", "run", *args, "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )


def assert_refused(proc: subprocess.CompletedProcess, out: Path, file: str, key_path: str, problem: str) -> None:
    """Exit 2, exactly one stderr line naming file and key path, no traceback, nothing written."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and proc.stderr == lines[0] + "\n", f"want one stderr line, got:\n{proc.stderr}"
    line = lines[0]
    prefix = f"error: {file}: {key_path}: "
    assert line.startswith(prefix), f"\nwant: {prefix}...\ngot:  {line}"
    assert problem in line[len(prefix):], f"{problem!r} not in {line!r}"
    assert proc.stdout == ""
    assert not out.exists() or not any(out.iterdir()), f"{out} was written to: {list(out.iterdir())}"


def test_manifest_lists_every_corpus_file_and_no_other():
    on_disk = {p.name for p in CORPUS.glob("*.yaml")} - {"expected.yaml"}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) >= 20


def test_every_corpus_file_says_what_is_wrong():
    for name in EXPECTED:
        assert (CORPUS / name).read_text().lstrip().startswith("# FAULT:"), name


CASES = sorted(EXPECTED.items())
IDS = [name.removesuffix(".yaml") for name, _ in CASES]


@pytest.mark.parametrize(("name", "want"), CASES, ids=IDS)
def test_cli_refuses_bad_scenario(name, want, tmp_path):
    out = tmp_path / "out"
    proc = sim_run(str(CORPUS / name), out=out)
    fault_file = str((CORPUS / want.get("file", name)).resolve())
    assert_refused(proc, out, fault_file, want["path"], want["problem"])


@pytest.mark.parametrize(("name", "want"), CASES, ids=IDS)
def test_load_scenario_error_names_file_and_key_path(name, want):
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(CORPUS / name)
    err = info.value
    assert Path(err.file).resolve() == (CORPUS / want.get("file", name)).resolve()
    assert err.key_path == want["path"]
    assert want["problem"] in err.problem
    assert "\n" not in str(err)
    for internal in ("constrained-", "function-after", "[key]", "datetime.date(", "instance of"):
        assert internal not in str(err), str(err)


# --- --set overrides and the scenario path on the command line --------------------------------

SET_CASES = [
    pytest.param("tick_days", "tick_days", "expected path.to.key=value", id="no-equals"),
    pytest.param("frontier.durationdays=90", "frontier.durationdays", "unknown key", id="bad-key-path"),
    pytest.param("tick_days=abc", "tick_days", "should be a valid number (got 'abc')", id="bad-value-type"),
    pytest.param("runs.99.start=2025-01-01", "runs.99", "no list item 99", id="index-out-of-range"),
]


@pytest.mark.parametrize(("assignment", "key_path", "problem"), SET_CASES)
def test_cli_refuses_bad_set(assignment, key_path, problem, tmp_path):
    out = tmp_path / "out"
    proc = sim_run("--set", assignment, out=out)
    assert_refused(proc, out, "--set", key_path, problem)


def test_cli_refuses_missing_scenario_path(tmp_path):
    out = tmp_path / "out"
    missing = tmp_path / "no_such_scenario.yaml"
    proc = sim_run(str(missing), out=out)
    assert_refused(proc, out, str(missing), "(file)", "no such file")


# --- in-process only: cheap checks of attribution and wording -------------------------------

@pytest.mark.parametrize(
    ("assignment", "key_path", "problem"),
    [
        pytest.param("frontier.duration_days.x=3", "frontier.duration_days.x", "inside a plain value", id="into-plain-value"),
        pytest.param("runs.first.start=2025-01-01", "runs.first", "no list item first", id="list-index-not-a-number"),
        pytest.param("=3", "=3", "empty key", id="empty-key"),
        pytest.param("name=[", "name", "cannot parse value", id="unparsable-value"),
        pytest.param("runs.0.duration_days=-1", "runs.0.duration_days", "greater than 0", id="negative-into-list-item"),
        pytest.param("mix.0.shares.B300=1", "mix.0.shares.B300", "unknown GPU type", id="unknown-gpu-via-set"),
    ],
)
def test_set_errors_in_process(assignment, key_path, problem):
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(overrides=[assignment])
    err = info.value
    assert (err.file, err.key_path) == ("--set", key_path)
    assert problem in err.problem and "\n" not in str(err)


def test_a_harmless_set_does_not_take_the_blame_for_the_files_fault():
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(CORPUS / "run_missing_key.yaml", overrides=["tick_days=3"])
    assert Path(info.value.file) == CORPUS / "run_missing_key.yaml"
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(CORPUS / "missing_required_key.yaml", overrides=["tick_days=3"])
    assert (Path(info.value.file), info.value.key_path) == (CORPUS / "missing_required_key.yaml", "h100e_reference")


def test_a_set_that_causes_the_fault_takes_the_blame():
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(overrides=["runs.0.start_when_h100e_installed=5"])
    assert (info.value.file, info.value.key_path) == ("--set", "runs.0")


@pytest.mark.parametrize(
    ("body", "key_path", "problem"),
    [
        pytest.param("labs:\n  42: {share_of_output: 0.0, delivery_lead_time_days: 1}\n",
                     "labs.42", "should be text; put it in quotes", id="number-as-name"),
        pytest.param("gpu_types:\n  2024-01-01: {available_from: 2024-01-01}\n",
                     "gpu_types.2024-01-01", "should be text; put it in quotes", id="date-as-name"),
        pytest.param("packaging_lines:\n  tsmc_cowos:\n    wafer_capacity_wpm:\n      points: {2027-01-01: -5}\n",
                     "packaging_lines.tsmc_cowos.wafer_capacity_wpm.points.2027-01-01", "greater than or equal to 0",
                     id="negative-ramp-point"),
        pytest.param("packaging_lines:\n  tsmc_cowos:\n    wafer_capacity_wpm:\n      pointz: {2027-01-01: 5}\n",
                     "packaging_lines.tsmc_cowos.wafer_capacity_wpm.pointz", "unknown key", id="unknown-ramp-key"),
        pytest.param("packaging_lines:\n  tsmc_cowos:\n    wafer_capacity_wpm:\n      points: {soon: 5}\n",
                     "packaging_lines.tsmc_cowos.wafer_capacity_wpm.points.soon", "should be a date", id="ramp-date-word"),
        pytest.param("start_date: '2024-01-01'\n", "start_date", "without quotes", id="quoted-date"),
        pytest.param("sites:\n  colossus: null\n", "sites.colossus", "should be a mapping", id="null-section"),
        pytest.param("frontier:\n  precision: fp2\n", "frontier.precision", "'bf16', 'fp8' or 'fp4'", id="bad-choice"),
        pytest.param("mix: []\n", "mix", "must not be empty", id="empty-list"),
        pytest.param("? [a, b]\n: 1\n", "line 2", "unhashable key", id="unhashable-key"),
        pytest.param("sites:\n  new_site: {lab: xai, lat: 35, lon: -90, construction_start: 2024-01-01,"
                     " construction_days: 100, facility_mw: 10}\n", "sites.new_site.pue", "required key", id="site-missing-pue"),
    ],
)
def test_more_faults_in_process(body, key_path, problem, tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text("extends: baseline\n" + body)
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(child)
    err = info.value
    assert (Path(err.file), err.key_path) == (child, key_path), str(err)
    assert problem in err.problem and "\n" not in str(err)
