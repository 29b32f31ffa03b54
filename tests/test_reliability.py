"""Unit and property tests for sim/physics/reliability.py: rates, intervals, goodput, and the failure walk.

Tolerances: closed-form identities to 1e-9 relative; Monte Carlo averages (20 seeds x ~1,000
failures each) to 2% of the analytic goodput (observed within 0.6%) and 3% of the expected
failure count (observed 0.5%).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.physics.reliability import (
    MAX_EXPECTED_FAILURES,
    RSC1_PER_GPU_DAY,
    RSC2_PER_GPU_DAY,
    FailureOutcome,
    daly_interval_s,
    expected_outcome,
    failure_rate_per_gpu_day,
    first_order_goodput,
    goodput,
    goodput_at_interval,
    job_mttf_s,
    run_with_failures,
    sample_interruptions,
    simulate_failures,
    young_interval_s,
)
from sim.physics.units import SECONDS_PER_HOUR

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HOUR = SECONDS_PER_HOUR

gpus_st = st.integers(min_value=1, max_value=2_000_000)
quantile_st = st.floats(min_value=0.0, max_value=1.0)
checkpoint_st = st.floats(min_value=1.0, max_value=1800.0)
restart_st = st.floats(min_value=0.0, max_value=3600.0)


def checkpoint_time(duration, interval, checkpoint):
    """Write time of a failure-free run: whole cycles' writes plus any partial final write."""
    cycles = math.floor(duration / (interval + checkpoint))
    rest = duration - cycles * (interval + checkpoint)
    return cycles * checkpoint + max(0.0, rest - interval)


# ---------------------------------------------------------------- unit


def test_rate_quantiles_are_monotone_and_bounded():
    rates = [failure_rate_per_gpu_day(q) for q in np.linspace(0, 1, 11)]
    assert rates == sorted(rates)
    assert rates[0] == pytest.approx(RSC2_PER_GPU_DAY) and rates[-1] == pytest.approx(RSC1_PER_GPU_DAY)
    with pytest.raises(ValueError):
        failure_rate_per_gpu_day(1.5)


def test_job_mttf():
    assert job_mttf_s(1000, 1e-3) == pytest.approx(86_400.0)
    assert job_mttf_s(0, 1e-3) == math.inf and job_mttf_s(10, 0.0) == math.inf


def test_daly_falls_back_to_mttf_when_writes_are_long():
    assert daly_interval_s(7200.0, 3600.0) == 3600.0
    assert daly_interval_s(60.0, 36_000.0) < young_interval_s(60.0, 36_000.0)


def test_goodput_limits():
    assert goodput_at_interval(900.0, 100.0, 600.0, math.inf) == pytest.approx(0.9)
    assert goodput(0, RSC1_PER_GPU_DAY, 60.0, 600.0) == 1.0
    assert goodput_at_interval(0.0, 0.0, 600.0, 6000.0) == pytest.approx(math.exp(-0.1))
    # first order agrees while R and tau + delta are small next to M
    assert first_order_goodput(300.0, 10.0, 60.0, 1e6) == pytest.approx(
        goodput_at_interval(300.0, 10.0, 60.0, 1e6), rel=1e-4)


def test_walk_by_hand():
    """tau 90, delta 10, R 5; failures at 95 (mid-write), 96 (mid-restart), 102 (1 s into work)."""
    out = run_with_failures(1000.0, [95.0, 96.0, 102.0], 90.0, 10.0, 5.0)
    # lost: 95 (partial cycle) + 1 (restart cut short) + 5 (restart) + 1 (work) + 5 (restart)
    # then 893 s: 8 cycles (720 work) and 93 s more, of which 90 s work kept
    assert out == FailureOutcome(useful_s=810.0, interruptions=3, lost_s=107.0)


def test_failures_outside_the_run_are_ignored():
    assert run_with_failures(100.0, [-1.0, 100.0, 150.0], 10.0, 1.0, 5.0).interruptions == 0


