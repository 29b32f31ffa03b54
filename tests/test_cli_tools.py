"""The command's tools, run as a user would: `sim scenarios`, shipped names as scenario arguments,
`sim diff`, `sim schema`, "did you mean" suggestions and `sim completion`."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess

import jsonschema
import pandas as pd
import pytest
from test_cli import sim_cli

from sim.config.loading import shipped_scenarios
from sim.config.yaml_io import load_text

SHORT = ("--set", "end_date=2025-06-30")  # runs of 18 months keep these tests quick


def assert_refused(proc: subprocess.CompletedProcess, *says: str) -> str:
    """Exit 2, one line on stderr saying each of `says`, no traceback, nothing on stdout."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for fragment in says:
        assert fragment in proc.stderr, (fragment, proc.stderr)
    return proc.stderr.strip()


# --- sim scenarios ---------------------------------------------------------------------------------

def test_scenarios_lists_every_shipped_scenario_with_a_description():
    proc = sim_cli("scenarios")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == list(shipped_scenarios())
    assert names[0] == "baseline" and "backtest_2022" in names and "stress/taiwan_outage" in names
    for line in lines:
        assert len(line.split(maxsplit=1)) == 2, f"no description: {line!r}"
    taiwan = next(line for line in lines if line.startswith("stress/taiwan_outage"))
    assert "TSMC" in taiwan
    assert sim_cli("scenarios", "--names").stdout.split() == names


def test_scenarios_show_prints_the_file_as_shipped():
    proc = sim_cli("scenarios", "show", "stress/taiwan_outage")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == shipped_scenarios()["stress/taiwan_outage"].read_text()
    assert sim_cli("scenarios", "show", "baseline.yaml").stdout == shipped_scenarios()["baseline"].read_text()


def test_scenarios_show_refuses_an_unknown_name_with_suggestions():
    line = assert_refused(sim_cli("scenarios", "show", "stress/taiwan"), "stress/taiwan", "did you mean stress/taiwan_outage?")
    assert line.startswith("error: stress/taiwan: ")


# --- shipped names wherever a scenario path is --------------------------------------------------

def test_run_takes_a_shipped_scenario_name(tmp_path):
    out = tmp_path / "tw"
    proc = sim_cli("run", "stress/taiwan_outage", *SHORT, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "summary.json").read_text())["scenario"] == "taiwan_outage"


def test_an_existing_path_wins_over_a_shipped_name(tmp_path):
    (tmp_path / "stress").mkdir()
    (tmp_path / "stress" / "taiwan_outage.yaml").write_text("extends: baseline\nname: local_one\n")
    out = tmp_path / "out"
    proc = sim_cli("run", "stress/taiwan_outage.yaml", *SHORT, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "summary.json").read_text())["scenario"] == "local_one"


def test_an_unknown_scenario_name_is_refused_with_suggestions(tmp_path):
    out = tmp_path / "out"
    assert_refused(sim_cli("run", "stress/taiwan_outag", "--out", str(out)),
                   "error: stress/taiwan_outag: (file): no such file", "did you mean stress/taiwan_outage?")
    assert not out.exists()


# --- sim diff ---------------------------------------------------------------------------------------

