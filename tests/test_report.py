"""`sim report` and `--report`: one self-contained HTML file per output folder, and the figures behind it."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from sim.outputs import plots, study_plots
from sim.config.errors import ScenarioError
from sim.outputs.report import render_report, write_report

IMG = '<img src="data:image/png;base64,'


def sim_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], check=False, capture_output=True, text=True, timeout=120)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def check_report(path: Path, scenario: str, seed: int | str, min_images: int) -> str:
    """The report exists, embeds its figures, loads nothing from elsewhere and names the scenario and seed."""
    assert path.name == "report.html" and path.is_file()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count(IMG) >= min_images
    parser = _Tags()
    parser.feed(text)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name, value in attrs:
            value = (value or "").lower()
            assert "http:" not in value and "https:" not in value and not value.startswith("//"), (tag, name)
            if name == "src":
                assert value.startswith("data:image/png;base64,"), (tag, value[:40])
    assert "http://" not in text and "https://" not in text and "@import" not in text and "url(" not in text
    assert re.search(rf"<th>scenario</th><td>{re.escape(scenario)}</td>", text), "scenario not named"
    assert re.search(rf"<th>(root )?seed</th><td>{seed}</td>", text), "seed not named"
    return text


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    proc = sim_cli("run", "--out", str(out), "--seed", "3", "--set", "end_date=2026-12-31")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "report.html").exists()  # only with --report
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "sweep"
    proc = sim_cli("sweep", "-n", "4", "--seed", "5", "--set", "end_date=2025-06-30", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_sim_report_on_a_run_folder(run_dir):
    proc = sim_cli("report", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {run_dir / 'report.html'}"
    text = check_report(run_dir / "report.html", "baseline", 3, min_images=3)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert f"<td>{summary['version']}</td>" in text
    runs = pd.read_csv(run_dir / "runs.csv")
    for name in runs["run"]:  # the runs table
        assert f"<td>{name}</td>" in text
    assert "Frontier at each year" in text and "<th>combined</th>" in text  # the frontier table
    assert "2026-12-31" in text  # the horizon


def test_run_with_report_writes_outputs_and_report(tmp_path):
    out = tmp_path / "r"
    proc = sim_cli("run", "--out", str(out), "--seed", "2", "--set", "end_date=2025-06-30", "--report")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["runs.csv", "timeseries.csv", "frontier.csv", "buildout.csv", "summary.json", "report.html"])
    assert proc.stdout.splitlines()[-1] == f"wrote {out / 'report.html'}"
    check_report(out / "report.html", "baseline", 2, min_images=3)


def test_compare_with_report(tmp_path):
    out = tmp_path / "c"
    proc = sim_cli("compare", "--topology", "single_campus", "--topology", "ring_5_us", "--seed", "4",
                   "--set", "end_date=2025-06-30", "--out", str(out), "--report")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["compare.csv", "compare.json", "report.html"]
    about = json.loads((out / "compare.json").read_text())
    assert about["scenario"] == "baseline" and about["seed"] == 4
    assert about["topologies"] == ["single_campus", "ring_5_us"]
    text = check_report(out / "report.html", "baseline", 4, min_images=1)
    assert "single_campus" in text and "ring_5_us" in text


def test_sim_report_on_a_sweep_folder(sweep_dir):
    proc = sim_cli("report", str(sweep_dir))
    assert proc.returncode == 0, proc.stderr
    text = check_report(sweep_dir / "report.html", "baseline (shipped)", 5, min_images=3)
    assert "<th>threshold_flop</th>" in text and "4 per grid cell" in text


def test_a_folder_with_nothing_known_is_refused_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    proc = sim_cli("report", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path}: (report): ")
    assert not (tmp_path / "report.html").exists()
    missing = sim_cli("report", str(tmp_path / "nope"))
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1


def test_partial_or_malformed_outputs_are_refused(run_dir, tmp_path):
    shutil.copy(run_dir / "runs.csv", tmp_path / "runs.csv")
    with pytest.raises(ScenarioError, match="without timeseries.csv"):
        write_report(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "compare.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ScenarioError, match="no column topology"):
        write_report(bad)
    assert not (bad / "report.html").exists()


def tornado_table() -> pd.DataFrame:
    return pd.DataFrame({
        "input": ["training.kernel_efficiency", "labs.openai.share_of_output", "sites.x.construction_days"],
        "low_value": [0.44, 0.125, 826.0], "high_value": [0.56, 0.315, 1452.0],
        "output_at_low": [7.2e27, 7.8e27, 8.1e27], "output_at_high": [9.0e27, 9.4e27, 8.1e27],
        "output_at_median": [8.1e27] * 3, "swing": [1.8e27, 1.6e27, 0.0],
    })


def test_a_folder_with_several_kinds_gets_a_section_each(tmp_path):
    tornado_table().to_csv(tmp_path / "tornado.csv", index=False)
    pd.DataFrame({"topology": ["a", "b"], "run": ["r1", "r1"], "flop": [1e26, 9e25], "mfu": [0.4, 0.36],
                  "status": ["completed", "completed"]}).to_csv(tmp_path / "compare.csv", index=False)
    text, images = render_report(tmp_path)
    assert images == 2 and text.count(IMG) == 2
    assert 'id="compare"' in text and 'id="tornado"' in text and 'id="run"' not in text
    assert "not recorded" in text  # no compare.json / tornado.json beside the tables


def test_each_plot_returns_a_figure_and_save_writes_png_and_svg(run_dir, sweep_dir, tmp_path):
    runs = pd.read_csv(run_dir / "runs.csv")
    timeseries = pd.read_csv(run_dir / "timeseries.csv")
    figures = {
        "buildout": plots.buildout(timeseries, runs),
        "frontier": plots.frontier(pd.read_csv(run_dir / "frontier.csv")),
        "runs": plots.runs_timeline(runs, "2026-12-31"),
        "fan": study_plots.fan_chart(pd.read_csv(sweep_dir / "bands.csv")),
        "thresholds": study_plots.threshold_curves(pd.read_csv(sweep_dir / "thresholds.csv")),
        "histogram": study_plots.replication_histogram(pd.read_csv(sweep_dir / "replications.csv")),
        "compare": study_plots.topology_comparison(pd.DataFrame({
            "topology": ["a", "a", "b", "b"], "run": ["r1", "r2"] * 2, "flop": [1e26, 0, 9e25, 0],
            "mfu": [0.4, 0, 0.36, 0], "status": ["completed", "after_horizon"] * 2})),
        "tornado": study_plots.tornado(tornado_table()),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure), name
        assert fig.axes and any(ax.get_title() for ax in fig.axes) or fig.get_suptitle(), name
    assert figures["buildout"].axes[0].get_title() == "GPUs installed, by product"  # H100e per product recovered
    notes = [t.get_text() for t in figures["frontier"].axes[0].texts]
    assert "Epoch 2030: power 2e29" in notes and "Epoch 2030: chips 9e29" in notes
    written = plots.save(figures["frontier"], tmp_path / "figs" / "frontier")
    assert [p.name for p in written] == ["frontier.png", "frontier.svg"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in written[1].read_text()[:2000]


def test_h100e_per_gpu_is_recovered_from_the_tables(run_dir):
    timeseries = pd.read_csv(run_dir / "timeseries.csv")
    factors = plots.h100e_factors(timeseries, pd.read_csv(run_dir / "runs.csv"))
    assert factors is not None and factors["H100-SXM5"] == pytest.approx(1.0)
    installed = timeseries[timeseries["metric"] == "installed_gpus"].pivot(index="date", columns="entity", values="value")
    world = timeseries[(timeseries["entity"] == "world") & (timeseries["metric"] == "installed_h100e")]
    rebuilt = sum(installed[t] * f for t, f in factors.items())
    assert rebuilt.to_numpy() == pytest.approx(world.set_index("date")["value"].to_numpy(), rel=1e-6, abs=1.0)


def test_a_damaged_file_is_refused_before_matplotlib_loads_and_nothing_is_written(run_dir, tmp_path):
    """The files are checked before any figure is drawn: the refusal names the file, the line and the
    column, and neither report.html nor the lock file is left behind."""
    out = tmp_path / "damaged"
    shutil.copytree(run_dir, out)
    (out / "report.html").unlink(missing_ok=True)
    runs = (out / "runs.csv").read_text().split("\n")
    runs[1] = runs[1].replace(runs[1].split(",")[7], "lots", 1)  # the flop column of the first run
    (out / "runs.csv").write_text("\n".join(runs))
    before = sorted(p.name for p in out.iterdir())
    code = ("import sys\nfrom sim.outputs.report import write_report\ntry:\n    write_report(sys.argv[1])\n"
            "except ValueError as exc:\n    print(exc)\nprint('matplotlib' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f'{out}/runs.csv: line 2, column flop: should be a number (got "lots")', "False"]
    assert sorted(p.name for p in out.iterdir()) == before


def test_a_hand_edited_folder_that_still_checks_out_is_reported_with_every_payload_escaped(tmp_path):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    pd.DataFrame({"topology": [payload, "b"], "run": ["r1&amp;", "r1&amp;"], "flop": [1e26, 9e25], "mfu": [0.4, 0.36],
                  "status": ["completed", payload]}).to_csv(tmp_path / "compare.csv", index=False)
    (tmp_path / "compare.json").write_text(json.dumps({"scenario": payload, "seed": 1, "overrides": [payload]}))
    path = write_report(tmp_path)
    text = path.read_text()
    assert "<script" not in text and "<img src=x" not in text
    assert html_escape(payload) in text and "r1&amp;amp;" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.csv", "compare.json", "report.html"]


def html_escape(text: str) -> str:
    import html

    return html.escape(text)