def test_expected_fallback_beyond_max_failures():
    rng = np.random.default_rng(0)
    mttf, duration = 1.0, 10 * MAX_EXPECTED_FAILURES
    out = simulate_failures(rng, duration, mttf, 0.5, 0.01, 0.1)
    assert out == expected_outcome(duration, mttf, 0.5, 0.01, 0.1)
    assert out.interruptions == round(duration / mttf)
    assert out.useful_s == pytest.approx(duration * goodput_at_interval(0.5, 0.01, 0.1, mttf))
    with pytest.raises(ValueError):
        sample_interruptions(rng, duration, mttf)


# ---------------------------------------------------------------- properties


@SETTINGS
@given(gpus_st, quantile_st, checkpoint_st, restart_st)
def test_goodput_in_unit_interval(gpus, q, checkpoint, restart):
    g = goodput(gpus, failure_rate_per_gpu_day(q), checkpoint, restart)
    assert 0.0 < g <= 1.0


@SETTINGS
@given(gpus_st, gpus_st, quantile_st, checkpoint_st, restart_st)
def test_goodput_falls_as_gpus_grow(a, b, q, checkpoint, restart):
    small, large = sorted((a, b))
    rate = failure_rate_per_gpu_day(q)
    assert goodput(large, rate, checkpoint, restart) <= goodput(small, rate, checkpoint, restart) * (1 + 1e-9)


@SETTINGS
@given(st.floats(min_value=1.0, max_value=1e7), st.floats(min_value=1.0, max_value=1e5),
       st.floats(min_value=0.0, max_value=1e4))
def test_no_failures_leaves_duration_minus_checkpoints(duration, interval, checkpoint):
    out = run_with_failures(duration, [], interval, checkpoint, 600.0)
    assert out.interruptions == 0 and out.lost_s == 0.0
    assert out.useful_s == pytest.approx(duration - checkpoint_time(duration, interval, checkpoint), rel=1e-9)


@SETTINGS
@given(st.integers(min_value=0, max_value=2**32), st.floats(min_value=60.0, max_value=1e5),
       st.floats(min_value=10.0, max_value=1e4), checkpoint_st, restart_st)
def test_walk_accounts_for_all_time_and_is_deterministic(seed, mttf, interval, checkpoint, restart):
    duration = 200 * mttf
    a = simulate_failures(np.random.default_rng(seed), duration, mttf, interval, checkpoint, restart)
    b = simulate_failures(np.random.default_rng(seed), duration, mttf, interval, checkpoint, restart)
    assert a == b
    assert a.useful_s >= 0 and a.lost_s >= 0
    assert a.useful_s + a.lost_s <= duration * (1 + 1e-9)
    # every write takes delta per tau of work, plus at most one partial write at the end
    writes = duration - a.useful_s - a.lost_s
    assert writes == pytest.approx(a.useful_s / interval * checkpoint, abs=checkpoint + 1e-6 * duration)


@pytest.mark.parametrize("checkpoint, restart", [(60.0, 300.0), (300.0, 600.0), (10.0, 1800.0)])
def test_simulated_useful_time_matches_analytic_goodput(checkpoint, restart):
    mttf = HOUR
    tau = daly_interval_s(checkpoint, mttf)
    duration = 1000 * mttf
    outs = [simulate_failures(np.random.default_rng(s), duration, mttf, tau, checkpoint, restart) for s in range(20)]
    simulated = np.mean([o.useful_s for o in outs]) / duration
    assert simulated == pytest.approx(goodput_at_interval(tau, checkpoint, restart, mttf), rel=0.02)
    assert np.mean([o.interruptions for o in outs]) == pytest.approx(duration / mttf, rel=0.03)


def test_sampled_failures_are_sorted_and_inside_the_run():
    times = sample_interruptions(np.random.default_rng(7), 1e6, 200.0)
    assert times == sorted(times) and 0 <= times[0] and times[-1] < 1e6
    assert len(times) == pytest.approx(1e6 / 200.0, rel=0.05)
    assert sample_interruptions(np.random.default_rng(7), 1e6, math.inf) == []
