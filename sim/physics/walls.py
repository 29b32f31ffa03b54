"""The walls: the largest compute-optimal training run each constraint allows on its own.

Pure functions of numbers, with no simulation state, following the Epoch 2030 report
(Sevilla et al. 2024, App. E) and Erdil & Schneider-Joseph, "Data movement limits to
frontier model training" (arXiv 2411.01137); they must reproduce the report's ten public worked
cases (tests/validation/test_epoch_cases.py). Runs are compute-optimal throughout:
C = 6 N D, D = 20 N, so C = 120 N^2 = 0.3 D^2.
"""
from __future__ import annotations

import math

from sim.physics.collectives import busbw_factor
from sim.physics.compute import TOKENS_PER_PARAM, compute_optimal_flop, compute_optimal_flop_for_tokens
from sim.physics.step_time import critical_batch_tokens, layers

FIBER_KM_S = 2e5
"""Speed of light in fiber as Epoch takes it (2e5 km/s; silica fiber at 1550 nm: 204,000 km/s, 4.9 us/km)."""


# --- latency ---------------------------------------------------------------------------------

def min_training_time_s(t_layer_s: float, n_layers: float, tokens: float, batch_tokens: float) -> float:
    """Minimum wall-clock time of a run: T >= t_L x L x D / B (Epoch 2030 App. E; Erdil &
    Schneider-Joseph 2024): D / B sequential steps, each crossing L layers of at least t_L each."""
    return t_layer_s * n_layers * tokens / batch_tokens


def max_tokens_latency_wall(duration_s: float, t_layer_s: float, params: float, batch_tokens: float) -> float:
    """Most tokens a model of N parameters can train on in a duration under the latency wall:
    D = T B / (t_L L(N)), L = 0.088 N^0.27 (Epoch 2030 App. E)."""
    return duration_s * batch_tokens / (t_layer_s * layers(params))


def latency_wall_params(duration_s: float, t_layer_s: float, batch_tokens: float | None = None) -> float:
    """Largest compute-optimal model trainable in a duration under the latency wall.

    Solves T = t_L x L(N) x 20 N / B(N) for N by bisection on log N (Epoch 2030 App. E), with
    L = 0.088 N^0.27 and B fixed (`batch_tokens`) or, if None, the critical batch ~ N^0.36
    (sim.physics.step_time.critical_batch_tokens). The left side grows with N (as N^1.27 or N^0.91).
    """
    def time_s(n: float) -> float:
        batch = batch_tokens if batch_tokens is not None else critical_batch_tokens(n)
        return min_training_time_s(t_layer_s, layers(n), TOKENS_PER_PARAM * n, batch)

    lo, hi = 0.0, 30.0  # log10 N: 1 to 1e30 parameters
    if time_s(10**hi) <= duration_s:
        return 10**hi
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if time_s(10**mid) <= duration_s:
            lo = mid
        else:
            hi = mid
    return 10**lo


def latency_wall_flop(duration_s: float, t_layer_s: float, batch_tokens: float | None = None) -> float:
    """Largest compute-optimal run (FLOP) under the latency wall: C = 6 N (20 N) at the N of
    `latency_wall_params` (Epoch 2030 case 8: t_L 110-120 us, B = 60M, 270 days -> N ~ 7e14, ~6e31)."""
    return compute_optimal_flop(latency_wall_params(duration_s, t_layer_s, batch_tokens))


def sync_latency_s(loop_km: float, fiber_km_s: float = FIBER_KM_S) -> float:
    """Latency of one gradient synchronisation around a ring of data centres: twice the loop at the
    speed of light in fiber, as a ring all-reduce goes round once to reduce-scatter and once to
    all-gather. Epoch 2030 case 5: an 11,000 km loop at 2e5 km/s -> 110 ms per sync."""
    return 2.0 * loop_km / fiber_km_s


def distance_wall_tokens(duration_s: float, sync_s: float, batch_tokens: float) -> float:
    """Most tokens trainable when every step waits for one synchronisation: D = (T / t_sync) x B
    (Epoch 2030 case 5: 300 days / 110 ms = 2.4e8 steps x 60M tokens = 1.4e16 tokens)."""
    return duration_s / sync_s * batch_tokens


def distance_wall_flop(duration_s: float, sync_s: float, batch_tokens: float) -> float:
    """Largest compute-optimal run when each step waits for a synchronisation: C = 0.3 D^2 with D from
    `distance_wall_tokens` (Epoch 2030 case 5: ~6e31 FLOP)."""
    return compute_optimal_flop_for_tokens(distance_wall_tokens(duration_s, sync_s, batch_tokens))


# --- inter-data-centre bandwidth -------------------------------------------------------------

