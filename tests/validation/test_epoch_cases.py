"""The Epoch 2030 report's public worked cases, reproduced by the simulator's pure functions.

Source: Epoch AI, "Can AI Scaling Continue Through 2030?" (Sevilla et al., Aug 2024), App. E, and
Erdil & Schneider-Joseph, arXiv 2411.01137; inputs, expected values and tolerances as listed in
shared/reference/epoch_2030.md, "Public validation cases" (case numbers below are that list's).
Then the collective-cost identities (Thakur, Rabenseifner & Gropp 2005; nccl-tests
doc/PERFORMANCE.md) and two sanity checks on distance.
"""
from __future__ import annotations

import itertools
import math

import pytest

from sim.collectives import (
    algbw_from_busbw,
    busbw_factor,
    epoch_allreduce_latency_s,
    epoch_pairwise_allreduce_latency_s,
    ring_allreduce_s,
)
from sim.hardware import facility_mw_for
from sim.step_time import (
    best_plan,
    chinchilla_params,
    critical_batch_tokens,
    layer_latency_s,
)
from sim.training import training_flop
from sim.walls import (
    ai_datacenter_power_w,
    bandwidth_wall_flop,
    bandwidth_wall_params,
    data_wall_flop,
    data_wall_tokens,
    distance_wall_flop,
    distance_wall_tokens,
    gradient_sync_s,
    latency_wall_flop,
    latency_wall_params,
    power_for_compute_w,
    power_wall_flop,
    sync_latency_s,
)

DAY_S = 86_400.0
EPOCH_W_PER_GPU_IT = 700 * 1.96  # H100 700 W x 1.96 server overhead (Epoch 2030 model inputs)
EPOCH_PUE = 1.2


def within(value: float, expected: float, rel: float) -> bool:
    return abs(value - expected) <= rel * abs(expected)


def within_factor(value: float, expected: float, factor: float) -> bool:
    return expected / factor <= value <= expected * factor


# --- the ten cases ---------------------------------------------------------------------------

def test_case_1_power_of_16k_gpus():
    """Case 1: 16,000 GPUs x 1,700 W -> 27.2 MW (±5%); 1,700 W = 700 W x 1.96 x 1.2 PUE."""
    assert within(facility_mw_for(16_000, EPOCH_W_PER_GPU_IT, EPOCH_PUE), 27.2, 0.05)


def test_case_2_power_of_the_2030_run():
    """Case 2: 5,000x Llama 3.1's compute, /4 FLOP/W, /2 FP8, /3 longer -> ~208x power -> ~5.7 GW (±15%)."""
    llama_w = facility_mw_for(16_000, EPOCH_W_PER_GPU_IT, EPOCH_PUE) * 1e6
    power_w = power_for_compute_w(llama_w, compute_ratio=5_000, flop_per_joule_ratio=4 * 2, duration_ratio=3)
    assert within(power_w / llama_w, 208, 0.01)
    assert within(power_w, 5.7e9, 0.15)


@pytest.mark.parametrize("days, expected", [(300, 2.3e29), (100, 7.8e28)])
@pytest.mark.parametrize("utilization", [0.375, 0.40])
def test_case_3_single_campus_power_wall(days, expected, utilization):
    """Case 3: 5 GW campus / 1,700 W per GPU, FLOP/W x4 over an H100 at 2e15 FP8, 37.5-40% utilization:
    300 days -> ~2.3e29, 100 days -> ~7.8e28 (x1.3)."""
    flop = power_wall_flop(5e9, 1_700, 4 * 2e15, utilization, days * DAY_S)
    assert within_factor(flop, expected, 1.3)


def test_case_4_distributed_power():
    """Case 4: 40 GW US DCs x 1.15^6 minus 37 GW non-AI x 1.08^6 -> ~30 GW AI; x 26% -> ~8 GW (±15%)."""
    ai_w = ai_datacenter_power_w(40e9, 1.15, 37e9, 1.08, 6)
    assert within(ai_w, 30e9, 0.15)
    assert within(0.26 * ai_w, 8e9, 0.15)


def test_case_5_distance_latency_wall():
    """Case 5: 11,000 km loop at 2e5 km/s = 110 ms per sync; 300 days -> 2.4e8 steps; x 60M tokens
    = 1.4e16 tokens -> ~6e31 FLOP Chinchilla (±5%)."""
    sync = sync_latency_s(11_000)
    assert math.isclose(sync, 0.110)
    duration = 300 * DAY_S
    assert within(duration / sync, 2.4e8, 0.05)
    assert within(distance_wall_tokens(duration, sync, 6e7), 1.4e16, 0.05)
    assert within(distance_wall_flop(duration, sync, 6e7), 6e31, 0.05)


