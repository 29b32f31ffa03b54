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
from sim.physics.recovery import recovery, recovery_goodput
from sim.physics.step_time import DEFAULT_OVERLAP, Overlap, StepTime, best_plan, critical_batch_tokens, layers
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
            pp_choices: tuple[int, ...] | None = None, sync: "OuterSync | None" = None, *,
            cp_choices: tuple[int, ...] | None = None, ep_choices: tuple[int, ...] | None = None,
            moe: "MoeShape | None" = None, overlap: Overlap = DEFAULT_OVERLAP) -> StepTime:
    """Step time of a model on `gpus` GPUs over the network's sites (split by its site shares):
    `best_plan` (Megatron-LM parallelism, Narayanan et al. 2021; Epoch App. E latency floor) on the
    network's weakest fabric (its pods and oversubscription) and WAN ring; with `hbm_bytes`, only
    plans whose model state fits; `moe` for a mixture-of-experts model (params is then the total).
    Cached: a sweep's replications and a compare's topologies ask for the same plans again."""
    hbm = hbm_bytes if hbm_bytes is not None and math.isfinite(hbm_bytes) else None
    return _step_on(network, params, batch_tokens, gpus, peak_flop_s, physics.kernel_efficiency,
                    physics.sequence_tokens, hbm, tp_choices, pp_choices, sync, cp_choices, ep_choices, moe, overlap)


@dataclass(frozen=True)
class MoeShape:
    """A mixture-of-experts model's shape beyond its total parameters (sim.physics.memory.moe_split)."""

    active_params: float
    experts: int
    top_k: int = 2


def step_on_cache_clear() -> None:
    """Forget the cached plans (benchmarks measure one run's own cost)."""
    _step_on.cache_clear()


@functools.lru_cache(maxsize=32768)  # a baseline run asks for ~900 plans; a sweep or a test session many runs' worth
def _step_on(network: Network, params: float, batch_tokens: float, gpus: int, peak_flop_s: float,
             kernel_efficiency: float, sequence_tokens: float, hbm_bytes: float | None,
             tp_choices: tuple[int, ...] | None, pp_choices: tuple[int, ...] | None,
             sync: "OuterSync | None", cp_choices: tuple[int, ...] | None = None,
             ep_choices: tuple[int, ...] | None = None, moe: MoeShape | None = None,
             overlap: Overlap = DEFAULT_OVERLAP) -> StepTime:
    f = network.fabric
    return best_plan(
        params, batch_tokens, gpus, peak_flop_s,
        kernel_efficiency=kernel_efficiency,
        nvlink_domain=f.nvlink_domain_gpus,
        nvlink_bytes_s=f.nvlink_bandwidth_bytes_s / 2,  # NVIDIA quotes both directions together
        fabric_bytes_s_per_gpu=f.scale_out_bandwidth_bit_s_per_gpu / BITS_PER_BYTE,
        hop_latency_s=f.hop_latency_s,
        site_gpus=network.site_gpus(gpus),
        pod_gpus=f.pod_gpus,
        oversubscription=f.oversubscription_above_pod,
        wan_latency_s=network.wan_hop_latency_s,
        wan_bytes_s=network.wan_bandwidth_bit_s / BITS_PER_BYTE,
        sequence_tokens=sequence_tokens,
        hbm_bytes=hbm_bytes,
        tp_choices=tp_choices, pp_choices=pp_choices, cp_choices=cp_choices, ep_choices=ep_choices,
        active_params=moe.active_params if moe else None, experts=moe.experts if moe else 1,
        top_k=moe.top_k if moe else 2, overlap=overlap,
        outer_sync_steps=sync.inner_steps if sync else 1,
        outer_gradient_bytes=sync.outer_gradient_bytes if sync else None,
        outer_overlap=sync.overlap if sync else False,
    )


SIZING_ITERATIONS = 3  # model size <-> achieved MFU: the fixed point moves by a few percent after two


