"""Compute beyond pre-training: the per-lab ledger, post-training runs, synthetic data and inference."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sim
from factories import scenario_dicts
from sim.config.references import check_references
from sim.config.schema import Scenario
from sim.outputs.tables import build_result
from sim.world.assembly import build_world
from sim.world.fleet import INFERENCE, USES
from sim.world.labs import LEDGER_METRICS

USE_METRICS = [m for m in LEDGER_METRICS if m != "flop_available"]


def ledger(result) -> pd.DataFrame:
    """The ledger rows as one row per (lab, date), a column per metric."""
    ts = result.timeseries
    rows = ts[(ts["kind"] == "lab") & ts["metric"].isin(LEDGER_METRICS)]
    return rows.pivot_table(index=["entity", "date"], columns="metric", values="value", aggfunc="sum")


def check_ledger_sums(table: pd.DataFrame) -> None:
    """Each use is >= 0, and the six uses sum to flop_available within 0.1% (idle is counted on its own,
    from the free GPUs, so the sum checks the bookkeeping rather than restating it)."""
    available = table["flop_available"].to_numpy()
    uses = table[USE_METRICS].to_numpy()
    assert (uses >= -1e-6 * np.maximum(available[:, None], 1.0)).all()
    gap = np.abs(uses.sum(axis=1) - available)
    assert (gap <= 1e-3 * available + 1e-3).all(), table[gap > 1e-3 * available + 1e-3].head()


def test_the_six_uses_sum_to_what_was_available_for_every_lab_and_month(baseline_result):
    table = ledger(baseline_result)
    assert set(table.columns) == set(LEDGER_METRICS)
    assert len(table) > 5 * 80  # five labs, ~84 samples each
    check_ledger_sums(table)
    # and the uses are really used: every one of them holds compute somewhere in the baseline
    totals = table[USE_METRICS].sum()
    assert (totals[[f"flop_{u}" for u in USES]] > 0).all(), totals


@st.composite
def scenarios_with_uses(draw) -> dict:
    """A random small world (tests/factories.py) whose labs also serve, experiment and make data."""
    doc = draw(scenario_dicts())
    lab = sorted(doc["labs"])[0]
    doc["compute_uses"] = {
        "serving_model": {"active_params": draw(st.floats(1e9, 3e11)), "total_params": draw(st.floats(3e11, 2e12))},
        "inference": {
            "priority": draw(st.sampled_from(["before_training", "after_training"])),
            "max_batch": draw(st.integers(1, 512)),
            "labs": {lab: {"output_tokens_per_day": draw(st.floats(0.0, 1e13))}},
        },
        "experiments": {"share_of_fleet": draw(st.floats(0.0, 0.9))},
        "synthetic_data": {"enabled": draw(st.booleans()), "share_of_fleet": draw(st.floats(0.0, 0.5)),
                           "samples_per_kept_token": draw(st.floats(1.0, 30.0))},
    }
    return doc


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=scenarios_with_uses())
def test_ledger_sums_and_uses_never_hold_more_than_is_installed(doc):
    """Any world, any uses: after every event no use holds GPUs that are not installed, and each lab's
    monthly uses sum to what it had available."""
    s = Scenario.model_validate(doc)
    assume(check_references(s) is None)
    world = build_world(s)
    env = world.env
    while env.peek() < world.horizon_day:
        env.step()
        for site in world.sites.values():
            fleet = site.fleet
            for i, installed in enumerate(fleet.installed):
                held = sum(fleet.busy_by_use[u][i] for u in range(len(USES)))
                assert held == fleet.busy[i] <= installed
                assert all(fleet.busy_by_use[u][i] >= 0 for u in range(len(USES)))
    check_ledger_sums(ledger(build_result(world)))


def test_openai_2024_inference_share_of_its_non_idle_compute_matches_its_spend(baseline_result):
    """Epoch AI (You 2025): OpenAI's 2024 compute was ~$5B R&D and ~$1.8-2B inference, i.e. inference
    ~27% of it; the issue's band is 0.2-0.6."""
    table = ledger(baseline_result).loc["openai"]
    year = table[(table.index >= "2024-02-01") & (table.index <= "2025-01-01")].sum()  # samples for 2024
    non_idle = year[USE_METRICS].sum() - year["flop_idle"]
    share = year["flop_inference"] / non_idle
    assert 0.2 <= share <= 0.6, share


