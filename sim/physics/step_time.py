"""Step time of a training run from a parallelism plan, and the search for the best plan.

Pure functions of numbers, with no simulation state. The model is the usual
3D-parallel one (Megatron-LM: Shoeybi et al. 2019; Narayanan et al. 2021, "Efficient large-scale
language model training on GPU clusters"):
  tensor parallel (tp) inside an NVLink domain, all-reduces of activations every layer;
  pipeline parallel (pp) over the scale-out fabric, (interleaved) 1F1B with bubble (pp-1)/(v m);
  data parallel (dp) across the rest of the site and across sites, one hierarchical gradient
  all-reduce per step (sim.physics.collectives) overlapped with the backward pass.
Compute-optimal sizing, layer count, critical batch and the per-layer latency floor follow the
Epoch 2030 report, App. E (Sevilla et al. 2024; docs/sources.md).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from sim.physics.collectives import epoch_allreduce_latency_s, hierarchical_allreduce_s, wan_ring_allreduce_s
from sim.physics.compute import chinchilla_params, training_compute_flop

CRITICAL_BATCH_EXPONENT = 0.36
"""The critical batch grows ~ N^0.36 (Epoch 2030 App. E, latency inputs)."""

CRITICAL_BATCH_ANCHOR_FLOP = 2e29
CRITICAL_BATCH_ANCHOR_TOKENS = 6e7
"""Anchor: a compute-optimal 2e29-FLOP model (N ~ 4.1e13) gets 60M tokens, Epoch's median
achievable batch (P10/P50/P90 1.6e7 / 6e7 / 3.6e8) for the 2030 run the report centres on."""

KERNEL_LATENCY_S = 4.5e-6
"""Minimum latency of one GPU kernel (Epoch 2030 App. E)."""

SERIAL_OPS_PER_LAYER = 8
"""Serial operations per layer per step, each a kernel plus (with tensor parallelism) an all-reduce:
Epoch's intranode t_L ~ 8 x 13.7 us ~ 110 us (13.7 = 4.5 kernel + 9.2 all-reduce, App. E)."""


def layers(params: float) -> float:
    """Layer count of a model with N parameters: L = 0.088 N^0.27 (Epoch 2030 App. E, a fit to
    published models). A 1e12-parameter model has ~150 layers."""
    return 0.088 * params**0.27


def critical_batch_tokens(params: float, fixed_tokens: float | None = None) -> float:
    """Largest batch (tokens) that trains efficiently: grows ~ N^0.36 (Epoch 2030 App. E),
    anchored at 60M tokens for the compute-optimal 2e29-FLOP model (N ~ 4.1e13). A 1e12-parameter
    model gets ~16M (Llama 3 405B trained at 16M). `fixed_tokens` returns a fixed batch instead,
    as in the report's fixed-60M-token variant."""
    if fixed_tokens is not None:
        return float(fixed_tokens)
    anchor = chinchilla_params(CRITICAL_BATCH_ANCHOR_FLOP)
    return CRITICAL_BATCH_ANCHOR_TOKENS * (params / anchor) ** CRITICAL_BATCH_EXPONENT


def hidden_size(params: float) -> float:
    """Model width d from N ~ 12 L d^2 (transformer blocks: 4 d^2 attention + 8 d^2 MLP; Kaplan et al.
    2020), with L from `layers`. Sets how many activation bytes tensor and pipeline parallelism move."""
    return math.sqrt(params / (12.0 * layers(params)))


def layer_latency_s(
    allreduce_s: float, kernel_latency_s: float = KERNEL_LATENCY_S, ops: int = SERIAL_OPS_PER_LAYER
) -> float:
    """Minimum time per layer per step, t_L = ops x (kernel latency + all-reduce latency).

    Epoch 2030 App. E: 8 serial operations per layer, each a 4.5 us kernel and an all-reduce. With
    4-way tensor parallelism in one NVLink domain (all-reduce 6.8 + 0.6 x 4 = 9.2 us) this is the
    report's 8 x 13.7 us ~ 110 us (case 8); with the internode all-reduce of case 9 (50.7 us),
    8 x 55.2 us ~ 440 us (the report says ~400 us and a 290-440 us range). No tensor parallelism,
    no all-reduce: 8 x 4.5 = 36 us.
    """
    return ops * (kernel_latency_s + allreduce_s)


