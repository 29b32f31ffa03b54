"""Validation of sim/reliability.py against the worked cases in shared/reference/reliability.md.

Each check states its tolerance. Where the reference quotes a figure without all of its inputs
(the effective-training-time cases), the test names the reading it assumes.
"""
from __future__ import annotations

import pytest

from sim.reliability import (
    RSC1_PER_GPU_DAY,
    RSC2_PER_GPU_DAY,
    daly_interval_s,
    failure_rate_per_gpu_day,
    goodput,
    goodput_at_interval,
    job_mttf_s,
    rate_per_gpu_day_from_mttf,
    young_interval_s,
)

MIN = 60.0
HOUR = 3600.0
DELTA = 5 * MIN  # Daly's worked cases: checkpoint write 5 min, restart 10 min
RESTART = 10 * MIN


@pytest.mark.parametrize("mttf_h, daly_min, young_min", [(24, 117, 120), (6, 57, 60), (0.25, 9.1, 12.2)])
def test_daly_and_young_worked_cases(mttf_h, daly_min, young_min):
    """Daly 2006 eq. 37 within 2% (computed 116.7, 56.7, 9.14 min); Young within 0.5% (120, 60, 12.25)."""
    assert daly_interval_s(DELTA, mttf_h * HOUR) / MIN == pytest.approx(daly_min, rel=0.02)
    assert young_interval_s(DELTA, mttf_h * HOUR) / MIN == pytest.approx(young_min, rel=0.005)


def test_restart_does_not_move_daly_optimum():
    """In Daly's model R scales T_w by e^{R/M} only, so the best interval is the same for any R."""
    mttf = 6 * HOUR
    tau = daly_interval_s(DELTA, mttf)
    for restart in (0.0, RESTART, 3 * RESTART):
        best = max(goodput_at_interval(t * MIN, DELTA, restart, mttf) for t in range(10, 200))
        assert goodput_at_interval(tau, DELTA, restart, mttf) == pytest.approx(best, rel=1e-4)


def test_rate_distribution_spans_the_two_clusters():
    """Kokolis et al. 2024: RSC-2 2.34, RSC-1 6.50 per 1,000 node-days; median their geometric mean 3.90."""
    per_1000_node_days = [failure_rate_per_gpu_day(q) * 8 * 1000 for q in (0.0, 0.5, 1.0)]
    assert per_1000_node_days == pytest.approx([2.34, 3.90, 6.50], rel=1e-3)


@pytest.mark.parametrize("gpus, mttf_h, abs_h", [(16_384, 1.8, 0.005), (131_072, 0.23, 0.005)])
def test_projected_job_mttf_at_rsc1_rate(gpus, mttf_h, abs_h):
    """The projected MTTFs come from the RSC-1 rate (quantile 1): 1.803 h and 0.2254 h, within the
    rounding of the quoted figures (+-0.005 h)."""
    assert job_mttf_s(gpus, RSC1_PER_GPU_DAY) / HOUR == pytest.approx(mttf_h, abs=abs_h)
    assert job_mttf_s(gpus, failure_rate_per_gpu_day(1.0)) == pytest.approx(job_mttf_s(gpus, RSC1_PER_GPU_DAY))


@pytest.mark.parametrize("gpus, observed_h", [(1_024, 7.9), (8, 47.7 * 24)])
def test_observed_job_mttf_lies_above_the_node_rate_span(gpus, observed_h):
    """Known gap: the observed 1,024-GPU (7.9 h) and 8-GPU (47.7 d) job MTTFs imply 23.7 and 21.0
    failures per 1,000 node-days, 3.2-3.7x the RSC-1 node rate (which gives 28.8 h and 154 d).
    Job-level failures seen there include more than node failures; the span here does not cover them."""
    implied = rate_per_gpu_day_from_mttf(gpus, observed_h * HOUR)
    assert 3.0 * RSC1_PER_GPU_DAY < implied < 4.0 * RSC1_PER_GPU_DAY


def test_five_minute_checkpoints_give_093():
    """"5-minute checkpoints -> 0.93". Reading: 16,384 GPUs at the RSC-1 rate (MTTF 1.8 h), a 5-min
    interval with an asynchronous (free) write, restart at the 5-min low end of the 5-20 min range.
    Computed 0.933 (first-order 0.931); within 0.01. A 20-min restart would give 0.81."""
    mttf = job_mttf_s(16_384, RSC1_PER_GPU_DAY)
    assert goodput_at_interval(5 * MIN, 0.0, 5 * MIN, mttf) == pytest.approx(0.93, abs=0.01)


def test_100k_gpus_need_two_minute_checkpoint_and_restart_for_090():
    """"100k GPUs need ~2-min checkpoint+restart for 0.9". Reading: 2-min interval, free write,
    2-min restart. Across the rate span goodput runs 0.94 (RSC-2) / 0.90 (median) / 0.84 (RSC-1):
    it brackets 0.9 and hits it at the median within 0.01. Equivalently, at the RSC-1 rate (MTTF
    17.7 min) goodput 0.9 leaves ~1.8 min of waste per failure (restart + half an interval)."""
    values = [goodput_at_interval(2 * MIN, 0.0, 2 * MIN, job_mttf_s(100_000, failure_rate_per_gpu_day(q)))
              for q in (0.0, 0.5, 1.0)]
    assert values[2] < 0.9 < values[0]
    assert values[1] == pytest.approx(0.90, abs=0.01)
    waste_budget_min = 0.1 * job_mttf_s(100_000, RSC1_PER_GPU_DAY) / MIN
    assert waste_budget_min == pytest.approx(2.0, abs=0.25)


def test_megascale_above_090():
    """MegaScale (NSDI 2024): >90% effective training time on 12,288 GPUs, restarts found and
    diagnosed in <10 min, checkpoints to host memory in seconds. With a 10-s write, a 10-min
    restart and Daly's interval: 0.947 (RSC-2 rate), 0.924 (median), 0.889 (RSC-1): above 0.9
    at or below the median rate."""
    for q in (0.0, 0.5):
        assert goodput(12_288, failure_rate_per_gpu_day(q), 10.0, 10 * MIN) > 0.90
    assert goodput(12_288, RSC1_PER_GPU_DAY, 10.0, 10 * MIN) == pytest.approx(0.889, abs=0.005)
    # >100 restarts over a few weeks: 3 weeks at 12,288 GPUs expects 126 (median) to 210 (RSC-1)
    for rate in (failure_rate_per_gpu_day(0.5), RSC1_PER_GPU_DAY):
        assert 21 * 86_400 / job_mttf_s(12_288, rate) > 100
    assert RSC2_PER_GPU_DAY < failure_rate_per_gpu_day(0.5) < RSC1_PER_GPU_DAY
