"""What a training run on a given set of GPUs and network can do: model size under the data and
latency walls, step time and MFU from the parallel plan, and the run's limiting factor.

Pure functions of numbers: the network is a `Network` (sim.physics.fabric; sim.network.spans
builds it from a topology) and the scenario's training physics anything shaped like `RunPhysics`.
The run process calls `plan_run` once when a run starts. Sources: Epoch 2030 report App. E
(compute-optimal sizing, latency wall, data wall); the step-time model in sim.physics.step_time;
collectives in sim.physics.collectives.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Protocol

from sim.physics.compute import TOKENS_PER_PARAM, chinchilla_params
from sim.physics.fabric import Network
from sim.physics.step_time import StepTime, best_plan, critical_batch_tokens, layers
from sim.physics.units import BITS_PER_BYTE, SECONDS_PER_DAY
from sim.physics.walls import (
    bandwidth_wall_flop,
    data_wall_flop,
    data_wall_tokens,
    latency_wall_flop,
    latency_wall_params,
)

EPOCH_BATCH_TOKENS = 6e7  # Epoch 2030 median achievable batch (1.6e7 / 6e7 / 3.6e8 tokens)


class DataStockLike(Protocol):
    """Training data available to a run: effective tokens = stock x epochs x quality."""

    @property
    def stock_tokens(self) -> float: ...

    @property
    def epochs(self) -> float: ...

    @property
    def quality(self) -> float: ...


class RunPhysics(Protocol):
    """What sizing reads of a scenario's training physics (sim.config's TrainingPhysics is one)."""

    @property
    def kernel_efficiency(self) -> float: ...  # fraction of peak that compute kernels reach

    @property
    def sequence_tokens(self) -> float: ...  # tokens per sequence: the smallest microbatch per replica

    @property
    def batch_tokens(self) -> float | None: ...  # fixed batch; None: the critical batch

    @property
    def data(self) -> DataStockLike: ...


@dataclass(frozen=True)
class RunPlan:
    """The model a run trains and how fast it steps."""

    params: float
    batch_tokens: float
    step: StepTime
    limited_by: str  # "compute" (chips/power set the size), "data" or "latency"


@dataclass(frozen=True)
class OuterSync:
    """Low-communication training across sites (DiLoCo, Douillard et al. 2023; streaming DiLoCo,
    Douillard et al. 2025): H inner steps between outer syncs, outer gradients of so many bytes per
    parameter, optionally overlapped with the inner steps, and the tokens' worth against synchronous
    training (token_efficiency: 1 = as good)."""

    inner_steps: int
    outer_gradient_bytes: float
    overlap: bool
    token_efficiency: float


def outer_sync_of(sync) -> OuterSync | None:
    """A scenario's or job's `sync` ("synchronous" or {diloco: {...}}) as an OuterSync (None: synchronous)."""
    if sync is None or sync == "synchronous":
        return None
    d = sync.diloco
    return OuterSync(d.inner_steps, d.outer_bits / BITS_PER_BYTE, d.overlap, d.token_efficiency)


def step_on(network: Network, params: float, batch_tokens: float, gpus: int, peak_flop_s: float,
            physics: RunPhysics, hbm_bytes: float | None = None, tp_choices: tuple[int, ...] | None = None,
            pp_choices: tuple[int, ...] | None = None, sync: "OuterSync | None" = None) -> StepTime:
    """Step time of a model on `gpus` GPUs spread evenly over the network's sites: `best_plan`
    (Megatron-LM 3D parallelism, Narayanan et al. 2021; Epoch App. E latency floor) on the
    network's weakest fabric and WAN ring; with `hbm_bytes`, only plans whose model state fits.
    Cached: a sweep's replications and a compare's topologies ask for the same plans again."""
    hbm = hbm_bytes if hbm_bytes is not None and math.isfinite(hbm_bytes) else None
    return _step_on(network, params, batch_tokens, gpus, peak_flop_s, physics.kernel_efficiency,
                    physics.sequence_tokens, hbm, tp_choices, pp_choices, sync)


def step_on_cache_clear() -> None:
    """Forget the cached plans (benchmarks measure one run's own cost)."""
    _step_on.cache_clear()


@functools.lru_cache(maxsize=4096)
def _step_on(network: Network, params: float, batch_tokens: float, gpus: int, peak_flop_s: float,
             kernel_efficiency: float, sequence_tokens: float, hbm_bytes: float | None,
             tp_choices: tuple[int, ...] | None, pp_choices: tuple[int, ...] | None,
             sync: "OuterSync | None") -> StepTime:
    f = network.fabric
    per_site = max(gpus // network.sites, 1)
    return best_plan(
        params, batch_tokens, gpus, peak_flop_s,
        kernel_efficiency=kernel_efficiency,
        nvlink_domain=f.nvlink_domain_gpus,
        nvlink_bytes_s=f.nvlink_bandwidth_bytes_s / 2,  # NVIDIA quotes both directions together
        fabric_bytes_s_per_gpu=f.scale_out_bandwidth_bit_s_per_gpu / BITS_PER_BYTE,  # oversubscription above pods not charged yet
        hop_latency_s=f.hop_latency_s,
        pods=max(1, -(-per_site // f.pod_gpus)),
        sites=network.sites,
        wan_latency_s=network.wan_hop_latency_s,
        wan_bytes_s=network.wan_bandwidth_bit_s / BITS_PER_BYTE,
        sequence_tokens=sequence_tokens,
        hbm_bytes=hbm_bytes,
        tp_choices=tp_choices, pp_choices=pp_choices,
        outer_sync_steps=sync.inner_steps if sync else 1,
        outer_gradient_bytes=sync.outer_gradient_bytes if sync else None,
        outer_overlap=sync.overlap if sync else False,
    )


SIZING_ITERATIONS = 3  # model size <-> achieved MFU: the fixed point moves by a few percent after two


def plan_run(gpus: int, peak_flop_s: float, duration_days: float, network: Network, physics: RunPhysics,
             params: float | None = None, hbm_bytes: float | None = None, sync: OuterSync | None = None,
             goodput: float = 1.0) -> RunPlan:
    """Size the model for the run and find its step time.

    The given size, or compute-optimal (C = 6ND, D = 20N, Hoffmann et al. 2022) for the compute the
    run achieves: GPUs x peak x MFU x `goodput` (the expected share of time making progress) x
    duration, where MFU depends on the model's size; found as a fixed point from the size at kernel
    efficiency. Capped by the data wall (D <= token stock x epochs x quality; a smaller model may then
    be over-trained) and the latency wall (the tokens a minimum-time step sequence can process in the
    duration, Epoch App. E).
    """
    duration_s = duration_days * SECONDS_PER_DAY

    def timed(n: float) -> tuple[float, StepTime]:
        batch_n = physics.batch_tokens or critical_batch_tokens(n)
        return batch_n, step_on(network, n, batch_n, gpus, peak_flop_s, physics, hbm_bytes, sync=sync)

    if params is not None:
        size = params
        batch, first = timed(size)
    else:
        size = chinchilla_params(gpus * peak_flop_s * physics.kernel_efficiency * duration_s)
        batch, first = timed(size)
        for _ in range(SIZING_ITERATIONS):
            if first.mfu <= 0:
                break
            size = chinchilla_params(gpus * peak_flop_s * first.mfu * goodput * duration_s)
            batch, first = timed(size)
    sizes = {"compute": size}
    tokens = data_wall_tokens(physics.data.stock_tokens, physics.data.epochs, physics.data.quality)
    sizes["data"] = tokens / TOKENS_PER_PARAM
    t_layer_s = first.latency_floor_s / max(layers(sizes["compute"]), 1.0)
    if t_layer_s > 0:
        sizes["latency"] = latency_wall_params(duration_s, t_layer_s, physics.batch_tokens)
    limited_by = min(sizes, key=lambda k: (sizes[k], k != "compute"))
    params = sizes[limited_by]
    if limited_by == "compute":
        return RunPlan(params, batch, first, limited_by)
    batch, step = timed(params)
    return RunPlan(params, batch, step, limited_by)


def frontier_walls(network: Network, peak_flop_s: float, duration_days: float, physics: RunPhysics,
                   sync: OuterSync | None = None) -> dict[str, float]:
    """The largest compute-optimal run the data, latency and inter-site bandwidth walls allow.

    Data wall: 6 N D with D = the effective token stock, N = D / 20. Latency wall: the model whose
    minimum-time steps (the per-layer latency floor of a plan on this network) just fit the duration
    (Epoch App. E: T >= t_L L D / B). Network wall: gradient syncs over the WAN ring (Epoch case 6);
    with DiLoCo, one outer sync of outer_bits per parameter every H steps.
    """
    tokens = data_wall_tokens(physics.data.stock_tokens, physics.data.epochs, physics.data.quality)
    probe_params = 1e12  # any size: the per-layer latency depends on the network, not on N
    step = step_on(network, probe_params, physics.batch_tokens or critical_batch_tokens(probe_params),
                   max(network.fabric.pod_gpus, 1), peak_flop_s, physics)
    t_layer_s = step.latency_floor_s / max(layers(probe_params), 1.0)
    duration_s = duration_days * SECONDS_PER_DAY
    walls = {"data": data_wall_flop(tokens), "latency": latency_wall_flop(duration_s, t_layer_s, physics.batch_tokens)}
    # inter-site bandwidth (Epoch case 6): gradient syncs over the WAN ring, at Epoch's 60M-token batch
    every = sync.inner_steps if sync else 1
    bits = sync.outer_gradient_bytes * BITS_PER_BYTE if sync else 8
    walls["network"] = math.inf if network.sites < 2 else bandwidth_wall_flop(
        duration_s, network.wan_bandwidth_bit_s, network.wan_hop_latency_s * network.sites / every,
        physics.batch_tokens or EPOCH_BATCH_TOKENS, bits_per_param=bits / every, sites=network.sites)
    return walls