def plan_run(gpus: int, peak_flop_s: float, duration_days: float, network: Network, physics: RunPhysics,
             params: float | None = None, hbm_bytes: float | None = None, sync: OuterSync | None = None,
             goodput: float = 1.0, extra_tokens: float = 0.0) -> RunPlan:
    """Size the model for the run and find its step time (`extra_tokens`: effective tokens the lab added
    to the data stock, its synthetic data).

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
    tokens = data_wall_tokens(physics.data.stock_tokens, physics.data.epochs, physics.data.quality) + extra_tokens
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


# ---------------------------------------------------------------- a run's expected efficiency
# What a run on a network is expected to achieve before it starts: the frontier sizes its runs with
# it, and the run policy chooses a run's sites by it. The same steps as a run's own outcome
# (sim/world/training.py fill_outcome): the model sized at the goodput of a first guess at its size,
# MFU from `plan_run`, goodput from `recovery` (sim/physics/recovery.py) at the plan's size, as its
# expected value (`recovery_goodput`) rather than a sampled walk.

# Plan lookups are made at GPU counts and peaks rounded to grids this fine (steps per doubling): GPUs
# 2^(1/4) = 19% apart (nearest, so within 9%: MFU changes by a few percent per doubling of the GPUs at
# frontier scale), peaks 2^(1/8) = 9% apart (within 4.5%: the compute time scales with it, the
# communication does not). A month's lookup then reuses an earlier month's plan search. The goodput is
# at the exact count.
PLAN_GRID_STEPS_PER_DOUBLING = 4
PEAK_GRID_STEPS_PER_DOUBLING = 8
# A run's split over its sites is rounded to eighths (at least one each) before its network is built.
SHARE_GRID_STEPS = 8


# A warm start's fixed point (`expected_run` with `start_mfu`) stops once an iteration moves the size by
# less than this: near the fixed point MFU grows as about N^0.2-0.5, so the MFU is then within a few
# percent, as close as `plan_run`'s own three iterations from kernel efficiency come.
SIZE_TOLERANCE = 0.1


def expected_run(gpus: int, peak_flop_s: float, duration_days: float, network: Network, physics,
                 hbm_bytes: float | None = None, sync: OuterSync | None = None,
                 failure_rate_factor: float = 1.0, start_mfu: float | None = None) -> tuple[RunPlan, float]:
    """A run's plan and expected goodput, step by step as `fill_outcome` sets up a run: checkpoints and
    restarts scale with the job (`recovery`: the network's NVLink domain is the blast radius, its
    scale-out bandwidth the peers' for in-memory checkpoints); the model is sized (`plan_run`) at the
    goodput of a first guess at its size (compute-optimal at kernel efficiency); the goodput is then
    `recovery_goodput` at the plan's size, checkpointing no more often than a step. `sync` applies
    across two or more sites only.

    `start_mfu` (a nearby run's MFU) starts the size's fixed point there instead of at kernel
    efficiency, and iterates it only until the size moves by less than SIZE_TOLERANCE: the same fixed
    point, most often in one plan search instead of `plan_run`'s four.
    """
    fabric = network.fabric
    scale = dict(nvlink_domain_gpus=fabric.nvlink_domain_gpus, rate_factor=failure_rate_factor,
                 peer_bytes_s_per_gpu=fabric.scale_out_bandwidth_bit_s_per_gpu / BITS_PER_BYTE)
    flop = gpus * peak_flop_s * duration_days * SECONDS_PER_DAY  # at full peak
    sizing_goodput = recovery_goodput(recovery(gpus, chinchilla_params(flop * physics.kernel_efficiency), physics,
                                               **scale))
    sync = sync if network.sites > 1 else None
    size = chinchilla_params(flop * start_mfu * sizing_goodput) if start_mfu else 0.0
    if not size > 0:  # no start (or no goodput to size at): from kernel efficiency, as runs are sized
        # (a job that never makes progress trains nothing, whatever its size: sized as if it did)
        plan = plan_run(gpus, peak_flop_s, duration_days, network, physics, None, hbm_bytes, sync,
                        goodput=sizing_goodput if sizing_goodput > 0 else 1.0)
    else:
        for _ in range(SIZING_ITERATIONS + 1):
            plan = plan_run(gpus, peak_flop_s, duration_days, network, physics, size, hbm_bytes, sync)
            moved = chinchilla_params(flop * plan.step.mfu * sizing_goodput)
            if not moved > 0 or abs(moved / size - 1.0) < SIZE_TOLERANCE:
                break
            size = moved
    return plan, expected_goodput(gpus, plan, network, physics, failure_rate_factor)


def expected_goodput(gpus: float, plan: RunPlan, network: Network, physics, failure_rate_factor: float = 1.0) -> float:
    """The expected goodput of a run of `gpus` GPUs training `plan` on `network` (`recovery_goodput`;
    checkpoints no more often than a step)."""
    fabric, step_s = network.fabric, plan.step.step_time_s
    return recovery_goodput(recovery(
        gpus, plan.params, physics, nvlink_domain_gpus=fabric.nvlink_domain_gpus, rate_factor=failure_rate_factor,
        peer_bytes_s_per_gpu=fabric.scale_out_bandwidth_bit_s_per_gpu / BITS_PER_BYTE,
        min_interval_s=step_s if 0 < step_s < math.inf else 1.0))


def on_grid(x: float, steps_per_doubling: int = PLAN_GRID_STEPS_PER_DOUBLING) -> float:
    """x rounded to the nearest 2^(k / steps_per_doubling) (x > 0)."""
    return 2.0 ** (round(math.log2(x) * steps_per_doubling) / steps_per_doubling)


def grid_shares(weights: list[float], steps: int = SHARE_GRID_STEPS) -> tuple[int, ...]:
    """Weights as whole steps of their total (at least one each): the split a cached network keys on."""
    total = sum(weights)
    return tuple(max(1, round(steps * w / total)) for w in weights)


@dataclass(frozen=True)
class Efficiency:
    """A run's expected efficiency: effective FLOP/s = GPUs x peak x mfu x goodput x token_efficiency."""

    mfu: float
    goodput: float  # expected share of wall time making progress (and not held as hot spares)
    token_efficiency: float  # DiLoCo's tokens against synchronous ones across sites (1: synchronous, one site)
    plan: RunPlan | None  # the plan at the grid point (None: no GPUs)

    @property
    def effective(self) -> float:
        return self.mfu * self.goodput * self.token_efficiency


class RunEfficiency:
    """Expected MFU and goodput of runs on networks, for one scenario's training physics.

    The plan (`expected_run`: MFU, model size) is searched at the GPU count and peak rounded to grids
    of `steps_per_doubling` and `peak_steps_per_doubling` and cached per instance on (network, count,
    peak, duration, HBM, failure rate), its size's fixed point started from the nearest grid point
    already planned; the goodput
    is `expected_goodput` at the exact count. Across two or more sites a DiLoCo `sync` plans the outer
    syncs and counts its token efficiency, as runs do. With a fixed `utilization` (a run policy's), that
    is the MFU, as runs then take it.
    """

    def __init__(self, physics: RunPhysics, sync: OuterSync | None = None, utilization: float | None = None,
                 steps_per_doubling: int = PLAN_GRID_STEPS_PER_DOUBLING,
                 peak_steps_per_doubling: int = PEAK_GRID_STEPS_PER_DOUBLING):
        self.physics, self.sync, self.utilization = physics, sync, utilization
        self.steps, self.peak_steps = steps_per_doubling, peak_steps_per_doubling
        self._plans: dict[tuple, RunPlan] = {}
        # the grid points planned, (log2 GPUs, log2 peak, log2 duration, MFU), by campuses and by site count
        self._near: dict[object, list[tuple[float, float, float, float]]] = {}

    def __call__(self, gpus: float, peak_flop_s: float, duration_days: float, network: Network,
                 hbm_bytes: float | None = None, failure_rate_factor: float = 1.0,
                 campuses: tuple | None = None) -> Efficiency:
        """`campuses` (any key naming the network's sites) lets plans on other splits over the same sites
        start this one's sizing first; without it, plans on the same network do."""
        if gpus < 1 or peak_flop_s <= 0 or duration_days <= 0:
            return Efficiency(0.0, 1.0, 1.0, None)
        sync = self.sync if network.sites > 1 else None
        at = max(int(round(on_grid(gpus, self.steps))), network.sites)
        peak = on_grid(peak_flop_s, self.peak_steps)
        hbm = hbm_bytes if hbm_bytes is not None and math.isfinite(hbm_bytes) else None
        factor = round(failure_rate_factor, 2)
        key = (network, at, peak, duration_days, hbm, factor)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(at, peak, duration_days, network, hbm, sync, factor, campuses or network)
            self._plans[key] = plan
        goodput = expected_goodput(gpus, plan, network, self.physics, failure_rate_factor)
        mfu = plan.step.mfu if self.utilization is None else self.utilization
        return Efficiency(mfu, goodput, sync.token_efficiency if sync is not None else 1.0, plan)

    def _plan(self, at: int, peak: float, duration_days: float, network: Network, hbm: float | None,
              sync: OuterSync | None, factor: float, campuses: object) -> RunPlan:
        """`expected_run` at a grid point, its sizing started from the nearest point planned: on the same
        campuses first, then on as many sites (a plan on other sites is a poorer start, not a wrong one)."""
        x, y, z = math.log2(at), math.log2(peak), math.log2(duration_days)
        near = self._near.get(campuses) or self._near.get(network.sites) or []
        start = min(near, key=lambda p: abs(p[0] - x) + abs(p[1] - y) + abs(p[2] - z), default=None)
        plan, _ = expected_run(at, peak, duration_days, network, self.physics, hbm, sync, factor,
                               start_mfu=start[3] if start is not None else None)
        point = (x, y, z, plan.step.mfu)
        self._near.setdefault(campuses, []).append(point)
        self._near.setdefault(network.sites, []).append(point)
        return plan

    @property
    def plans_searched(self) -> int:
        """Distinct grid points planned so far."""
        return len(self._plans)


# A site that would join a run is first rated on coarse grids (GPUs 2^1 apart, peaks 2^(1/2), the
# split in quarters): only if that rough rate reaches SCREEN_MARGIN of the run's rate without it is it
# rated on the fine grids. Across sites the rate falls several-fold where a site does not pay (the WAN
# all-reduce, the larger job's failures), far more than the rough grids' error.
SCREEN_STEPS_PER_DOUBLING = 1
SCREEN_PEAK_STEPS_PER_DOUBLING = 2
SCREEN_SHARE_GRID_STEPS = 4
SCREEN_MARGIN = 0.75


def grow_while_faster(order: list, rate, joins=None, screen=None) -> tuple[list, float]:
    """The sites of a run, greedily, and their rate: `order[0]`, then each next one in `order` (those
    `joins(chosen, s)` allows) that raises `rate(chosen)` when added; one that does not is passed over
    (a smaller site further on may sit on a better link). `rate` maps a list of sites to the run's
    expected effective FLOP/s; `screen`, a rougher and cheaper `rate`, passes a site over first when it
    falls below SCREEN_MARGIN of the rate without it."""
    if not order:
        return [], 0.0
    chosen = [order[0]]
    best = rate(chosen)
    for s in order[1:]:
        if joins is not None and not joins(chosen, s):
            continue
        if screen is not None and screen(chosen + [s]) < SCREEN_MARGIN * best:
            continue
        trial = rate(chosen + [s])
        if trial > best:
            chosen, best = chosen + [s], trial
    return chosen, best
