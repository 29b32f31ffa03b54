"""Simulation-level validation: the shipped baseline against published figures.

Sources: Epoch AI, "Can AI Scaling Continue Through 2030?" (2024; its figures are also rows of
sim/data/supply.csv); Llama 3 paper (Meta, "The Llama 3 Herd of Models", 2024) for Llama 3.1 405B. Each test
states its tolerance. The baseline is simulated once for the session (tests/conftest.py).
"""
from __future__ import annotations

import pandas as pd
import pytest

from sim.physics.frontier import CONSTRAINTS, WALLS
from sim.config.schedule import month_starts


@pytest.fixture(scope="module")
def scenario(baseline):
    return baseline  # tests/conftest.py: the shipped baseline, loaded once per session


@pytest.fixture(scope="module")
def result(baseline_result):
    return baseline_result  # and simulated once, seed 0


def _world(result, metric: str) -> pd.Series:
    ts = result.timeseries
    rows = ts[(ts["entity"] == "world") & (ts["metric"] == metric)]
    return rows.set_index("date")["value"]


def test_largest_run_by_2030_is_near_epochs_2e29(result):
    # Epoch headline: ~2e29 FLOP feasible by 2030 (constraint medians 2e29 .. 9e29; power CI 1e28 - 3e29).
    # Tolerance: inside Epoch's power-constraint 80% interval, [1e28, 3e29]. The labs now launch their own
    # runs (run policy) on what they can power (purchase policy), and the largest run completed by the
    # end of 2030 (~2e28) sits in the lower part: a million-GPU run reaches MFU ~0.2 and goodput ~0.6-0.8
    # in the step-time and failure models (issue 13 revisits both).
    runs = result.runs
    done = runs[(runs["status"] == "completed") & (runs["end"] <= "2030-12-31") & (runs["end"] != "")]
    assert len(done) > 0
    largest = done["flop"].max()
    assert 1e28 <= largest <= 3e29, largest
    assert result.summary["largest_run_completed"]["flop"] == pytest.approx(largest)


def test_several_runs_train_with_sensible_mfu(result):
    runs = result.runs
    trained = runs[(runs["flop"] > 0) & (runs["mfu"] > 0) & (runs["mfu"] < 1)]
    assert len(trained) >= 3
    # utilization: Epoch 20 / 37.5 / 60 % (80% CI); Llama 3 38-43 %. Runs below 1e27 FLOP (up to a few
    # hundred thousand GPUs) lie inside Epoch's range. Larger runs fall below it (Epoch: utilization falls
    # above ~1e28): at 300k-1M GPUs the step model charges tensor-parallel all-reduces across NVL72 widths,
    # gradient traffic through the 1:7 tier above 8,192-GPU pods and GPUs the critical batch cannot feed
    # (docs/calibration.md, "Parallelism, memory and the fabric"); never below 4%, and the median run not
    # below 12%.
    small = trained[(trained["flop"] < 1e27) & (trained["status"] == "completed")]  # not big runs cut short
    assert 0.2 <= small["mfu"].median() <= 0.6
    assert 0.12 <= trained["mfu"].median() <= 0.6
    assert trained["mfu"].between(0.04, 0.6).all()
    big = trained[trained["flop"] > 1e28]
    assert big["mfu"].median() < small["mfu"].median()


def test_2024_world_production_matches_epoch(result):
    # sim/data/supply.csv h100e_annual_production 2024: 1.0M / 1.85M / 4.63M H100e (Epoch). Tolerance: x1.5 of the median.
    produced = _world(result, "produced_h100e_total")
    in_2024 = produced["2025-01-01"] - produced["2024-01-01"]
    assert 1.85e6 / 1.5 <= in_2024 <= 1.85e6 * 1.5, in_2024


def test_2030_cumulative_production_within_epochs_range(result):
    # sim/data/supply.csv h100e_stock 2030: 20M / 100M / 400M H100e (Epoch 80% CI); tolerance: inside the CI.
    produced = _world(result, "produced_h100e_total")
    assert 20e6 <= produced.iloc[-1] <= 400e6, produced.iloc[-1]


def test_meta_2024_reproduces_llama_3_1_405b(result):
    # Llama 3 paper: 405B trained on 16k H100s for 54 days at 38-43% BF16 MFU; 3.8e25 FLOP. Tolerance +-25%.
    run = result.runs.set_index("run").loc["meta-2024"]
    assert run["status"] == "completed"
    assert run["gpu_type"] == "H100-SXM5" and run["precision"] == "bf16"
    assert run["flop"] == pytest.approx(3.8e25, rel=0.25)
    assert run["gpus"] == pytest.approx(16_384, rel=0.25)
    assert run["start"] == pd.Timestamp("2024-04-01") and run["end"] == pd.Timestamp("2024-05-25")  # 54 days


def test_frontier_has_one_row_per_month_per_constraint(result, scenario):
    fr = result.frontier
    months = [pd.Timestamp(d) for d in month_starts(scenario.start_date, scenario.end_date)]
    assert len(months) == 84  # 2024-01 .. 2030-12
    counts = fr.groupby(["date", "constraint"]).size()
    assert (counts == 1).all()
    for month in months:
        assert sorted(fr.loc[fr["date"] == month, "constraint"]) == sorted(CONSTRAINTS + WALLS), month
    # besides the month starts, at most one extra date: the end date itself
    extra = sorted(set(fr["date"]) - set(months))
    assert extra in ([], [pd.Timestamp(scenario.end_date)])
    assert len(fr) == 6 * (len(months) + len(extra))
    assert set(fr["binding_constraint"]) <= {"chips", "power", "network", "latency", "data"}
    assert fr["max_flop"].notna().all() and (fr["max_flop"] >= 0).all()


def test_frontier_by_2030_is_bound_by_chips_with_power_built_ahead_inside_epochs_range(result):
    # Epoch: power binds first, then chips; the largest run power allows by 2030 is 1e28 - 3e29 on one
    # campus and 2e28 - 2e30 distributed (80% CIs). Tolerance: the end-2030 combined frontier lies in
    # [5e27, 2e30] (see below). The labs' procurement policies build power for the purchases they plan 2.5 years
    # ahead (docs/policies.md), so by 2030 power runs ahead of chips: chips bind, and the run power
    # alone allows is at least 0.8x and at most 2.5x the chips' (a policy that built nothing, or far
    # more than its planned purchases, would fall outside).
    fr = result.frontier
    combined = fr[fr["constraint"] == "combined"].set_index("date")["max_flop"]
    assert combined.index[0] == pd.Timestamp(2024, 1, 1)
    # The frontier is sized with the physics of runs (MFU x expected goodput on the lab's network), ~0.08 at
    # millions of GPUs against Epoch's flat 0.4 utilisation, so it may lie up to 2x below Epoch's low end.
    assert 5e27 <= combined.iloc[-1] <= 2e30, combined.iloc[-1]
    assert combined.iloc[-1] > combined.iloc[0]
    last = fr[fr["date"] == fr["date"].max()]
    # Chips or power: the GPUs a lab's experiments, synthetic data and inference hold ahead of training are
    # not the run's, and being its oldest they draw much power for little FLOP/s, so power alone drops
    # nearer chips alone (docs/calibration.md, "Compute beyond pre-training"); the two stay within the
    # band below.
    assert set(last["binding_constraint"]) <= {"chips", "power"}
    by = last.set_index("constraint")["max_flop"]
    assert 0.8 <= by["power"] / by["chips"] <= 2.5, (by["power"], by["chips"])
