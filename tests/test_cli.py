"""The real `sim` command, run as a user would: python -m sim run ..."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

OUTPUTS = ["runs.csv", "timeseries.csv", "frontier.csv", "buildout.csv", "summary.json"]
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
    assert set(runs["binding_constraint"]) <= {"chips", "power", "network", "latency", "data", "duration", "policy",
                                               "construction", "reliability"}
    assert set(runs["planned_by"]) == {"scenario", "policy"}
    assert runs["gpu_types"].str.contains(";").any()  # some run pools several products
    assert ((runs["goodput"] > 0) & (runs["goodput"] <= 1)).all()
    assert (runs["interruptions"] >= 0).all()
    pretraining = runs[runs["kind"] == "pretraining"]  # post-training has no single step: rollouts and updates
    assert (pretraining["step_time_s"] > 0).all()
    assert set(runs["kind"]) == {"pretraining", "posttraining"}


def test_timeseries_is_tidy_and_frontier_covers_every_month(baseline_out):
    out, _ = baseline_out
    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts.columns) == ["date", "entity", "kind", "metric", "value", "unit"]
    assert not ts.duplicated(["date", "entity", "kind", "metric"]).any()
    frontier = pd.read_csv(out / "frontier.csv")
    months = frontier["date"].unique()
    assert len(months) >= 84  # Jan 2024 .. Dec 2030, plus the end date
    assert set(frontier["constraint"]) == {"chips", "power", "combined", "network", "latency", "data"}
    assert set(frontier["binding_constraint"]) <= {"chips", "power", "network", "latency", "data"}


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


def test_compare_runs_the_same_buildout_on_each_topology(tmp_path):
    out = tmp_path / "cmp"
    # one typed run across two sites (policy runs choose their sites by the topology, so they differ)
    proc = sim_cli("compare", "--topology", "single_campus", "--topology", "ring_5_us", "--out", str(out),
                   "--set", "end_date=2027-12-31", "--set", "run_policy=null",
                   "--set", "runs=[{name: openai-2026, lab: openai, sites: [abilene_ph1, abilene_ph2], "
                   "start: 2026-09-01, duration_days: 180, gpu_share: 0.8, precision: fp8}]")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "compare.csv")
    assert list(table.columns[:7]) == ["topology", "run", "flop", "mfu", "goodput", "step_time_s", "binding_constraint"]
    by = table.pivot(index="run", columns="topology", values="mfu")
    big = table[(table["topology"] == "single_campus")].sort_values("gpus")["run"].iloc[-1]
    # the same GPUs spread over five sites 1,000 km apart step slower than on one campus
    assert by.loc[big, "ring_5_us"] < by.loc[big, "single_campus"]
    gpus = table.pivot(index="run", columns="topology", values="gpus")
    # same totals, to within rounding (one GPU per product at each site the run uses)
    assert (abs(gpus["ring_5_us"] - gpus["single_campus"]) <= 12).all()
    assert "single_campus" in proc.stdout and "ring_5_us" in proc.stdout


def test_compare_refuses_an_unknown_topology_before_running(tmp_path):
    proc = sim_cli("compare", "--topology", "single_campus", "--topology", "no_such_topology", "--out", str(tmp_path / "c"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: no_such_topology")
    assert "Traceback" not in proc.stderr and not (tmp_path / "c").exists()


def test_a_bad_topology_file_is_refused_with_its_key_path(tmp_path):
    bad = tmp_path / "fast.yaml"
    bad.write_text(
        "name: fast\nfabrics:\n  f: {nvlink_domain_gpus: 8, nvlink_bandwidth_bytes_s: 9.0e11,"
        " scale_out_bandwidth_bit_s_per_gpu: 4.0e11, tiers: 3, pod_gpus: 3072, oversubscription_above_pod: 7,"
        " hop_latency_s: 1.0e-6}\nsites:\n  a: {lat: 40.0, lon: -100.0, fabric: f}\n  b: {lat: 40.0, lon: -90.0, fabric: f}\n"
        "links:\n  - {a: a, b: b, bandwidth_bit_s: 1.0e14, latency_s: 1.0e-4}\n")
    proc = sim_cli("compare", "--topology", str(bad), "--out", str(tmp_path / "c"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {bad}: links.0") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_version_prints_the_package_version_and_exits_0():
    from sim.version import package_version

    proc = sim_cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"sim {package_version()}"


def test_metrics_lists_every_metric():
    from sim.metrics import METRICS, markdown_table

    proc = sim_cli("metrics")
    assert proc.returncode == 0, proc.stderr
    header, *lines = proc.stdout.splitlines()
    assert header.split() == ["kind", "metric", "unit", "description"]
    assert len(lines) == len(METRICS)
    for line, m in zip(lines, METRICS):
        assert line.split()[:3] == [m.kind, m.name, m.unit.split()[0]] and line.endswith(m.description)
    markdown = sim_cli("metrics", "--markdown")
    assert markdown.returncode == 0 and markdown.stdout.strip() == markdown_table()


HEAVY = ("numpy", "pandas", "networkx", "simpy", "matplotlib", "pydantic", "yaml")


@pytest.mark.parametrize("code", ["import sim.cli; sim.cli.build_parser()", "import sim"])
def test_the_command_line_and_import_sim_load_no_heavy_modules(code):
    """`sim --help` and `sim --version` build the parser only; `import sim` is lazy (PEP 562)."""
    probe = f"import sys; {code}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_help_and_version_load_no_heavy_modules():
    probe = ("import sys, contextlib, io, sim.cli\n"
             "for argv in (['--help'], ['--version'], ['metrics']):\n"
             "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
             "        sim.cli.main(argv)\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_import_sim_gives_the_api_names_on_first_use():
    import sim
    import sim.api

    for name in sim.__all__:
        assert getattr(sim, name) is not None
        if name != "__version__":
            assert getattr(sim, name) is getattr(sim.api, name)
    assert set(sim.__all__) <= set(dir(sim))
    with pytest.raises(AttributeError):
        sim.no_such_name  # noqa: B018
