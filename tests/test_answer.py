"""The answer first: the console block, summary.json `answer` and `inputs`, and the report's top."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from sim.outputs.answer import (binding_timeline, build_answer, condensed_binding, format_answer, headline,
                                trend_flop)
from test_cli import sim_cli

SHORT = ("--set", "end_date=2026-12-31")


def test_the_trend_runs_through_2e29_in_2030_at_4x_a_year():
    assert trend_flop(2030) == pytest.approx(2e29)
    assert trend_flop(2024) == pytest.approx(2e29 / 4**6)  # 4.9e25, about Llama 3.1 405B's 3.8e25
    assert trend_flop(2029) * 4 == pytest.approx(trend_flop(2030))


def frontier_rows(months: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"date": d, "constraint": "combined", "max_flop": 1e27, "h100e": 1.0, "lab": "a",
                          "binding_constraint": c} for d, c in months])


def test_the_binding_timeline_merges_months_and_the_last_sample_speaks_for_its_month():
    rows = frontier_rows([("2024-01-01", "chips"), ("2024-02-01", "chips"), ("2024-03-01", "power"),
                          ("2024-04-01", "power"), ("2024-04-30", "chips")])
    assert binding_timeline(rows) == [{"from": "2024-01", "to": "2024-02", "constraint": "chips"},
                                      {"from": "2024-03", "to": "2024-03", "constraint": "power"},
                                      {"from": "2024-04", "to": "2024-04", "constraint": "chips"}]


def test_short_spans_that_trade_places_read_as_one():
    spans = [{"from": "2024-01", "to": "2024-06", "constraint": "chips"},
             {"from": "2024-07", "to": "2024-07", "constraint": "power"},
             {"from": "2024-08", "to": "2024-08", "constraint": "chips"},
             {"from": "2024-09", "to": "2024-09", "constraint": "power"},
             {"from": "2024-10", "to": "2025-12", "constraint": "power"}]
    assert condensed_binding(spans) == [{"from": "2024-01", "to": "2024-06", "constraint": "chips"},
                                        {"from": "2024-07", "to": "2024-09", "constraint": "chips/power"},
                                        {"from": "2024-10", "to": "2025-12", "constraint": "power"}]


def test_the_headline_says_yes_only_at_2e29_by_2030():
    def answer_for(flop: float, year: int) -> dict:
        years = [{"year": year, "largest_run_to_date_flop": flop}]
        runs = pd.DataFrame(columns=["run", "binding_constraint"])
        ts = pd.DataFrame(columns=["date", "entity", "kind", "metric", "value"])
        return build_answer(runs, ts, frontier_rows([(f"{year}-12-01", "power")]), years)

    assert answer_for(3e29, 2030)["reaches_target"] and headline(answer_for(3e29, 2030)).startswith("yes")
    low = answer_for(1e28, 2030)
    assert not low["reaches_target"] and low["headline"].startswith("no: ") and "20x below" in low["headline"]
    assert answer_for(1e28, 2027)["headline"].startswith("not yet")
    assert "bound by power" in low["headline"]


def test_sim_run_prints_the_answer_first_and_records_it(tmp_path):
    out = tmp_path / "run"
    proc = sim_cli("run", "--out", str(out), *SHORT)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("answer: not yet: the largest run completed by 2026")
    assert "what binds (the largest run that could start):" in proc.stdout
    assert "waiting at the end:" in proc.stdout and "compute use 2026 (all labs):" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    answer = summary["answer"]
    assert {"headline", "trajectory", "binding", "waiting", "compute_use", "reaches_target"} <= set(answer)
    assert [t["year"] for t in answer["trajectory"]] == [2024, 2025, 2026]
    frontier = pd.read_csv(out / "frontier.csv")
    last = frontier[(frontier["constraint"] == "combined")]["binding_constraint"].iloc[-1]
    assert answer["binding"][-1]["constraint"] == last  # one definition: the frontier's
    uses = answer["compute_use"]
    assert sum(uses[u] for u in ("pretraining", "posttraining", "synthetic_data", "experiments", "inference",
                                 "idle")) == pytest.approx(1.0, abs=1e-6)
    # inputs and their sources
    inputs = summary["inputs"]
    assert inputs["overridden"] == [{"input": "end_date", "value": "2026-12-31"}]
    kernel = next(u for u in inputs["uncertain"] if u["input"] == "training.kernel_efficiency")
    assert kernel["median (used)"] == pytest.approx(0.5) and "Llama 3" in kernel["source"]
    assert all(u["p10"] <= u["median (used)"] <= u["p90"] for u in inputs["uncertain"])


def test_a_stress_scenario_says_what_changed_against_its_parent(tmp_path):
    out = tmp_path / "stress"
    proc = sim_cli("run", "scenarios/stress/taiwan_outage.yaml", "--out", str(out), *SHORT)
    assert proc.returncode == 0, proc.stderr
    assert "against baseline (the scenario it extends):" in proc.stdout
    parent = json.loads((out / "summary.json").read_text())["answer"]["against_parent"]
    assert parent["scenario"] == "baseline"
    power = next(c for c in parent["changes"] if c["key"] == "power_online_gw")
    assert power["ratio"] == pytest.approx(power["scenario"] / power["parent"])


def test_the_report_opens_with_the_answer_inputs_trend_and_waiting(tmp_path):
    out = tmp_path / "rep"
    proc = sim_cli("run", "--out", str(out), "--report", *SHORT)
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    assert text.index("Answer.") < text.index("Per year") < text.index("Inputs and their sources")
    assert "4x-a-year trend to 2e29" in text and "What waits for what" in text
    assert "training.kernel_efficiency" in text  # an uncertain input, with its source
    assert text.count("sim version") == 1  # the header says it once


def test_format_answer_of_nothing_is_empty():
    assert format_answer({}) == ""