def test_every_completed_policy_pretraining_run_is_followed_by_a_posttraining_run(baseline_result):
    runs = baseline_result.runs
    pre = runs[(runs["kind"] == "pretraining") & (runs["planned_by"] == "policy") & (runs["status"] == "completed")]
    post = runs[runs["kind"] == "posttraining"].set_index("run")
    assert len(pre) > 10
    for _, row in pre.iterrows():
        follow = post.loc[row["run"] + "-post"]
        assert follow["lab"] == row["lab"]
        assert follow["start"] == row["end"]
        assert follow["gpus"] > 0 and follow["flop"] > 0
        assert follow["gpus"] <= row["gpus"]  # it post-trains on at most the cluster that just finished
    assert set(runs["kind"]) == {"pretraining", "posttraining"}


def test_posttraining_compute_follows_the_policy_share(baseline_result):
    """A completed post-training run's FLOP = share(launch date, capped at 1) x its pre-training run's,
    unless it ran into its longest allowed duration (365 days in the baseline)."""
    runs = baseline_result.runs.set_index("run")
    post = runs[(runs["kind"] == "posttraining") & (runs["status"] == "completed")]
    late = post[(post["start"] >= "2028-01-01") & (post["duration_days"] < 365 - 1e-6)]  # share at its cap of 1
    assert len(late) > 3
    for name, row in late.iterrows():
        assert row["flop"] == pytest.approx(runs.loc[name.removesuffix("-post"), "flop"], rel=1e-6)
    assert (post["flop"] <= post["gpus"] * post["peak_flop_s"] * post["duration_days"] * 86_400 * (1 + 1e-9)).all()


def test_synthetic_data_raises_the_frontier_data_wall_in_2030(baseline_result):
    on = baseline_result
    off = sim.run(sim.load_scenario(overrides=["compute_uses.synthetic_data.enabled=false"]), seed=0)

    def data_wall(result) -> float:
        f = result.frontier
        return f[(f["constraint"] == "data") & (f["date"] >= "2030-01-01")]["max_flop"].iloc[-1]

    assert data_wall(off) < data_wall(on)
    ts = on.timeseries
    made = ts[(ts["metric"] == "synthetic_tokens_total") & (ts["date"] == ts["date"].max())]["value"]
    assert made.sum() > 1e12  # tokens were made, and the stock follows them
    stock = ts[(ts["metric"] == "data_stock_tokens") & (ts["entity"] == "openai")]["value"].to_numpy()
    assert np.all(np.diff(stock) >= 0) and stock[-1] > stock[0]


def test_inference_is_served_on_the_oldest_products_first(baseline_result):
    """The placement rule: in a month when OpenAI holds several products, the ones inference holds
    are never newer than the ones left to pre-training."""
    world = build_world(sim.load_scenario(), seed=0)
    world.env.run(until=(dt.date(2028, 6, 15) - world.scenario.start_date).days)
    products = world.products
    lab = world.labs["openai"]
    inference = {i for s in lab.sites for i, n in enumerate(s.fleet.busy_by_use[INFERENCE]) if n > 0}
    assert inference
    newest_inference = max(products.available_day[i] for i in inference)
    free_or_pretraining = {i for s in lab.sites for i, n in enumerate(s.fleet.installed)
                           if n > s.fleet.busy_by_use[INFERENCE][i]}
    older_left = [i for i in free_or_pretraining if products.available_day[i] < newest_inference
                  and any(s.fleet.free(i) > 0 for s in lab.sites)]
    assert not older_left  # no older product sat free while inference took a newer one