def tensor_parallel_allreduce_latency_s(tp: int) -> float:
    """Latency of a tensor-parallel all-reduce inside one NVLink domain (one pod): Epoch's
    6.8 us + 0.6 us per rank (App. E); none without tensor parallelism."""
    return epoch_allreduce_latency_s(tp, 1) if tp > 1 else 0.0


def fabric_step_latency_s(hop_latency_s: float, pods: int) -> float:
    """Latency of one collective step over the scale-out fabric: switch hops x per-hop latency.

    Fat tree (Al-Fares et al. 2008): leaf-spine-leaf is 3 hops inside a pod, leaf-spine-core-spine-leaf
    5 hops between pods (Llama 3 §3.3: multi-hop latency reaches tens of microseconds).
    """
    return hop_latency_s * (3 if pods <= 1 else 5)


@dataclass(frozen=True)
class StepTime:
    """One training step under a parallelism plan (seconds unless named otherwise).

    compute_s is the pure compute time (6 N B over the plan's GPUs at kernel efficiency);
    exposed_comm_s is what communication adds beyond compute and pipeline bubble;
    latency_floor_s is the layer-latency bound; step_time_s = max(compute + bubble + exposed, floor).
    bubble_s is the pipeline's idle time; gpus_used = tp x pp x dp (the rest idle for want of batch);
    virtual_stages is v of the interleaved schedule (1 = plain 1F1B).
    """

    step_time_s: float
    mfu: float
    comm_fraction: float
    tp: int
    pp: int
    dp: int
    microbatches: int
    exposed_comm_s: float
    compute_s: float
    latency_floor_s: float
    bubble_s: float = 0.0
    gpus_used: int = 0
    virtual_stages: int = 1


HBM_SHARE_FOR_MODEL_STATE = 0.75  # the rest of HBM is left to activations and buffers (assumption)


def model_state_bytes(params: float, tp: int, pp: int, dp: int) -> float:
    """Model state per GPU: bf16 weights and gradients (4 bytes per parameter) of the GPU's 1/(tp pp)
    shard, plus fp32 master weights and Adam moments (12 bytes per parameter) sharded over data
    parallelism too (ZeRO-1, Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion
    Parameter Models", SC 2020)."""
    shard = params / (tp * pp)
    return shard * 4.0 + shard / dp * 12.0


def _fits_memory(params: float, tp: int, pp: int, dp: int, hbm_bytes: float) -> bool:
    """Model state fits in HBM_SHARE_FOR_MODEL_STATE of HBM."""
    return model_state_bytes(params, tp, pp, dp) <= HBM_SHARE_FOR_MODEL_STATE * hbm_bytes


def _powers_of_two(upto: float) -> list[int]:
    out, v = [], 1
    while v <= upto:
        out.append(v)
        v *= 2
    return out


