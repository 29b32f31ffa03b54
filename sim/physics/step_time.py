"""Step time of a training run from a parallelism plan, and the search for the best plan.

Pure functions of numbers, with no simulation state. The model is the usual
3D-parallel one (Megatron-LM: Shoeybi et al. 2019; Narayanan et al. 2021, "Efficient large-scale
language model training on GPU clusters"):
  tensor parallel (tp) inside an NVLink domain, all-reduces of activations every layer;
  pipeline parallel (pp) over the scale-out fabric, (interleaved) 1F1B with bubble (pp-1)/(v m);
  data parallel (dp) across the rest of the site and across sites, one hierarchical gradient
  all-reduce per step (sim.physics.collectives) overlapped with the backward pass.
Compute-optimal sizing, layer count, critical batch and the per-layer latency floor follow the
Epoch 2030 report, App. E (Sevilla et al. 2024; docs/sources.md). What a plan must fit in HBM is
sim.physics.memory.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from sim.physics.collectives import (
    all_gather_s,
    alltoall_s,
    epoch_allreduce_latency_s,
    hierarchical_allreduce_s,
    spanning_bytes_s,
    wan_ring_allreduce_s,
)
from sim.physics.compute import chinchilla_params, training_compute_flop
from sim.physics.memory import fits_memory, moe_split

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
class Overlap:
    """How much of each collective's time hides behind compute (0 = all exposed, 1 = all hidden).

    Defaults are Megatron-LM's as Llama 3 and Nemotron-4 trained (Narayanan et al. 2021; Dubey et al.
    2024, arXiv 2407.21783 §3.3):
      tensor:   0.0, the tensor-parallel all-reduces sit on the critical path of every layer (overlapping
                them needs decomposed kernels, Wang et al. ASPLOS 2023, arXiv 2105.05720: an option);
      context:  0.0, Llama 3's context parallelism all-gathers keys and values before attention (§3.3.2);
      expert:   0.0, mixture-of-experts all-to-alls block the layer (DeepSeek-V3's DualPipe hides them,
                DeepSeek-AI 2024, arXiv 2412.19437: an option);
      pipeline: 1.0, point-to-point transfers run while the next chunk computes (interleaved 1F1B with
                its communication overlapped, Narayanan et al. 2021 §4);
      data:     1.0 of the last microbatch's backward pass hides the gradient reduction (bucketed
                all-reduce as gradients become ready: Li et al., "PyTorch Distributed", VLDB 2020,
                arXiv 2006.15704; Megatron's overlapped gradient reduce).
    """

    tensor: float = 0.0
    context: float = 0.0
    expert: float = 0.0
    pipeline: float = 1.0
    data: float = 1.0


DEFAULT_OVERLAP = Overlap()

KV_SHARE_OF_WIDTH = 1.0 / 8.0
"""Keys and values per token as a share of the model width d: grouped-query attention with 8 KV heads
(Ainslie et al. 2023, arXiv 2305.13245; Llama 3 70B: 8 of 64 heads, 405B: 8 of 128)."""

MIN_CONTEXT_CHUNK_TOKENS = 1024
"""Context parallelism splits a sequence into at most sequence / 1,024 chunks (assumption: shorter
chunks leave attention kernels too small; Llama 3 ran CP 16 on 131,072-token sequences, 8,192 per GPU)."""

MAX_CONTEXT_PARALLEL = 32


@dataclass(frozen=True)
class StepTime:
    """One training step under a parallelism plan (seconds unless named otherwise).

    compute_s is the pure compute time (6 N_active B over the plan's GPUs at kernel efficiency);
    exposed_comm_s is what communication adds beyond compute and pipeline bubble, split into its
    collectives (exposed_tensor_s, exposed_context_s, exposed_expert_s, exposed_pipeline_s,
    exposed_data_s, exposed_wan_s); latency_floor_s is the layer-latency bound;
    step_time_s = max(compute + bubble + exposed, floor). bubble_s is the pipeline's idle time;
    gpus_used = tp x cp x pp x dp (the rest idle for want of batch); virtual_stages is v of the
    interleaved schedule (1 = plain 1F1B).
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
    cp: int = 1
    ep: int = 1
    exposed_tensor_s: float = 0.0
    exposed_context_s: float = 0.0
    exposed_expert_s: float = 0.0
    exposed_pipeline_s: float = 0.0
    exposed_data_s: float = 0.0
    exposed_wan_s: float = 0.0


def _powers_of_two(upto: float) -> list[int]:
    """1, 2, 4, ... up to `upto` (a fresh list: callers may append to it)."""
    return list(_powers_of_two_upto(int(upto))) if upto >= 1 else []


@functools.lru_cache(maxsize=64)
def _powers_of_two_upto(upto: int) -> tuple[int, ...]:
    out, v = [], 1
    while v <= upto:
        out.append(v)
        v *= 2
    return tuple(out)


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
    cp_choices: tuple[int, ...] | None = None,
    ep_choices: tuple[int, ...] | None = None,
    outer_sync_steps: int = 1,
    outer_gradient_bytes: float | None = None,
    outer_overlap: bool = False,
    active_params: float | None = None,
    experts: int = 1,
    top_k: int = 2,
    site_gpus: tuple[int, ...] | None = None,
    pod_gpus: int | None = None,
    oversubscription: float = 1.0,
    overlap: Overlap = DEFAULT_OVERLAP,
) -> StepTime:
    """The fastest plan for one training step of a transformer, dense or mixture-of-experts, from a
    small grid: tp in powers of 2 up to the NVLink domain, cp (context parallel) in powers of 2 while
    a sequence chunk keeps MIN_CONTEXT_CHUNK_TOKENS, pp in powers of 2 up to the layer count,
    microbatches m in powers of 2 (and the most the batch allows), ep (expert parallel, MoE only) in
    powers of 2 up to the experts and the site's replicas, virtual stages v up to max_virtual_stages.

    Ranks are laid out [TP, CP, PP, DP] from the inside out, as Llama 3 trained (Dubey et al. 2024
    §3.3.2): tensor parallelism in the NVLink domain, data parallelism outermost; expert parallelism
    groups ep neighbouring data-parallel replicas. Per plan (Megatron-LM, Narayanan et al. 2021;
    alpha-beta costs from sim.physics.collectives), with t the tokens a GPU holds per microbatch,
    B / (dp m cp):
      compute  = 6 N_active B / (GPUs used x peak x kernel_efficiency); per stage, m microbatches;
      TP       = 4 all-reduces of t d activation bytes per layer (2 forward, 2 backward) on NVLink,
                 each Epoch's all-reduce latency plus the ring's bandwidth term;
      CP       = per layer, an all-gather of the chunk's keys and values (2 t d x KV_SHARE_OF_WIDTH
                 bytes / tp) forward and a reduce-scatter of their gradients backward, over cp ranks
                 (NVLink while tp cp fits the domain, else the fabric; Llama 3 §3.3.2);
      EP       = per layer, 4 all-to-alls (dispatch and combine, forward and backward) of t d top_k
                 activation bytes / tp over ep ranks spanning ep replicas (NVLink if they fit the
                 domain, else the fabric, oversubscribed for the share beyond a pod);
      PP       = a chunk's activations forward and gradients back (1/tp per GPU), over NVLink when the
                 whole pipeline fits one domain, else over the fabric;
      pipeline = interleaved 1F1B (v model chunks per GPU): max(m, pp) v + min(m, pp) - 1 chunk slots,
                 a slot the chunk's compute + TP + CP + EP, or its PP transfer where that is slower (the
                 part `overlap.pipeline` does not hide adds), plus the fill's transfers; for m >= pp
                 the bubble is (pp-1)/(v m) of compute;
      DP       = hierarchical all-reduce (sim.physics.collectives) of the GPU's gradients over its
                 site's replicas (NVLink, pod, pods above the oversubscribed tier) and then across
                 sites; it overlaps `overlap.data` of the last microbatch's backward pass;
      floor    = chunk slots x L/(pp v) layers x t_L, t_L from `layer_latency_s` at tp (Epoch App. E).
    Each collective's time counts only its part that `overlap` leaves exposed.
    step time = max(compute + bubble + exposed communication, floor); MFU = 6 N_active B / (gpus x
    peak x step). A replica's microbatch holds at least one sequence of `sequence_tokens` (split
    over cp GPUs), so dp x m <= B / sequence_tokens; GPUs the batch cannot feed stay idle, and MFU
    counts all `gpus`. `site_gpus` gives the GPUs at each site (default: `gpus` split evenly over
    `sites`); model-parallel groups stay inside a site, and each site runs replicas in proportion
    to its GPUs. `pod_gpus` is the full-bisection pod (default: the site over `pods`), above which
    the fabric is `oversubscription`:1. `tp_choices`, `pp_choices`, `cp_choices`, `ep_choices`
    replace the grid (a fixed plan: one each). Across sites, `outer_sync_steps` H > 1 is DiLoCo
    (Douillard et al. 2023, arXiv 2311.08105): each site's replicas all-reduce every step inside the
    site, and the sites exchange outer gradients of `outer_gradient_bytes` per parameter over the
    WAN once every H steps, its cost spread over them; with `outer_overlap` (streaming DiLoCo,
    Douillard et al. 2025, arXiv 2501.18512) the exchange runs behind the next H steps' compute.
    With `hbm_bytes`, plans whose model state does not fit are skipped; if none fits, the result has
    tp = pp = dp = 0, step_time_s = inf and mfu = 0.
    """
    counts = tuple(site_gpus) if site_gpus is not None else (gpus // max(sites, 1),) * max(sites, 1)
    if site_gpus is not None:
        sites = len(counts)
    if gpus < 1 or sites < 1 or gpus < sites or min(counts) < 1:
        raise ValueError(f"need at least one GPU per site: {gpus} GPUs, {sites} sites")
    if params <= 0 or batch_tokens <= 0 or peak_flop_s <= 0:
        raise ValueError("params, batch_tokens and peak_flop_s must be positive")
    active = params if active_params is None else min(params, active_params)
    _, expert_params = moe_split(params, active_params, experts, top_k)
    per_site = min(counts)
    search = _Search(
        params=params, batch_tokens=batch_tokens, gpus=gpus, peak_flop_s=peak_flop_s, sites=sites,
        per_site=per_site, site_gpus=counts, n_layers=layers(active), d_model=hidden_size(active),
        work_flop=training_compute_flop(active, batch_tokens), flop_s_gpu=peak_flop_s * kernel_efficiency,
        fabric_alpha_s=fabric_step_latency_s(hop_latency_s, pods if pod_gpus is None else
                                             -(-max(counts) // max(pod_gpus, 1))),
        sequences=batch_tokens / sequence_tokens, sequence_tokens=sequence_tokens,
        nvlink_domain=nvlink_domain, nvlink_bytes_s=nvlink_bytes_s, fabric_bytes_s_per_gpu=fabric_bytes_s_per_gpu,
        wan_latency_s=wan_latency_s, wan_bytes_s=wan_bytes_s, activation_bytes=activation_bytes,
        gradient_bytes=gradient_bytes, kernel_latency_s=kernel_latency_s, max_microbatches=max_microbatches,
        max_virtual_stages=max_virtual_stages, hbm_bytes=hbm_bytes, tp_choices=tp_choices, pp_choices=pp_choices,
        cp_choices=cp_choices, ep_choices=ep_choices,
        outer_sync_steps=max(1, outer_sync_steps),
        outer_gradient_bytes=gradient_bytes if outer_gradient_bytes is None else outer_gradient_bytes,
        outer_overlap=outer_overlap, expert_params=expert_params, experts=max(1, experts), top_k=top_k,
        pod_gpus=max(1, pod_gpus if pod_gpus is not None else -(-max(counts) // max(pods, 1))),
        oversubscription=max(1.0, oversubscription), overlap=overlap,
    )
    # a quick first answer: the fastest plan on a coarse corner of the grid (no context parallelism, the
    # most microbatches), only to prune the full search with; a plan slower than it cannot win, one tying
    # it may, so it prunes strictly above it
    seed = math.inf
    if search.cp_choices is None and search.sequence_tokens >= 2 * MIN_CONTEXT_CHUNK_TOKENS:
        seed = _fastest(dataclasses.replace(search, cp_choices=(1,)), math.inf) * (1.0 + 4e-12)
    return _fastest(search, seed, keep=True)


def _fastest(search: "_Search", seed_s: float, keep: bool = False):
    """The fastest plan of the search's grid (its StepTime with `keep`, else its step time); plans whose
    lower bound is above `seed_s` are skipped."""
    best = _INFEASIBLE
    for plan in _candidate_plans(search, lambda: min(best.step_time_s, seed_s)):
        # busy >= max(m, pp) v chunk slots x chunk work / v + exposed DP >= compute + m x (TP, CP, EP) + exposed DP
        # for every v, so a plan whose bound is no faster cannot win (the margin covers rounding)
        bound = plan.compute_s + plan.microbatches * plan.model_comm_s + plan.dp_exposed_s
        if bound * (1.0 - 1e-12) >= min(best.step_time_s, seed_s):
            continue
        step, v, slots, busy, floor = _schedule(plan)
        if step < best.step_time_s:  # ties keep the first plan in grid order
            best = _step_time(search, plan, v, slots, busy, floor, step)
    return best if keep else best.step_time_s


_INFEASIBLE = StepTime(math.inf, 0.0, 0.0, 0, 0, 0, 0, 0.0, 0.0, 0.0, cp=0, ep=0)
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
    per_site: int  # GPUs at the smallest site: model-parallel groups must fit it
    site_gpus: tuple[int, ...]  # GPUs at each site
    n_layers: float  # L(N_active)
    d_model: float  # width d(N_active)
    work_flop: float  # 6 N_active B
    flop_s_gpu: float  # peak x kernel efficiency
    fabric_alpha_s: float  # latency of one collective step over the fabric
    sequences: float  # sequences in the batch, B / sequence_tokens
    sequence_tokens: float
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
    cp_choices: tuple[int, ...] | None = None
    ep_choices: tuple[int, ...] | None = None
    outer_sync_steps: int = 1  # H: 1 is synchronous training, more is DiLoCo
    outer_gradient_bytes: float = 2.0
    outer_overlap: bool = False
    expert_params: float = 0.0  # all experts' parameters (0: dense)
    experts: int = 1
    top_k: int = 2
    pod_gpus: int = 1 << 30
    oversubscription: float = 1.0
    overlap: Overlap = DEFAULT_OVERLAP


class _Plan(NamedTuple):
    """A candidate (tp, cp, pp, m, ep) that fits in memory, with the cost of each part of its step
    (seconds, exposed parts only); these do not depend on v, the virtual stages tried for it."""

    tp: int
    pp: int
    microbatches: int
    dp: int
    gpus_used: int
    compute_s: float  # the step's compute on the GPUs used, 6 N_active B / (used x peak x efficiency)
    microbatch_compute_s: float  # one microbatch's compute through a stage (all its v chunks)
    tp_s: float  # one microbatch's exposed tensor-parallel all-reduces through a stage
    pp_s: float  # a chunk's activations forward and gradients back over the fabric
    dp_exposed_s: float  # the gradient all-reduce beyond what the last backward hides
    layer_floor_s: float  # L x t_L at this tp
    virtual_stage_options: list[int]
    cp: int = 1
    ep: int = 1
    cp_s: float = 0.0  # one microbatch's exposed context-parallel all-gathers through a stage
    ep_s: float = 0.0  # one microbatch's exposed expert all-to-alls through a stage
    dp_wan_share: float = 0.0  # the WAN's share of the gradient all-reduce
    pipeline_overlap: float = 1.0

    @property
    def model_comm_s(self) -> float:
        """Exposed tensor, context and expert communication of one microbatch through a stage."""
        return self.tp_s + self.cp_s + self.ep_s


def _candidate_plans(s: _Search, best_step_s: Callable[[], float] = lambda: math.inf) -> Iterator[_Plan]:
    """The grid of plans in search order (tp, cp, pp, m, ep; powers of 2), each with its costs.

    tp up to the NVLink domain (and the site), cp while chunks keep MIN_CONTEXT_CHUNK_TOKENS, pp up
    to the layer count (and the site / tp cp); for each, the microbatch counts of
    `_microbatch_options`, the expert-parallel degrees of `_expert_options` and the virtual stages of
    `_virtual_stage_options`. Plans whose model state does not fit in HBM are left out, and so are
    plans that cannot beat `best_step_s()`: a step is never shorter than its compute (busy time
    >= m v chunks of compute / v), so a plan whose compute alone is no faster cannot win (the
    margin covers rounding).
    """
    for tp in s.tp_choices or _powers_of_two(min(s.nvlink_domain, s.per_site)):
        tp_latency = tensor_parallel_allreduce_latency_s(tp)
        layer_floor = s.n_layers * layer_latency_s(tp_latency, s.kernel_latency_s)
        cp_max = min(MAX_CONTEXT_PARALLEL, s.sequence_tokens / MIN_CONTEXT_CHUNK_TOKENS, s.per_site // tp)
        for cp in s.cp_choices or _powers_of_two(max(1.0, cp_max)):
            # every microbatch pays the bandwidth part of its TP and CP traffic in proportion to its
            # compute (both scale with its tokens), whatever dp, m and pp: a lower bound on the step
            comm_ratio = _model_comm_ratio(s, tp, cp)
            if s.work_flop / (s.gpus * s.flop_s_gpu) * (1.0 + comm_ratio) * (1.0 - 1e-12) >= best_step_s():
                continue  # not even every GPU busy could beat the best
            for pp in s.pp_choices or _powers_of_two(min(s.n_layers, s.per_site // (tp * cp))):
                mp = tp * cp * pp
                if mp > s.per_site:  # a fixed plan larger than a site
                    continue
                # one microbatch feeds the most replicas; the most microbatches leave the least bubble
                most_replicas = sum(_replicas_per_site(s, mp, 1))
                m_options = _microbatch_options(s, mp, pp)
                v_options = _virtual_stage_options(s, pp)
                least_bubble = 1.0 + (pp - 1) / (v_options[-1] * m_options[-1])
                bound = s.work_flop / (most_replicas * mp * s.flop_s_gpu) * (1.0 + comm_ratio) * least_bubble
                if bound * (1.0 - 1e-12) >= best_step_s():
                    continue
                if s.hbm_bytes is not None and not fits_memory(  # the most replicas and experts' shards: the least state
                        s.params, tp, pp, most_replicas, s.hbm_bytes, cp, s.experts, s.expert_params):
                    continue
                t_dp, dp_done = (0.0, 0.0), None
                for m in m_options:
                    replicas = _replicas_per_site(s, mp, m)
                    dp = sum(replicas)
                    # busy >= slots x (chunk compute + TP + CP) / v with slots >= max(m, pp) v + min(m, pp) - 1
                    slots_over_v = max(m, pp) + (min(m, pp) - 1) / v_options[-1]
                    bound = s.work_flop / (dp * mp * s.flop_s_gpu) / m * slots_over_v * (1.0 + comm_ratio)
                    if bound * (1.0 - 1e-12) >= best_step_s():
                        continue
                    for ep in _expert_options(s, min(replicas)):
                        if s.hbm_bytes is not None and not fits_memory(
                                s.params, tp, pp, dp, s.hbm_bytes, cp, ep, s.expert_params):
                            continue
                        if (replicas, ep) != dp_done:  # the same replicas need no new all-reduce
                            t_dp, dp_done = _gradient_allreduce_s(s, tp, cp, pp, ep, replicas), (replicas, ep)
                        yield _plan_costs(s, tp, cp, pp, m, ep, dp, tp_latency, t_dp, layer_floor, v_options)


def _model_comm_ratio(s: _Search, tp: int, cp: int) -> float:
    """The bandwidth part of a microbatch's exposed TP all-reduces and CP all-gathers over its compute
    (their latency part left out, so a lower bound): both move bytes in proportion to the tokens a GPU
    computes on, so the ratio depends only on tp, cp and the hardware (see `_plan_costs`)."""
    flop_per_token_gpu = 6.0 * s.work_flop / (6.0 * s.batch_tokens) / (tp * s.n_layers)  # per layer
    ratio = 0.0
    if tp > 1:
        tp_bytes = 4.0 * s.d_model * s.activation_bytes * 2.0 * (tp - 1) / tp
        ratio += tp_bytes / s.nvlink_bytes_s / (flop_per_token_gpu / s.flop_s_gpu) * (1.0 - s.overlap.tensor)
    if cp > 1:
        _, bw = _group_link(s, tp * cp, cp)
        cp_bytes = 2.0 * 2.0 * s.d_model * s.activation_bytes * KV_SHARE_OF_WIDTH / tp * (cp - 1)
        ratio += cp_bytes / bw / (flop_per_token_gpu / s.flop_s_gpu) * (1.0 - s.overlap.context)
    return ratio


def _microbatch_options(s: _Search, mp: int, pp: int) -> list[int]:
    """Microbatch counts to try: powers of 2 up to the most that keep every replica fed (m_full),
    and m_full itself; more would only idle replicas and lengthen the pipeline. Without a pipeline,
    one: more would only shrink the backward the DP all-reduce hides behind."""
    if pp == 1:
        return [1]
    replicas_max = sum(g // mp for g in s.site_gpus)
    m_full = max(1, min(s.max_microbatches, math.floor(s.sequences / replicas_max)))
    options = _powers_of_two(m_full)
    if options[-1] != m_full:
        options.append(m_full)
    return options


def _expert_options(s: _Search, replicas_smallest_site: int) -> list[int]:
    """Expert-parallel degrees to try: 1 for a dense model; powers of 2 up to the experts and the
    smallest site's replicas (an expert group stays inside a site)."""
    if s.expert_params <= 0:
        return [1]
    if s.ep_choices:
        return [e for e in s.ep_choices if e <= max(1, replicas_smallest_site)] or [min(s.ep_choices)]
    return _powers_of_two(min(s.experts, max(1, replicas_smallest_site)))


def _virtual_stage_options(s: _Search, pp: int) -> list[int]:
    """Virtual stages (model chunks per GPU) to try: powers of 2 up to max_virtual_stages and L / pp,
    and the most whole layers a stage holds (one layer per chunk: Llama 3 §3.3.2 balanced its 126 layers
    over 16 stages by hand); without a pipeline, one."""
    if pp == 1:
        return [1]
    most = min(s.max_virtual_stages, s.n_layers / pp)
    options = _powers_of_two(most)
    if options and int(most) > options[-1]:
        options.append(int(most))
    return options


def _replicas_per_site(s: _Search, mp: int, m: int) -> tuple[int, ...]:
    """Data-parallel replicas at each site: one sequence per replica per microbatch, at most what each
    site's GPUs hold; when the batch cannot feed them all, the replicas it can feed are shared out in
    proportion to the sites' GPUs (at least one per site: a batch too small to feed one replica per
    site still runs one per site, on part of a sequence)."""
    fed = math.floor(s.sequences / m)
    if s.sites == 1:
        return (max(1, min(s.site_gpus[0] // mp, fed)),)
    room = [g // mp for g in s.site_gpus]
    total = sum(room)
    if fed >= total:
        return tuple(room)
    return tuple(max(1, min(r, math.floor(fed * r / total))) for r in room)


def _gradient_allreduce_s(s: _Search, tp: int, cp: int, pp: int, ep: int,
                          replicas: tuple[int, ...]) -> tuple[float, float]:
    """The step's gradient all-reduce and the WAN's share of it: hierarchical (sim.physics.collectives)
    over each site's data- and context-parallel ranks (NVLink, pod, across pods through the
    oversubscribed tier), then across sites. A GPU's gradients are its shard of the shared parameters
    and of its experts, x gradient_bytes (the experts' reduce over dp / ep ranks: charged as if over dp,
    a slight overstatement). The site's WAN link carries all model-parallel shards' gradients."""
    mp = tp * pp
    shard = (s.params - s.expert_params + s.expert_params / ep) / mp
    ranks = [r * cp for r in replicas]  # the DP group includes the context-parallel ranks
    per_domain = max(1, s.nvlink_domain // mp)  # [TP, CP, PP, DP]: DP neighbours in one NVLink domain
    per_pod = max(1, s.pod_gpus // mp)
    h = hierarchical_allreduce_s(
        shard * s.gradient_bytes, ranks, per_domain, s.nvlink_bytes_s,
        s.fabric_bytes_s_per_gpu, s.fabric_alpha_s, s.wan_latency_s, s.wan_bytes_s / (mp * cp), s.sites,
        ranks_per_pod=per_pod, oversubscription=s.oversubscription,
    )
    if s.outer_sync_steps <= 1 or s.sites < 2:
        return h.total_s, (h.wan_allreduce_s / h.total_s if h.total_s > 0 else 0.0)
    # DiLoCo: the sites' exchange of outer gradients (the same ring, quantized bytes) once every H steps
    wan = wan_ring_allreduce_s(shard * s.outer_gradient_bytes, s.sites, s.wan_latency_s, s.wan_bytes_s / (mp * cp))
    per_step = wan / s.outer_sync_steps
    if s.outer_overlap:  # behind the next H steps' compute (a step is at least work / (GPUs x FLOP/s))
        per_step = max(0.0, per_step - s.work_flop / (s.gpus * s.flop_s_gpu))
    total = h.total_s - h.wan_allreduce_s + per_step
    return total, (per_step / total if total > 0 else 0.0)


def _group_link(s: _Search, group_gpus: int, ranks: int) -> tuple[float, float]:
    """(latency per step, bytes/s per GPU) of a collective over `ranks` ranks spread over
    `group_gpus` contiguous GPUs: NVLink inside one domain (Epoch's NVLink all-reduce latency, App. E),
    else the fabric (its hop latency; oversubscribed for the share beyond a pod)."""
    if group_gpus <= s.nvlink_domain:
        return epoch_allreduce_latency_s(ranks, 1) / max(ranks - 1, 1), s.nvlink_bytes_s
    return s.fabric_alpha_s, spanning_bytes_s(s.fabric_bytes_s_per_gpu, group_gpus, s.pod_gpus, s.oversubscription)


def _plan_costs(s: _Search, tp: int, cp: int, pp: int, m: int, ep: int, dp: int, tp_latency_s: float,
                t_dp: tuple[float, float], layer_floor_s: float, v_options: list[int]) -> _Plan:
    """The cost of each part of a plan's step (Megatron-LM, Narayanan et al. 2021; see `best_plan`):
    compute 6 N_active B over the GPUs used; per microbatch and stage, the exposed TP all-reduces,
    CP all-gathers and EP all-to-alls of its layers; a chunk's activations forward and gradients back
    (1/tp per GPU, NVLink or fabric); the gradient all-reduce beyond what overlaps the last microbatch's
    backward pass (2/3 of its compute)."""
    o = s.overlap
    mp = tp * cp * pp
    used = dp * mp
    compute = s.work_flop / (used * s.flop_s_gpu)
    t_c = compute / m
    tokens = s.batch_tokens / (dp * m * cp)  # a GPU's tokens per microbatch
    act_mb = tokens * s.d_model * s.activation_bytes
    stage_layers = s.n_layers / pp
    tp_s_per_byte = 2.0 * (tp - 1) / tp / s.nvlink_bytes_s
    t_tp = 4.0 * stage_layers * (tp_latency_s + act_mb * tp_s_per_byte) if tp > 1 else 0.0
    t_cp = 0.0
    if cp > 1:
        alpha, bw = _group_link(s, tp * cp, cp)
        kv = 2.0 * act_mb * KV_SHARE_OF_WIDTH / tp
        t_cp = 2.0 * stage_layers * all_gather_s(kv * cp, cp, alpha, bw)
    t_ep = 0.0
    if ep > 1:
        alpha, bw = _group_link(s, ep * mp, ep)
        t_ep = 4.0 * stage_layers * alltoall_s(act_mb * s.top_k / tp, ep, alpha, bw)
    pp_alpha, pp_bw = _group_link(s, mp, 2)  # the whole pipeline in one NVLink domain, else the fabric
    t_pp = 2.0 * (pp_alpha + act_mb / tp / pp_bw) if pp > 1 else 0.0
    dp_total, wan_share = t_dp
    dp_exposed = max(0.0, dp_total - o.data * (2.0 / 3.0) * t_c)
    return _Plan(tp, pp, m, dp, used, compute, t_c, t_tp * (1.0 - o.tensor), t_pp, dp_exposed, layer_floor_s,
                 v_options, cp, ep, t_cp * (1.0 - o.context), t_ep * (1.0 - o.expert), wan_share, o.pipeline)


def _schedule(p: _Plan) -> tuple[float, int, int, float, float]:
    """The fastest interleaved-1F1B schedule of a plan over its virtual stages v:
    (step time, v, chunk slots, busy time, latency floor); ties keep the smaller v.

    Each microbatch goes round the pp stages v times; with m < pp a round waits for the first
    microbatch to come back: max(m, pp) v + min(m, pp) - 1 slots, each the slower of a chunk's
    compute + TP + CP + EP and the overlapped part of its PP transfer, plus the part not overlapped,
    plus the fill's transfers and the exposed DP all-reduce. The floor is slots x L/(pp v) x t_L
    (Epoch App. E); step = max(busy, floor).
    """
    m, pp, t_pp, o = p.microbatches, p.pp, p.pp_s, p.pipeline_overlap
    chunk_work = p.microbatch_compute_s + p.model_comm_s
    best = (math.inf, 0, 0, 0.0, 0.0)
    for v in p.virtual_stage_options:
        slots = max(m, pp) * v + min(m, pp) - 1
        busy = slots * (max(chunk_work / v, o * t_pp) + (1.0 - o) * t_pp) + (pp - 1) * t_pp + p.dp_exposed_s
        floor = slots / (pp * v) * p.layer_floor_s
        step = max(busy, floor)
        if step < best[0]:
            best = (step, v, slots, busy, floor)
    return best


def _step_time(s: _Search, p: _Plan, v: int, slots: int, busy: float, floor: float, step: float) -> StepTime:
    """The StepTime of a plan at v: the bubble is the slots' compute beyond the step's compute,
    exposed communication the busy time beyond both, split by collective; MFU counts every GPU,
    used or not."""
    bubble = max(0.0, slots * p.microbatch_compute_s / v - p.compute_s)
    exposed = max(0.0, busy - p.compute_s - bubble)
    per_slot = slots / v
    tensor, context, expert = per_slot * p.tp_s, per_slot * p.cp_s, per_slot * p.ep_s
    data, wan = p.dp_exposed_s * (1.0 - p.dp_wan_share), p.dp_exposed_s * p.dp_wan_share
    pipeline = max(0.0, exposed - tensor - context - expert - data - wan)
    return StepTime(
        step_time_s=step, mfu=s.work_flop / (s.gpus * s.peak_flop_s * step),
        comm_fraction=exposed / step, tp=p.tp, pp=p.pp, dp=p.dp, microbatches=p.microbatches,
        exposed_comm_s=exposed, compute_s=p.compute_s, latency_floor_s=floor,
        bubble_s=bubble, gpus_used=p.gpus_used, virtual_stages=v, cp=p.cp, ep=p.ep,
        exposed_tensor_s=tensor, exposed_context_s=context, exposed_expert_s=expert,
        exposed_pipeline_s=pipeline, exposed_data_s=data, exposed_wan_s=wan,
    )