def test_case_6_inter_dc_bandwidth_wall():
    """Case 6: 51.2 Tbps, 8-bit gradients, ring all-reduce + 110 ms, 300 days -> N ~ 16T -> ~3e28 (±10%)."""
    args = (300 * DAY_S, 51.2e12, sync_latency_s(11_000), 6e7)
    assert within(bandwidth_wall_params(*args, bits_per_param=8), 16e12, 0.10)
    assert within(bandwidth_wall_flop(*args, bits_per_param=8), 3e28, 0.10)
    # the wall is where (20 N / B) syncs of one ring all-reduce + 110 ms each fill the 300 days
    n = bandwidth_wall_params(*args)
    assert math.isclose(20 * n / 6e7 * gradient_sync_s(n, 51.2e12, sync_latency_s(11_000)), 300 * DAY_S)


def test_case_6_sync_time_matches_ring_allreduce():
    """Case 6's sync is a ring all-reduce: with many sites its bandwidth term is 2 n / beta."""
    n_bytes, beta = 16e12 * 8 / 8, 51.2e12 / 8
    many_sites = ring_allreduce_s(n_bytes, 10_000, 0.0, beta)
    assert within(many_sites, 2 * n_bytes / beta, 1e-3)


def test_case_7_chip_production():
    """Case 7: 16M H100e x 2e15 x 0.4 x 6 months -> 2.0e29; a lab's <= 20% share, 80% training ->
    ~100M H100e produced; 2024: 2M H100s / 4 -> ~6.3e27 (±5%)."""
    assert within(training_flop(16e6, 2e15, 0.4, 365 / 2), 2.0e29, 0.05)
    assert within(16e6 / 0.20 / 0.80, 100e6, 0.05)
    assert within(training_flop(2e6 / 4, 2e15, 0.4, 365 / 2), 6.3e27, 0.05)


@pytest.mark.parametrize("t_layer_s", [110e-6, 120e-6])
def test_case_8_intranode_latency_wall(t_layer_s):
    """Case 8: t_L 110-120 us, L = 0.088 N^0.27, D = 20 N, B = 60M, T = 270 days -> N ~ 7e14,
    C ~ 5-6e31 (report "700T, 6e31"; ±20%)."""
    duration = 270 * DAY_S
    assert within(latency_wall_params(duration, t_layer_s, 6e7), 7e14, 0.20)
    flop = latency_wall_flop(duration, t_layer_s, 6e7)
    assert 5e31 * 0.8 <= flop <= 6e31 * 1.2


def test_case_8_layer_latency_from_kernel_and_allreduce():
    """Case 8's t_L ~ 8 x 13.7 us ~ 110 us: 4.5 us kernel + 6.8 + 0.6 x 4 us NVLink all-reduce."""
    t_layer = layer_latency_s(epoch_allreduce_latency_s(4, 1))
    assert math.isclose(t_layer, 8 * 13.7e-6, rel_tol=1e-9)
    assert within(latency_wall_flop(270 * DAY_S, t_layer, 6e7), 6e31, 0.20)


def test_case_9_internode_latency_wall():
    """Case 9: 2.75 NVLink ranks, 16 pods -> 50.7 us per all-reduce (the pairwise form
    7.4 + 2 (0.6 n + 5 log2 M)), ~400 us per layer; 300M GPUs with 2,000-way 2D TP -> ~7e30 (x2)."""
    allreduce = epoch_pairwise_allreduce_latency_s(2.75, 16)
    assert math.isclose(allreduce, 50.7e-6, rel_tol=1e-9)
    t_layer = layer_latency_s(allreduce)  # 8 x (4.5 + 50.7) = 441.6 us
    assert within(t_layer, 400e-6, 0.15)
    duration = 270 * DAY_S  # case 8's duration
    flop = latency_wall_flop(duration, t_layer, 6e7)
    assert within_factor(flop, 7e30, 2)
    # ...and it takes of the order of 300M GPUs at 2e15 FLOP/s and 40% utilization to do it in time
    assert within_factor(flop / (2e15 * 0.4 * duration), 300e6, 2)


def test_case_10_text_data_wall():
    """Case 10: 500T tokens -> 25T parameters -> 7.5e28 (report "up to 8e28"); the median text
    stock 5.1e14 x 5 epochs x 0.2 quality is those ~500T tokens."""
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

def test_ring_allreduce_by_hand():
    """T = 2(p-1) alpha + 2 (p-1)/p n / beta: 1 GB over 4 ranks, 5 us, 100 GB/s =
    6 x 5 us + 1.5 x 1e9 / 1e11 s = 15.03 ms (Thakur, Rabenseifner & Gropp 2005)."""
    assert math.isclose(ring_allreduce_s(1e9, 4, 5e-6, 100e9), 0.01503, rel_tol=1e-12)
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
    shared/reference/network.md; 6.4 Tb/s per site): one campus steps faster."""
    campus = _plan(sites=1)
    spread = _plan(sites=5, wan_latency_s=1_000 * 4.9e-6, wan_bytes_s=6.4e12 / 8)
    assert campus.step_time_s < spread.step_time_s