def best_plan(
    params: float,
    batch_tokens: float,
    gpus: int,
    peak_flop_s: float,
    *,
    kernel_efficiency: float = 0.6,
    nvlink_domain: int = 8,
    nvlink_bytes_s: float = 450e9,
    fabric_bytes_s_per_gpu: float = 50e9,
    hop_latency_s: float = 2e-6,
    pods: int = 1,
    sites: int = 1,
    wan_latency_s: float = 0.0,
    wan_bytes_s: float = math.inf,
    sequence_tokens: float = 8192,
    activation_bytes: float = 2.0,
    gradient_bytes: float = 2.0,
    kernel_latency_s: float = KERNEL_LATENCY_S,
    max_microbatches: int = 256,
    max_virtual_stages: int = 8,
    hbm_bytes: float | None = None,
    tp_choices: tuple[int, ...] | None = None,
    pp_choices: tuple[int, ...] | None = None,
    outer_sync_steps: int = 1,
    outer_gradient_bytes: float | None = None,
    outer_overlap: bool = False,
) -> StepTime:
    """The fastest plan for one training step of a dense transformer, from a small grid: tp in powers
    of 2 up to the NVLink domain, pp in powers of 2 up to the layer count, microbatches m in powers
    of 2 (and the most the batch allows), virtual stages v in powers of 2 up to max_virtual_stages.

    Per plan (Megatron-LM, Narayanan et al. 2021; alpha-beta costs from sim.physics.collectives):
      compute  = 6 N B / (GPUs used x peak x kernel_efficiency); per stage, m microbatches;
      TP       = 4 all-reduces of a microbatch's activations per layer (2 forward, 2 backward) on
                 NVLink, each Epoch's all-reduce latency plus the ring's bandwidth term; exposed;
      PP       = a chunk's activations forward and gradients back over the fabric (1/tp per GPU);
      pipeline = interleaved 1F1B (v model chunks per GPU): max(m, pp) v + min(m, pp) - 1 chunk slots,
                 a slot the slower of a chunk's compute + TP and its PP transfer, plus the fill's
                 transfers; for m >= pp the bubble is (pp-1)/(v m) of compute (v = 1: plain 1F1B,
                 (pp-1)/m);
      DP       = hierarchical all-reduce (sim.physics.collectives) of the GPU's gradients, N/(tp pp) x
                 gradient_bytes, across its site's replicas and then across sites; the site's WAN
                 link carries all tp x pp shards' gradients. It overlaps the backward pass of the
                 last microbatch (gradients are final only then); the rest is exposed;
      floor    = chunk slots x L/(pp v) layers x t_L, t_L from `layer_latency_s` at tp
                 (Epoch App. E); with m = pp = 1 this is Epoch's L x t_L per step.
    step time = max(compute + bubble + exposed communication, floor); MFU = 6 N B / (gpus x peak x step).
    A replica's microbatch holds at least one sequence of `sequence_tokens` (Llama 3: 8,192), so
    dp x m <= B / sequence_tokens; GPUs the batch cannot feed stay idle, and MFU counts all `gpus`.
    GPUs split evenly across `sites`; model-parallel groups stay inside a site; `pods` is pods per
    site (fabric hop count). `tp_choices` / `pp_choices` replace the powers of 2 tried (a fixed plan:
    one each). Across sites, `outer_sync_steps` H > 1 is DiLoCo (Douillard et al. 2023): each site's
    replicas all-reduce every step inside the site, and the sites exchange outer gradients of
    `outer_gradient_bytes` per parameter (default gradient_bytes; streaming DiLoCo quantizes them,
    Douillard et al. 2025) over the WAN once every H steps, its cost spread over them; with
    `outer_overlap` the exchange runs behind the next H steps' compute and only what exceeds it is
    exposed. With `hbm_bytes`, plans whose model state does not fit are skipped;
    if none fits, the result has tp = pp = dp = 0, step_time_s = inf and mfu = 0.
    """
    if gpus < 1 or sites < 1 or gpus < sites:
        raise ValueError(f"need at least one GPU per site: {gpus} GPUs, {sites} sites")
    if params <= 0 or batch_tokens <= 0 or peak_flop_s <= 0:
        raise ValueError("params, batch_tokens and peak_flop_s must be positive")
    search = _Search(
        params=params, batch_tokens=batch_tokens, gpus=gpus, peak_flop_s=peak_flop_s, sites=sites,
        per_site=gpus // sites, n_layers=layers(params), d_model=hidden_size(params),
        work_flop=training_compute_flop(params, batch_tokens), flop_s_gpu=peak_flop_s * kernel_efficiency,
        fabric_alpha_s=fabric_step_latency_s(hop_latency_s, pods), sequences=batch_tokens / sequence_tokens,
        nvlink_domain=nvlink_domain, nvlink_bytes_s=nvlink_bytes_s, fabric_bytes_s_per_gpu=fabric_bytes_s_per_gpu,
        wan_latency_s=wan_latency_s, wan_bytes_s=wan_bytes_s, activation_bytes=activation_bytes,
        gradient_bytes=gradient_bytes, kernel_latency_s=kernel_latency_s, max_microbatches=max_microbatches,
        max_virtual_stages=max_virtual_stages, hbm_bytes=hbm_bytes, tp_choices=tp_choices, pp_choices=pp_choices,
        outer_sync_steps=max(1, outer_sync_steps),
        outer_gradient_bytes=gradient_bytes if outer_gradient_bytes is None else outer_gradient_bytes,
        outer_overlap=outer_overlap,
    )
    # enumerate the grid (_candidate_plans), time each plan (_schedule), keep the fastest
    best = _INFEASIBLE
    for plan in _candidate_plans(search, lambda: best.step_time_s):
        # busy >= max(m, pp) v chunk slots x chunk work / v + exposed DP >= compute + m x TP + exposed DP
        # for every v, so a plan whose bound is no faster cannot win (the margin covers rounding)
        bound = plan.compute_s + plan.microbatches * plan.tp_s + plan.dp_exposed_s
        if bound * (1.0 - 1e-12) >= best.step_time_s:
            continue
        step, v, slots, busy, floor = _schedule(plan)
        if step < best.step_time_s:  # ties keep the first plan in grid order
            best = _step_time(search, plan, v, slots, busy, floor, step)
    return best


