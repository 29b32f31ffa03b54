"""The Epoch 2030 report's public worked cases, reproduced by the simulator's pure functions.

Source: Epoch AI, "Can AI Scaling Continue Through 2030?" (Sevilla et al., Aug 2024), App. E, and
Erdil & Schneider-Joseph, arXiv 2411.01137: the report's ten public worked cases, with its inputs and
expected values (the case numbers are this project's, as in the `Epoch 2030 #N` rows of
sim.studies.validate.CASES).
The expected figures and tolerances live in sim.studies.validate.CASES (the table `sim validate` prints);
this file checks every row and what the table does not carry. Then the collective-cost identities
(Thakur, Rabenseifner & Gropp 2005; nccl-tests doc/PERFORMANCE.md) and two sanity checks on distance.
"""
from __future__ import annotations

import itertools
import math

import pytest

from sim.physics.collectives import (
    algbw_from_busbw,
    busbw_factor,
    epoch_allreduce_latency_s,
    epoch_pairwise_allreduce_latency_s,
    ring_allreduce_s,
)
from sim.physics.compute import chinchilla_params
from sim.physics.step_time import best_plan, critical_batch_tokens, layer_latency_s
from sim.studies.validate import CASES
from sim.physics.walls import (
    bandwidth_wall_params,
    data_wall_flop,
    data_wall_tokens,
    distance_wall_tokens,
    gradient_sync_s,
    latency_wall_flop,
    latency_wall_params,
    power_wall_flop,
    sync_latency_s,
)
from sim.physics.units import SECONDS_PER_DAY

DAY_S = SECONDS_PER_DAY


def within(value: float, expected: float, rel: float) -> bool:
    return abs(value - expected) <= rel * abs(expected)


def within_factor(value: float, expected: float, factor: float) -> bool:
    return expected / factor <= value <= expected * factor


# --- the ten cases ---------------------------------------------------------------------------
# Each figure of the ten cases is a row of sim.studies.validate.CASES (what `sim validate` prints), with
# its expected value, tolerance and the computation by the model's functions; the checks after the
# parametrized test are the ones the table does not carry (other inputs in a case's range, exact
# identities, the arithmetic linking a case's steps).

TABLE_CASES = [c for c in CASES if c.source.startswith("Epoch") or c.id in ("ring-allreduce", "nccl-busbw")]


@pytest.mark.parametrize("case", TABLE_CASES, ids=[c.id for c in TABLE_CASES])
def test_public_case_within_tolerance(case):
    value = case.compute()
    assert case.passes(value), (f"{case.id}: {value:.4g} {case.unit}, "
                                f"expected {case.expected:.4g} ({case.tolerance_label()})")


def test_case_3_at_40_percent_utilization():
    """Case 3 at the top of its 37.5-40% utilization range (the table uses 37.5%): 300 days ->
    ~2.3e29, 100 days -> ~7.8e28 (x1.3)."""
    for days, expected in ((300, 2.3e29), (100, 7.8e28)):
        assert within_factor(power_wall_flop(5e9, 1_700, 4 * 2e15, 0.40, days * DAY_S), expected, 1.3)


def test_case_5_sync_and_steps():
    """Case 5: 110 ms per sync exactly; 300 days / 110 ms -> 2.4e8 steps (±5%)."""
    sync = sync_latency_s(11_000)
    assert math.isclose(sync, 0.110)
    assert within(300 * DAY_S / sync, 2.4e8, 0.05)
    assert math.isclose(distance_wall_tokens(300 * DAY_S, sync, 6e7), 300 * DAY_S / sync * 6e7)


def test_case_6_wall_fills_the_run():
    """Case 6: the wall is where (20 N / B) syncs of one ring all-reduce + 110 ms each fill the 300 days."""
    args = (300 * DAY_S, 51.2e12, sync_latency_s(11_000), 6e7)
    n = bandwidth_wall_params(*args)
    assert math.isclose(20 * n / 6e7 * gradient_sync_s(n, 51.2e12, sync_latency_s(11_000)), 300 * DAY_S)


def test_case_6_sync_time_matches_ring_allreduce():
    """Case 6's sync is a ring all-reduce: with many sites its bandwidth term is 2 n / beta."""
    n_bytes, beta = 16e12 * 8 / 8, 51.2e12 / 8
    many_sites = ring_allreduce_s(n_bytes, 10_000, 0.0, beta)
    assert within(many_sites, 2 * n_bytes / beta, 1e-3)


@pytest.mark.parametrize("t_layer_s", [110e-6, 120e-6])
def test_case_8_intranode_latency_wall(t_layer_s):
    """Case 8 across its t_L range 110-120 us (the table uses the model's 109.6 us): N ~ 7e14,
    C ~ 5-6e31 (report "700T, 6e31"; ±20%)."""
    duration = 270 * DAY_S
    assert within(latency_wall_params(duration, t_layer_s, 6e7), 7e14, 0.20)
    flop = latency_wall_flop(duration, t_layer_s, 6e7)
    assert 5e31 * 0.8 <= flop <= 6e31 * 1.2


