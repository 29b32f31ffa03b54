"""Global sensitivity (`sim sensitivity --method morris|sobol`), the study metrics, the readable input
labels and the progress bars. The runs use the baseline cut to 2025 (`end_date=2025-12-31`: a run
takes ~0.1 s) so the whole module stays under a minute."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim import cli
from sim.outputs.input_labels import input_label, input_unit
from sim.studies import study_metrics
from sim.studies.progress import (
    NoBar,
    map_ordered_with_progress,
    progress_bar,
    wants_bar,
)

SHORT = ("--set", "end_date=2025-12-31")
MORRIS = ("sensitivity", "--method", "morris", "--trajectories", "3", *SHORT)


def sim_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def morris_dirs(tmp_path_factory) -> dict[int, Path]:
    """The same Morris screening with 1 and with 2 worker processes."""
    root = tmp_path_factory.mktemp("morris")
    dirs = {}
    for workers in (1, 2):
        out = root / f"w{workers}"
        proc = sim_cli(*MORRIS, "--workers", str(workers), "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""  # no progress bar off a terminal, no warnings
        dirs[workers] = out
    return dirs


def test_morris_writes_mu_star_ranked_with_the_metric_unit(morris_dirs):
    table = pd.read_csv(morris_dirs[1] / "morris.csv")
    assert list(table.columns) == ["input", "mu_star", "mu_star_conf", "sigma", "mu", "unit"]
    from sim.config.loading import load_template

    inputs = [item.key_path for item in load_template(None, SHORT[1:]).inputs]
    assert sorted(table["input"]) == sorted(inputs)  # every uncertain input, once
    assert (table["mu_star"] >= 0).all() and (table["sigma"] >= 0).all()
    assert (table["mu_star"].diff().dropna() <= 0).all()  # largest mu* first
    assert table["mu_star"].iloc[0] > 0  # something moves the largest run
    assert (table["mu"].abs() <= table["mu_star"] * (1 + 1e-9)).all()  # |mean| <= mean of |effects|
    assert set(table["unit"]) == {"FLOP"}
    about = json.loads((morris_dirs[1] / "morris.json").read_text())
    assert about["method"] == "morris" and about["metric"] == "largest_run_flop" and about["unit"] == "FLOP"
    assert about["trajectories"] == 3 and about["levels"] == 4 and about["runs"] == 3 * (len(inputs) + 1)
    assert "inverse CDF" in about["sampling"]


def test_morris_is_the_same_for_any_number_of_workers(morris_dirs):
    assert (morris_dirs[1] / "morris.csv").read_bytes() == (morris_dirs[2] / "morris.csv").read_bytes()


def test_the_report_of_a_screening_names_inputs_readably(morris_dirs):
    proc = sim_cli("report", str(morris_dirs[2]))
    assert proc.returncode == 0, proc.stderr
    text = (morris_dirs[2] / "report.html").read_text()
    assert 'id="screening"' in text and "Morris elementary effects" in text
    assert "OpenAI share of NVIDIA output (fraction)" in text  # the table's readable name column
    assert text.count('src="data:image/png;base64,') == 1


def test_sobol_indices_through_the_api(tmp_path):
    from sim.studies.screening import SOBOL_COLUMNS, sobol, sobol_runs

    table = sobol(None, SHORT[1:], seed=3, base_samples=2, workers=2)
    assert list(table.columns) == SOBOL_COLUMNS
    assert (table["ST"].diff().dropna() <= 0).all()  # largest total effect first
    assert sobol_runs(23, 64) == 64 * 25


def test_without_salib_morris_fails_with_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "SALib", None)  # `import SALib` now raises ImportError
    code = cli.main([*MORRIS, "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == 'error: --method morris needs SALib: pip install "sim-buildout[sensitivity]"\n'
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("args, message", [
    (("--metric", "flops"), "error: --metric: invalid choice: flops"),
    (("--metric", "power_online_gw_2030", *SHORT), "error: --metric: power_online_gw_2030 reads the whole of 2030"),
    (("--method", "sobol", "-n", "48"), "error: -n: must be a power of 2"),
    (("--method", "morris", "--levels", "5"), "error: --levels: must be even"),
    (("--trajectories", "4"), "error: --trajectories: only with --method morris"),
])
def test_bad_sensitivity_options_are_refused_with_one_line(args, message, tmp_path):
    proc = sim_cli("sensitivity", *args, "--out", str(tmp_path / "s"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "s").exists()


def test_tornado_records_its_metric(tmp_path):
    proc = sim_cli("sensitivity", *SHORT, "--workers", "2", "--out", str(tmp_path / "t"))
    assert proc.returncode == 0, proc.stderr
    about = json.loads((tmp_path / "t" / "tornado.json").read_text())
    assert about["metric"] == "largest_run_flop" and about["output"] == "largest completed run, FLOP"
    table = pd.read_csv(tmp_path / "t" / "tornado.csv")
    assert (table["swing"].diff().dropna() <= 0).all()


# --- the metrics ------------------------------------------------------------------------------------

def test_the_2030_metrics_read_the_baseline_result(baseline_result):
    year = next(row for row in baseline_result.summary["years"] if row["year"] == 2030)
    assert study_metrics.power_online_gw_2030(baseline_result) == pytest.approx(year["power_online_gw"])
    assert study_metrics.installed_h100e_2030(baseline_result) == pytest.approx(year["installed_h100e"])
    assert study_metrics.frontier_combined_flop_2030(baseline_result) == pytest.approx(year["frontier_max_flop"])
    share = study_metrics.inference_share_2030(baseline_result)
    assert 0 < share < 1
    best = baseline_result.summary["largest_run_completed"]["flop"]
    assert study_metrics.largest_run_flop(baseline_result) == pytest.approx(best)
    assert set(study_metrics.METRICS) == {"largest_run_flop", "power_online_gw_2030", "installed_h100e_2030",
                                          "frontier_combined_flop_2030", "inference_share_2030"}
    assert all(m.unit for m in study_metrics.METRICS.values())


def test_a_metric_year_outside_the_horizon_is_a_problem():
    import datetime as dt

    start, end = dt.date(2024, 1, 1), dt.date(2030, 12, 31)
    assert study_metrics.horizon_problem("inference_share_2030", start, end) is None
    assert study_metrics.horizon_problem("largest_run_flop", start, dt.date(2025, 1, 1)) is None
    assert "2030" in study_metrics.horizon_problem("inference_share_2030", start, dt.date(2030, 6, 30))


# --- labels ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, label", [
    ("labs.openai.share_of_output.gpu", "OpenAI share of NVIDIA output (fraction)"),
    ("labs.google_deepmind.budget.usd_per_year.growth_per_year_after",
     "Google DeepMind budget growth after the last dated point (x per year)"),
    ("hbm_suppliers.sk_hynix.tsv_wafer_capacity_wpm.growth_per_year_after",
     "SK hynix HBM (TSV) capacity growth after the last dated point (x per year)"),
    ("plant_types.gas_combined_cycle.lead_time_days", "Gas combined-cycle plant lead time (days)"),
    ("sites.gdm_nebraska.construction_days", "GDM Nebraska campus construction time (days)"),
    ("training.kernel_efficiency", "Kernel efficiency of peak (fraction)"),
    ("compute_uses.inference.reasoning_token_multiplier.points.2026-07-01",
     "Reasoning tokens per request multiplier at 2026-07-01 (x)"),
    # the fallback: the last two parts title-cased, list indices and dates skipped, the unit once
    ("runs.0.duration_days", "Runs Duration (days)"),
    ("fabrics.gb200_era.hop_latency_s", "Gb200 Era Hop Latency (s)"),
    ("something", "Something"),
])
def test_input_labels_are_readable(key, label):
    assert input_label(key) == label


def test_input_units_follow_the_key_name():
    assert input_unit("labs.meta.budget.usd_per_year.points.2026-01-01") == "USD per year"
    assert input_unit("sites.x.power_mw") == "MW"
    assert input_unit("a.b.c") == ""


# --- progress ----------------------------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_on_a_terminal_only_and_never_when_quiet():
    assert wants_bar(True, Terminal()) and not wants_bar(False, Terminal())
    assert not wants_bar(True, io.StringIO())  # piped, redirected: no bar
    assert isinstance(progress_bar(3, "x", stream=io.StringIO()), NoBar)
    term = Terminal()
    with progress_bar(3, "morris", stream=term) as bar:
        for _ in range(3):
            bar.update(1)
    assert "3/3" in term.getvalue() and "morris" in term.getvalue()


def test_map_with_progress_keeps_the_order_of_the_tasks():
    assert map_ordered_with_progress(abs, [-3, 1, -2], workers=2) == [3, 1, 2]