_INFEASIBLE = StepTime(math.inf, 0.0, 0.0, 0, 0, 0, 0, 0.0, 0.0, 0.0)
"""What `best_plan` returns when no plan fits in memory."""


@dataclass(frozen=True)
class _Search:
    """What every candidate plan of one `best_plan` call shares: the job, the hardware, and the
    numbers derived from them once (see `best_plan` for the meaning of each input)."""

    params: float
    batch_tokens: float
    gpus: int
    peak_flop_s: float
    sites: int
    per_site: int  # GPUs per site
    n_layers: float  # L(N)
    d_model: float  # width d(N)
    work_flop: float  # 6 N B
    flop_s_gpu: float  # peak x kernel efficiency
    fabric_alpha_s: float  # latency of one collective step over the fabric
    sequences: float  # sequences in the batch, B / sequence_tokens
    nvlink_domain: int
    nvlink_bytes_s: float
    fabric_bytes_s_per_gpu: float
    wan_latency_s: float
    wan_bytes_s: float
    activation_bytes: float
    gradient_bytes: float
    kernel_latency_s: float
    max_microbatches: int
    max_virtual_stages: int
    hbm_bytes: float | None
    tp_choices: tuple[int, ...] | None = None
    pp_choices: tuple[int, ...] | None = None
    outer_sync_steps: int = 1  # H: 1 is synchronous training, more is DiLoCo
    outer_gradient_bytes: float = 2.0
    outer_overlap: bool = False


class _Plan(NamedTuple):
    """A candidate (tp, pp, m) that fits in memory, with the cost of each part of its step
    (seconds); these do not depend on v, the virtual stages tried for it."""

    tp: int
    pp: int
    microbatches: int
    dp: int
    gpus_used: int
    compute_s: float  # the step's compute on the GPUs used, 6 N B / (used x peak x efficiency)
    microbatch_compute_s: float  # one microbatch's compute through a stage (all its v chunks)
    tp_s: float  # one microbatch's tensor-parallel all-reduces through a stage
    pp_s: float  # a chunk's activations forward and gradients back over the fabric
    dp_exposed_s: float  # the gradient all-reduce beyond what the last backward hides
    layer_floor_s: float  # L x t_L at this tp
    virtual_stage_options: list[int]