def test_case_8_layer_latency_from_kernel_and_allreduce():
    """Case 8's t_L ~ 8 x 13.7 us ~ 110 us: 4.5 us kernel + 6.8 + 0.6 x 4 us NVLink all-reduce, exactly."""
    assert math.isclose(layer_latency_s(epoch_allreduce_latency_s(4, 1)), 8 * 13.7e-6, rel_tol=1e-9)


def test_case_9_allreduce_is_the_pairwise_form():
    """Case 9: 7.4 + 2 (0.6 x 2.75 + 5 log2 16) = 50.7 us exactly; 8 x (4.5 + 50.7) = 441.6 us per layer."""
    allreduce = epoch_pairwise_allreduce_latency_s(2.75, 16)
    assert math.isclose(allreduce, 50.7e-6, rel_tol=1e-9)
    assert math.isclose(layer_latency_s(allreduce), 441.6e-6, rel_tol=1e-9)


def test_case_10_text_data_wall():
    """Case 10: 500T tokens -> 25T parameters -> 7.5e28 exactly; the median text stock 5.1e14 x
    5 epochs x 0.2 quality is those ~500T tokens (±5%) and stays under the report's "up to 8e28"."""
    assert math.isclose(chinchilla_params(data_wall_flop(5e14)), 25e12, rel_tol=1e-9)
    assert math.isclose(data_wall_flop(5e14), 7.5e28, rel_tol=1e-9)
    tokens = data_wall_tokens(5.1e14, 5, 0.2)
    assert within(tokens, 5e14, 0.05)
    assert data_wall_flop(tokens) <= 8e28


def test_latency_wall_headline_with_critical_batch():
    """Headline table: latency wall ~3e31 (80% CI 3e30-1e32) with the batch growing with N and
    290-440 us per layer; the critical batch here is anchored at 60M tokens for a 2e29 model."""
    assert within(critical_batch_tokens(chinchilla_params(2e29)), 6e7, 1e-9)
    for t_layer in (290e-6, 440e-6):
        for days in (180, 270):
            assert 3e30 <= latency_wall_flop(days * DAY_S, t_layer) <= 1e32


# --- collective identities -------------------------------------------------------------------

def test_ring_allreduce_needs_two_ranks():
    """The hand-computed 1 GB / 4 ranks case is the table's `ring-allreduce` row; one rank (or none)
    communicates nothing."""
    assert ring_allreduce_s(1e9, 1, 5e-6, 100e9) == 0.0
    assert ring_allreduce_s(1e9, 0, 5e-6, 100e9) == 0.0


@pytest.mark.parametrize("ranks", [2, 3, 8, 72, 1024])
def test_ring_allreduce_busbw_identity(ranks):
    """nccl-tests doc/PERFORMANCE.md: algbw x 2(n-1)/n == busbw, and a bandwidth-bound ring
    all-reduce runs its links at busbw == the link bandwidth."""
    n_bytes, link = 4e9, 50e9
    algbw = n_bytes / ring_allreduce_s(n_bytes, ranks, 0.0, link)
    assert math.isclose(algbw * 2 * (ranks - 1) / ranks, link, rel_tol=1e-12)
    assert math.isclose(algbw * busbw_factor("allreduce", ranks), link, rel_tol=1e-12)
    assert math.isclose(algbw_from_busbw(link, "allreduce", ranks), algbw, rel_tol=1e-12)


# --- distance --------------------------------------------------------------------------------

COMMON = {"kernel_efficiency": 0.6, "nvlink_domain": 8, "nvlink_bytes_s": 450e9,
          "fabric_bytes_s_per_gpu": 50e9, "hop_latency_s": 2e-6, "pods": 4}


def _plan(**kw):
    params = chinchilla_params(1e26)
    return best_plan(params, critical_batch_tokens(params), 40_000, 989e12, **{**COMMON, **kw})


def test_mfu_falls_as_wan_latency_grows():
    """More WAN latency never helps, and at continental distances it costs MFU (5 sites, 6.4 Tb/s each)."""
    mfus = [_plan(sites=5, wan_latency_s=ms * 1e-3, wan_bytes_s=6.4e12 / 8).mfu for ms in (0, 1, 5, 20, 50, 100)]
    assert all(a >= b for a, b in itertools.pairwise(mfus))
    assert mfus[-1] < mfus[0]


def test_one_campus_is_faster_than_five_sites_1000_km_apart():
    """Same GPUs on one campus vs split over 5 sites 1,000 km apart (4.9 us/km one way,
    light in silica fiber at 1550 nm; 6.4 Tb/s per site): one campus steps faster."""
    campus = _plan(sites=1)
    spread = _plan(sites=5, wan_latency_s=1_000 * 4.9e-6, wan_bytes_s=6.4e12 / 8)
    assert campus.step_time_s < spread.step_time_s