def test_diff_writes_a_tidy_table_with_ratios(tmp_path):
    out = tmp_path / "diff"
    proc = sim_cli("diff", "baseline", "stress/hbm_shortfall", *SHORT, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["diff.csv"]
    table = pd.read_csv(out / "diff.csv", keep_default_na=False)
    assert list(table.columns) == ["section", "key", "column", "a", "b", "ratio"]
    assert set(table["section"]) == {"scenario", "yearly", "runs"}
    names = table[(table["section"] == "scenario") & (table["column"] == "name")].iloc[0]
    assert (names["a"], names["b"]) == ("baseline", "hbm_shortfall")
    yearly = table[table["section"] == "yearly"]
    assert set(yearly["key"].astype(str)) == {"2024", "2025"}
    assert {"largest_run_to_date_flop", "power_online_gw", "installed_gpus", "gpus_delivered_h100e"} <= set(yearly["column"])
    delivered = yearly[(yearly["column"] == "gpus_delivered_h100e") & (yearly["key"].astype(str) == "2025")].iloc[0]
    assert float(delivered["ratio"]) == pytest.approx(float(delivered["b"]) / float(delivered["a"]), rel=1e-5)
    assert float(delivered["ratio"]) < 1  # HBM runs short in 2025
    runs = table[table["section"] == "runs"]
    assert set(runs["column"]) == {"flop", "gpus", "start", "end", "status"}
    assert "openai-2024" in set(runs["key"])
    assert "per year" in proc.stdout and "B/A" in proc.stdout and "openai-2024" in proc.stdout


def test_diff_default_folder_names_both_scenarios(tmp_path):
    proc = sim_cli("diff", "baseline", "baseline", "--set", "end_date=2024-03-31", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "results" / "diff-baseline-vs-baseline" / "diff.csv")
    yearly = table[table["section"] == "yearly"]
    assert (yearly["a"].astype(float) == yearly["b"].astype(float)).all()  # same scenario, same seed


@pytest.mark.parametrize("args, says", [
    (["baseline", "stress/no_such"], ("stress/no_such: (file): no such file",)),
    (["baseline", "stress/taiwan_outage", "--set", "tick_dayz=3"], ("--set: tick_dayz: unknown key", "did you mean tick_days?")),
    (["baseline"], ("B",)),
])
def test_diff_refuses_bad_input_and_writes_nothing(tmp_path, args, says):
    out = tmp_path / "diff"
    assert_refused(sim_cli("diff", *args, "--out", str(out)), *says)
    assert not out.exists()


def test_diff_runs_matched_by_name_with_typed_or_text_dates():
    """sim.studies.diff on Results whose dates are text on one side and datetime64 on the other."""
    from sim.outputs.tables import Result
    from sim.studies.diff import diff

    def result(name: str, runs: pd.DataFrame) -> Result:
        years = [{"year": 2024, "installed_gpus": 10, "power_online_gw": 1.0}]
        return Result(name, 0, runs, pd.DataFrame(), pd.DataFrame(), {"years": years, "version": "x"}, 0)

    a = pd.DataFrame({"run": ["r1", "r2"], "flop": [1e25, 2e25], "gpus": [100, 200], "start": ["2024-01-01", "2024-02-01"],
                      "end": ["2024-06-01", ""], "status": ["completed", "running_at_end"]})
    b = pd.DataFrame({"run": ["r1", "r3"], "flop": [3e25, 1e25], "gpus": [50, 10],
                      "start": pd.to_datetime(["2024-01-01", "2024-03-01"]), "end": pd.to_datetime(["2024-07-01", None]),
                      "status": ["completed", "completed"]})
    table = diff(result("A", a), result("B", b))
    runs = table[table["section"] == "runs"].set_index(["key", "column"])
    assert runs.at[("r1", "flop"), "ratio"] == pytest.approx(3.0)
    assert runs.at[("r1", "gpus"), "ratio"] == pytest.approx(0.5)
    assert (runs.at[("r1", "start"), "a"], runs.at[("r1", "start"), "b"]) == ("2024-01-01", "2024-01-01")
    assert runs.at[("r1", "end"), "b"] == "2024-07-01"
    assert (runs.at[("r2", "status"), "b"], runs.at[("r3", "status"), "a"]) == ("absent", "absent")
    yearly = table[table["section"] == "yearly"].set_index("column")
    assert yearly.at["installed_gpus", "ratio"] == 1.0


# --- sim schema ---------------------------------------------------------------------------------------

def _as_json(value):
    """A loaded YAML document as JSON has it: dates (values and keys) as ISO text, keys as text."""
    if isinstance(value, dict):
        return {(k.isoformat() if isinstance(k, dt.date) else str(k)): _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


@pytest.fixture(scope="module")
def schema() -> dict:
    proc = sim_cli("schema")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return schema


def _errors(schema: dict, doc: dict) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(_as_json(doc))]


@pytest.mark.parametrize("name", list(shipped_scenarios()))
def test_schema_accepts_every_shipped_scenario(schema, name):
    # read as sim reads them (YAML 1.2 numbers such as 2.25e15; yaml.safe_load would give text)
    doc = load_text(shipped_scenarios()[name].read_text())
    assert _errors(schema, doc) == []


def test_schema_has_descriptions_units_and_distributions(schema):
    site = schema["$defs"]["Site"]["properties"]
    assert "MW" in site["facility_mw"]["description"] and "days" in site["construction_days"]["description"]
    assert "FLOP/s" in schema["$defs"]["GpuType"]["properties"]["bf16_dense_flop_s"]["description"]
    assert "USD" in schema["$defs"]["GpuType"]["properties"]["price_usd"]["description"]
    assert "extends" in schema["properties"]


def test_schema_refuses_bad_scenarios(schema):
    baseline = load_text(shipped_scenarios()["baseline"].read_text())
    assert _errors(schema, {**baseline, "tick_days": "weekly"})  # text where a number is
    assert _errors(schema, {**baseline, "tick_dayz": 7})  # an unknown top-level key
    assert _errors(schema, {**baseline, "tick_days": {"dist": "lognormal", "p10": 5}})  # half a distribution
    assert _errors(schema, {k: v for k, v in baseline.items() if k != "frontier"})  # required, without extends
    sites = dict(baseline["sites"])
    sites["stargate"] = {**sites[next(iter(sites))], "facility_mww": 5}
    assert _errors(schema, {**baseline, "sites": sites})  # an unknown nested key
    # a partial scenario extending another: nothing required, but keys and types still checked
    assert _errors(schema, {"extends": "baseline", "name": "x", "labs": {"openai": {"share_of_output": 0.3}}}) == []
    assert _errors(schema, {"extends": "baseline", "tick_days": {"dist": "uniform", "low": 5, "high": 9}}) == []
    assert _errors(schema, {"extends": "baseline", "labs": {"openai": {"share_of_ouput": 0.3}}})
    assert _errors(schema, {"extends": "baseline", "end_date": 2030})


# --- did you mean ---------------------------------------------------------------------------------------

def test_an_unknown_key_gets_the_closest_allowed_keys_suggested(tmp_path):
    scenario = tmp_path / "my.yaml"
    scenario.write_text("extends: baseline\nname: typo\nlabs:\n  openai:\n    share_of_ouput: 0.3\n")
    out = tmp_path / "out"
    line = assert_refused(sim_cli("run", str(scenario), "--out", str(out)))
    assert line == f"error: {scenario}: labs.openai.share_of_ouput: unknown key (did you mean share_of_output?)"
    line = assert_refused(sim_cli("run", "--set", "frontier.durationdays=90", "--out", str(out)))
    assert line == "error: --set: frontier.durationdays: unknown key (did you mean duration_days?)"
    line = assert_refused(sim_cli("run", "--set", "zzzz=1", "--out", str(out)))
    assert line == "error: --set: zzzz: unknown key"  # nothing close: no suggestion
    assert not out.exists()


def test_a_misspelt_shipped_parent_gets_a_suggestion(tmp_path):
    scenario = tmp_path / "child.yaml"
    scenario.write_text("extends: baselin\nname: child\n")
    assert_refused(sim_cli("run", str(scenario), "--out", str(tmp_path / "out")),
                   "extends: no such scenario 'baselin' (did you mean baseline?)")


# --- sim completion -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_names_the_subcommands_and_scenarios(shell):
    proc = sim_cli("completion", shell)
    assert proc.returncode == 0, proc.stderr
    for word in ("run", "compare", "sweep", "sensitivity", "diff", "scenarios", "schema", "completion", "--topology",
                 "stress/taiwan_outage", "complete -o filenames -F _sim sim"):
        assert word in proc.stdout, word


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_commands_options_and_scenario_names(tmp_path):
    script = tmp_path / "sim.bash"
    script.write_text(sim_cli("completion", "bash").stdout)
    probe = (f"source {script}\n"
             't() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _sim; echo "${COMPREPLY[*]}"; }\n'
             "t sim ru\nt sim run stress/taiwan_o\nt sim diff --se\nt sim scenarios show backt\n")
    proc = subprocess.run(["bash", "-c", probe], check=False, capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["run", "stress/taiwan_outage", "--seed --set", "backtest_2022"]


def test_version_is_still_there():
    proc = sim_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("sim ")