def gradient_sync_s(
    params: float, bandwidth_bit_s: float, sync_s: float, bits_per_param: float = 8, sites: int | None = None
) -> float:
    """Time of one gradient synchronisation between data centres: a ring all-reduce's bandwidth
    term, 2 (p-1)/p x N x bits / bandwidth (Thakur, Rabenseifner & Gropp 2005), plus the sync
    latency. `sites=None` takes the many-site limit 2(p-1)/p -> 2, as Epoch 2030 case 6 does."""
    factor = 2.0 if sites is None else busbw_factor("allreduce", sites)
    return factor * params * bits_per_param / bandwidth_bit_s + sync_s


def bandwidth_wall_params(
    duration_s: float,
    bandwidth_bit_s: float,
    sync_s: float,
    batch_tokens: float,
    bits_per_param: float = 8,
    sites: int | None = None,
) -> float:
    """Largest compute-optimal model whose gradient synchronisations fit in the run:
    (20 N / B) steps x `gradient_sync_s`(N) = T, a quadratic a N^2 + b N = T solved exactly.

    Epoch 2030 case 6: 51.2 Tbps between data centres, 8-bit gradients, ring all-reduce + 110 ms,
    60M-token batch, 300 days -> N ~ 16T. Only the synchronisation is counted: compute runs
    alongside it.
    """
    steps_per_param = TOKENS_PER_PARAM / batch_tokens
    factor = 2.0 if sites is None else busbw_factor("allreduce", sites)
    a = steps_per_param * factor * bits_per_param / bandwidth_bit_s
    b = steps_per_param * sync_s
    if a == 0:
        return duration_s / b
    return (-b + math.sqrt(b * b + 4 * a * duration_s)) / (2 * a)


def bandwidth_wall_flop(
    duration_s: float,
    bandwidth_bit_s: float,
    sync_s: float,
    batch_tokens: float,
    bits_per_param: float = 8,
    sites: int | None = None,
) -> float:
    """Largest compute-optimal run (FLOP) the inter-data-centre bandwidth allows: 120 N^2 at the N of
    `bandwidth_wall_params` (Epoch 2030 case 6: ~3e28)."""
    return compute_optimal_flop(
        bandwidth_wall_params(duration_s, bandwidth_bit_s, sync_s, batch_tokens, bits_per_param, sites)
    )


# --- data ------------------------------------------------------------------------------------

def data_wall_tokens(stock_tokens: float, epochs: float, quality: float) -> float:
    """Effective training tokens: stock x epochs x quality factor (Epoch 2030: text 5.1e14 tokens x
    5 epochs x 0.2 quality = 5.1e14, i.e. the ~500T tokens of case 10)."""
    return stock_tokens * epochs * quality


def data_wall_flop(effective_tokens: float) -> float:
    """Largest compute-optimal run the data allows: D = tokens, N = D / 20, C = 6 N D
    (Epoch 2030 case 10: 500T tokens -> 25T parameters -> 7.5e28 FLOP)."""
    return compute_optimal_flop_for_tokens(effective_tokens)


# --- power -----------------------------------------------------------------------------------

def power_wall_flop(
    power_w: float, facility_w_per_gpu: float, peak_flop_s: float, utilization: float, duration_s: float
) -> float:
    """Largest run a power budget allows: (power / facility W per GPU) x peak x utilization x time
    (Epoch 2030 case 3: 5 GW / 1,700 W, 4 x 2e15 FLOP/s, 37.5-40%, 300 days -> ~2.3e29)."""
    return power_w / facility_w_per_gpu * peak_flop_s * utilization * duration_s


def power_for_compute_w(
    reference_power_w: float, compute_ratio: float, flop_per_joule_ratio: float, duration_ratio: float
) -> float:
    """Power a run needs relative to a reference run: P = P_ref x compute ratio / (FLOP per joule
    gain x duration ratio) (Epoch 2030 case 2: Llama 3.1's 27 MW x 5,000 / (4 x 2 x 3) -> ~5.7 GW)."""
    return reference_power_w * compute_ratio / (flop_per_joule_ratio * duration_ratio)


def ai_datacenter_power_w(
    all_dc_w: float, dc_growth_per_year: float, non_ai_w: float, non_ai_growth_per_year: float, years: float
) -> float:
    """Data-centre power left for AI after some years: all data centres grown at their rate minus
    non-AI load grown at its own (Epoch 2030 case 4: 40 GW x 1.15^6 - 37 GW x 1.08^6 -> ~30 GW;
    a 26% share of it -> ~8 GW for one distributed run)."""
    return all_dc_w * dc_growth_per_year**years - non_ai_w * non_ai_growth_per_year**years
