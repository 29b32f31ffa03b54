"""Validation of sim/physics/reliability.py against worked cases: Young 1974 and Daly 2006 checkpoint
intervals (5-minute write) and Kokolis et al. 2024 job MTTFs (docs/sources.md).

Each check states its tolerance. The worked figures themselves are rows of sim.studies.validate.CASES
(the table `sim validate` prints); the tests here check those rows and the readings around them.
Where the reference quotes a figure without all of its inputs (the effective-training-time cases),
the test names the reading it assumes.
"""
from __future__ import annotations

import pytest

from sim.physics.reliability import (
    RSC1_PER_GPU_DAY,
    RSC2_PER_GPU_DAY,
    daly_interval_s,
    failure_rate_per_gpu_day,
    goodput,
    goodput_at_interval,
    job_mttf_s,
    rate_per_gpu_day_from_mttf,
)
from sim.studies.validate import CASES
from sim.physics.units import SECONDS_PER_HOUR

MIN = 60.0
HOUR = SECONDS_PER_HOUR
DELTA = 5 * MIN  # Daly's worked cases: checkpoint write 5 min, restart 10 min
RESTART = 10 * MIN


RELIABILITY_CASES = [c for c in CASES if c.source in ("Daly 2006", "Young 1974", "Kokolis 2024")]


@pytest.mark.parametrize("case", RELIABILITY_CASES, ids=[c.id for c in RELIABILITY_CASES])
def test_worked_case_within_tolerance(case):
    """Rows of sim.studies.validate.CASES (`sim validate`): Daly 2006 eq. 37 within 2% of 117, 57 and
    9.1 min (computed 116.7, 56.7, 9.14); Young within 0.5% of 120, 60 and 12.2 (12.25); the
    projected job MTTFs at the RSC-1 rate, 1.803 h and 0.2254 h, within about 0.005 h (±0.3%
    and ±2.2%), the rounding of the quoted 0.23 h."""
    value = case.compute()
    assert case.passes(value), f"{case.id}: {value:.4g} {case.unit}, expected {case.expected:.4g}"


def test_reliability_cases_are_in_the_table():
    assert {c.id for c in RELIABILITY_CASES} == {"daly-24h", "daly-6h", "daly-15min", "young-24h", "young-6h",
                                                 "young-15min", "mttf-16k", "mttf-131k"}


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


@pytest.mark.parametrize("gpus", [16_384, 131_072])
def test_projected_job_mttf_is_the_top_of_the_rate_span(gpus):
    """The projected MTTFs (table rows mttf-16k, mttf-131k) come from the RSC-1 rate, quantile 1 of the span."""
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
