"""The README's examples run (docs as tests, as in Ciw)."""
from __future__ import annotations

import re
from pathlib import Path

import sim

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_opens_with_the_install_and_test_commands():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert "pip install -e . && sim run" in first_block
    assert 'pip install -e ".[test]" && python -m pytest' in first_block


def test_the_scenario_format_example_loads_and_runs(tmp_path):
    section = README.read_text().split("## Scenario files", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "example.yaml"
    path.write_text(example)
    scenario = sim.load_scenario(path, overrides=["end_date=2026-12-31"])
    assert scenario.name == "my-scenario"
    result = sim.run(scenario)
    run1 = result.runs.set_index("run").loc["run1"]
    assert run1["status"] == "completed" and run1["flop"] > 0


def test_the_python_api_example(tmp_path):
    result = sim.run(sim.load_scenario(overrides=["tick_days=14", "end_date=2025-12-31"]), seed=0)
    written = result.write(tmp_path)
    assert {p.name for p in written} == {"runs.csv", "timeseries.csv", "frontier.csv", "buildout.csv", "summary.json"}


def test_the_topology_format_example_loads(tmp_path):
    section = README.read_text().split("## Topology files", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "two_sites.yaml"
    path.write_text(example)
    topology = sim.load_topology(path)
    assert set(topology.sites) == {"des_moines", "dallas"}
    assert topology.graph.edges["des_moines", "dallas"]["latency_s"] > 1019 * 4.9e-6  # no faster than light


def test_readme_metrics_table_is_the_registry():
    """The README's Metrics section is `sim.metrics.markdown_table()` (what `sim metrics --markdown` prints)."""
    from sim.metrics import markdown_table

    text = README.read_text()
    table = re.search(r"<!-- metrics:start -->\n(.*?)\n<!-- metrics:end -->", text, re.S)
    assert table, "README.md has no <!-- metrics:start --> ... <!-- metrics:end --> block"
    assert table.group(1) == markdown_table(), "README's metrics table is stale: paste `sim metrics --markdown`"


def test_readme_lists_the_metrics_and_version_commands():
    running = README.read_text().split("## Running", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert "sim metrics" in running and "sim --version" in running