def _candidate_plans(s: _Search, best_step_s: Callable[[], float] = lambda: math.inf) -> Iterator[_Plan]:
    """The grid of plans in search order (tp, then pp, then m; powers of 2), each with its costs.

    tp up to the NVLink domain (and the site), pp up to the layer count (and the site / tp); for
    each, the microbatch counts of `_microbatch_options` and the virtual stages of
    `_virtual_stage_options`. Plans whose model state does not fit in HBM are left out, and so are
    plans that cannot beat `best_step_s()`: a step is never shorter than its compute (busy time
    >= m v chunks of compute / v), so a plan whose compute alone is no faster cannot win (the
    margin covers rounding).
    """
    for tp in s.tp_choices or _powers_of_two(min(s.nvlink_domain, s.per_site)):
        tp_latency = tensor_parallel_allreduce_latency_s(tp)
        layer_floor = s.n_layers * layer_latency_s(tp_latency, s.kernel_latency_s)
        for pp in s.pp_choices or _powers_of_two(min(s.n_layers, s.per_site // tp)):
            if tp * pp > s.per_site:  # a fixed plan larger than a site
                continue
            v_options = _virtual_stage_options(s, pp)
            t_dp, dp_site_done = 0.0, -1
            for m in _microbatch_options(s, tp, pp):
                dp_site = _replicas_per_site(s, tp * pp, m)
                dp = dp_site * s.sites
                if s.hbm_bytes is not None and not _fits_memory(s.params, tp, pp, dp, s.hbm_bytes):
                    continue
                if s.work_flop / (dp * tp * pp * s.flop_s_gpu) * (1.0 - 1e-12) >= best_step_s():
                    continue
                if dp_site != dp_site_done:  # the same replica count needs no new all-reduce
                    t_dp, dp_site_done = _gradient_allreduce_s(s, tp, pp, dp_site), dp_site
                yield _plan_costs(s, tp, pp, m, dp, tp_latency, t_dp, layer_floor, v_options)


def _microbatch_options(s: _Search, tp: int, pp: int) -> list[int]:
    """Microbatch counts to try: powers of 2 up to the most that keep every replica fed (m_full),
    and m_full itself; more would only idle replicas and lengthen the pipeline. Without a pipeline,
    one: more would only shrink the backward the DP all-reduce hides behind."""
    if pp == 1:
        return [1]
    dp_site_max = s.per_site // (tp * pp)
    m_full = max(1, min(s.max_microbatches, math.floor(s.sequences / (s.sites * dp_site_max))))
    options = _powers_of_two(m_full)
    if options[-1] != m_full:
        options.append(m_full)
    return options


def _virtual_stage_options(s: _Search, pp: int) -> list[int]:
    """Virtual stages (model chunks per GPU) to try: powers of 2 up to max_virtual_stages and L / pp;
    without a pipeline, one."""
    return [1] if pp == 1 else _powers_of_two(min(s.max_virtual_stages, s.n_layers / pp))


def _replicas_per_site(s: _Search, mp: int, m: int) -> int:
    """Data-parallel replicas per site: one sequence per replica per microbatch, at most what the
    site's GPUs hold; a batch too small to feed one replica per site still runs one per site (on
    part of a sequence)."""
    return max(1, min(s.per_site // mp, math.floor(s.sequences / (m * s.sites))))


def _gradient_allreduce_s(s: _Search, tp: int, pp: int, dp_site: int) -> float:
    """The step's gradient all-reduce: hierarchical (sim.physics.collectives) over the site's
    dp_site replicas, then across sites; a GPU's gradients are N/(tp pp) x gradient_bytes, and the
    site's WAN link carries all tp x pp shards' gradients."""
    mp = tp * pp
    h = hierarchical_allreduce_s(
        s.params / mp * s.gradient_bytes, dp_site, max(1, s.nvlink_domain // tp), s.nvlink_bytes_s,
        s.fabric_bytes_s_per_gpu, s.fabric_alpha_s, s.wan_latency_s, s.wan_bytes_s / mp, s.sites,
    )
    if s.outer_sync_steps <= 1 or s.sites < 2:
        return h.total_s
    # DiLoCo: the sites' exchange of outer gradients (the same ring, quantized bytes) once every H steps
    wan = wan_ring_allreduce_s(s.params / mp * s.outer_gradient_bytes, s.sites, s.wan_latency_s, s.wan_bytes_s / mp)
    per_step = wan / s.outer_sync_steps
    if s.outer_overlap:  # behind the next H steps' compute (a step is at least work / (GPUs x FLOP/s))
        per_step = max(0.0, per_step - s.work_flop / (s.gpus * s.flop_s_gpu))
    return h.total_s - h.wan_allreduce_s + per_step


def _plan_costs(s: _Search, tp: int, pp: int, m: int, dp: int, tp_latency_s: float, t_dp: float,
                layer_floor_s: float, v_options: list[int]) -> _Plan:
    """The cost of each part of a plan's step (Megatron-LM, Narayanan et al. 2021):
    compute 6 N B over the GPUs used; per microbatch and stage, 4 all-reduces per layer of its
    activations on NVLink (Epoch's latency + the ring's bandwidth term); a chunk's activations
    forward and gradients back over the fabric (1/tp per GPU); the gradient all-reduce, overlapping
    the last microbatch's backward pass (2/3 of its compute)."""
    used = dp * tp * pp
    compute = s.work_flop / (used * s.flop_s_gpu)
    t_c = compute / m
    act_mb = s.batch_tokens / dp / m * s.d_model * s.activation_bytes
    tp_s_per_byte = 2.0 * (tp - 1) / tp / s.nvlink_bytes_s
    t_tp = 4.0 * (s.n_layers / pp) * (tp_latency_s + act_mb * tp_s_per_byte) if tp > 1 else 0.0
    t_pp = 2.0 * (s.fabric_alpha_s + act_mb / tp / s.fabric_bytes_s_per_gpu) if pp > 1 else 0.0
    dp_exposed = max(0.0, t_dp - (2.0 / 3.0) * t_c)
    return _Plan(tp, pp, m, dp, used, compute, t_c, t_tp, t_pp, dp_exposed, layer_floor_s, v_options)


def _schedule(p: _Plan) -> tuple[float, int, int, float, float]:
    """The fastest interleaved-1F1B schedule of a plan over its virtual stages v:
    (step time, v, chunk slots, busy time, latency floor); ties keep the smaller v.

    Each microbatch goes round the pp stages v times; with m < pp a round waits for the first
    microbatch to come back: max(m, pp) v + min(m, pp) - 1 slots, each the slower of a chunk's
    compute + TP and its PP transfer, plus the fill's transfers and the exposed DP all-reduce.
    The floor is slots x L/(pp v) layers x t_L (Epoch App. E); step = max(busy, floor).
    """
    m, pp, t_pp = p.microbatches, p.pp, p.pp_s
    chunk_work = p.microbatch_compute_s + p.tp_s
    best = (math.inf, 0, 0, 0.0, 0.0)
    for v in p.virtual_stage_options:
        slots = max(m, pp) * v + min(m, pp) - 1
        busy = slots * max(chunk_work / v, t_pp) + (pp - 1) * t_pp + p.dp_exposed_s
        floor = slots / (pp * v) * p.layer_floor_s
        step = max(busy, floor)
        if step < best[0]:
            best = (step, v, slots, busy, floor)
    return best


def _step_time(s: _Search, p: _Plan, v: int, slots: int, busy: float, floor: float, step: float) -> StepTime:
    """The StepTime of a plan at v: the bubble is the slots' compute beyond the step's compute,
    exposed communication the busy time beyond both; MFU counts every GPU, used or not."""
    bubble = max(0.0, slots * p.microbatch_compute_s / v - p.compute_s)
    exposed = max(0.0, busy - p.compute_s - bubble)
    return StepTime(
        step_time_s=step, mfu=s.work_flop / (s.gpus * s.peak_flop_s * step),
        comm_fraction=exposed / step, tp=p.tp, pp=p.pp, dp=p.dp, microbatches=p.microbatches,
        exposed_comm_s=exposed, compute_s=p.compute_s, latency_floor_s=floor,
        bubble_s=bubble, gpus_used=p.gpus_used, virtual_stages=v,
    )
