"""Collective communication cost: ring and hierarchical all-reduce (alpha-beta), NCCL bus bandwidth,
and Epoch's all-reduce latency fits.

Pure functions of numbers, with no simulation state, so each is tested against its published worked
case (sources: Thakur et al. 2005, nccl-tests, Epoch 2030; docs/sources.md). alpha is the latency of
one algorithm step, beta the bandwidth one rank sends at; the reduction's compute term (gamma) is
left out, as NCCL hides it behind the transfers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sim.physics.units import SECONDS_PER_MICROSECOND


def ring_allreduce_s(message_bytes: float, ranks: int, alpha_s: float, bandwidth_bytes_s: float) -> float:
    """Ring all-reduce of n bytes over p ranks: T = 2(p-1) alpha + 2 (p-1)/p n / beta.

    Thakur, Rabenseifner & Gropp, "Optimization of collective communication operations in MPICH"
    (IJHPCA 2005): a reduce-scatter then an all-gather, each p-1 steps moving n/p bytes. One rank
    (or none) needs no communication: 0.
    """
    if ranks <= 1:
        return 0.0
    p = ranks
    return 2 * (p - 1) * alpha_s + 2 * (p - 1) / p * message_bytes / bandwidth_bytes_s


def _latency_steps(ranks: int, algorithm: str) -> float:
    if algorithm == "ring":
        return ranks - 1
    if algorithm == "halving":
        return math.ceil(math.log2(ranks))
    raise ValueError(f"unknown algorithm {algorithm!r}: use 'ring' or 'halving'")


def reduce_scatter_s(
    message_bytes: float, ranks: int, alpha_s: float, bandwidth_bytes_s: float, *, algorithm: str = "ring"
) -> float:
    """Reduce-scatter of n bytes over p ranks: T = (p-1) alpha + (p-1)/p n / beta.

    Thakur, Rabenseifner & Gropp (2005). `algorithm="halving"` is their recursive-halving variant:
    the same bytes in ceil(log2 p) steps, i.e. ceil(log2 p) alpha; it stands in for the tree and
    hierarchical algorithms NCCL uses when p is large and latency matters.
    """
    if ranks <= 1:
        return 0.0
    return _latency_steps(ranks, algorithm) * alpha_s + (ranks - 1) / ranks * message_bytes / bandwidth_bytes_s


def all_gather_s(
    message_bytes: float, ranks: int, alpha_s: float, bandwidth_bytes_s: float, *, algorithm: str = "ring"
) -> float:
    """All-gather of a message of n bytes in total over p ranks: T = (p-1) alpha + (p-1)/p n / beta.

    Thakur, Rabenseifner & Gropp (2005); `algorithm="halving"` is recursive doubling (ceil(log2 p) alpha).
    """
    return reduce_scatter_s(message_bytes, ranks, alpha_s, bandwidth_bytes_s, algorithm=algorithm)


_BUSBW = {
    "allreduce": lambda n: 2 * (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "alltoall": lambda n: (n - 1) / n,
    "broadcast": lambda n: 1.0,
    "reduce": lambda n: 1.0,
}
_ALIASES = {"all_reduce": "allreduce", "reducescatter": "reduce_scatter", "allgather": "all_gather",
            "all_to_all": "alltoall"}


def busbw_factor(collective: str, ranks: int) -> float:
    """nccl-tests bus-bandwidth factor: busbw = algbw x factor.

    NVIDIA/nccl-tests doc/PERFORMANCE.md: all-reduce 2(n-1)/n; reduce-scatter, all-gather and
    all-to-all (n-1)/n; broadcast and reduce 1. Bus bandwidth is what each link carries, so it can
    be compared with the hardware's peak whatever the rank count.
    """
    key = collective.lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _BUSBW:
        raise ValueError(f"unknown collective {collective!r}: one of {sorted(_BUSBW)}")
    if ranks < 1:
        raise ValueError(f"ranks must be >= 1, got {ranks}")
    return _BUSBW[key](ranks)


def algbw_from_busbw(busbw_bytes_s: float, collective: str, ranks: int) -> float:
    """Algorithm bandwidth (message bytes / time) from bus bandwidth: algbw = busbw / factor
    (nccl-tests doc/PERFORMANCE.md). A factor of 0 (all-reduce on one rank) gives infinity."""
    factor = busbw_factor(collective, ranks)
    return math.inf if factor == 0 else busbw_bytes_s / factor


def busbw_from_algbw(algbw_bytes_s: float, collective: str, ranks: int) -> float:
    """Bus bandwidth from algorithm bandwidth: busbw = algbw x factor (nccl-tests doc/PERFORMANCE.md)."""
    return algbw_bytes_s * busbw_factor(collective, ranks)


def epoch_allreduce_latency_s(nvlink_ranks: float, pods: float) -> float:
    """Latency of one small all-reduce: 6.8 us + 0.6 us per NVLink rank + 5 us per log2(pods).

    Epoch AI, "Can AI Scaling Continue Through 2030?" (2024), App. E, fitted to NCCL measurements.
    With 4 NVLink ranks in one pod this is 9.2 us; plus the 4.5 us kernel latency it is the
    report's 13.7 us per intranode operation (8 x 13.7 us ~ 110 us per layer, case 8).
    """
    return (6.8 + 0.6 * nvlink_ranks + 5.0 * math.log2(max(pods, 1.0))) * SECONDS_PER_MICROSECOND


def epoch_pairwise_allreduce_latency_s(nvlink_ranks: float, pods: float) -> float:
    """All-reduce latency in the report's internode form: t = 7.4 + 2 (0.6 n_nvlink + 5 log2 M) us.

    Epoch 2030, App. E (the form quoted with Erdil & Schneider-Joseph, arXiv 2411.01137), used for
    2D tensor parallelism across pods. This is the form that gives validation case 9: 2.75 NVLink
    ranks and 16 pods -> 7.4 + 2 (1.65 + 20) = 50.7 us (the one-term form gives 28.45 us).
    """
    return (7.4 + 2.0 * (0.6 * nvlink_ranks + 5.0 * math.log2(max(pods, 1.0)))) * SECONDS_PER_MICROSECOND


@dataclass(frozen=True)
class HierarchicalAllreduce:
    """Stage times of a hierarchical all-reduce (seconds); total is their sum. The fabric stages are
    inside a pod (full bisection bandwidth); the pod stages cross pods, above the oversubscribed tier."""

    nvlink_reduce_scatter_s: float
    fabric_reduce_scatter_s: float
    wan_allreduce_s: float
    fabric_all_gather_s: float
    nvlink_all_gather_s: float
    total_s: float
    pod_reduce_scatter_s: float = 0.0
    pod_all_gather_s: float = 0.0


def hierarchical_allreduce_s(
    message_bytes: float,
    gpus_per_site: int | list[int],
    nvlink_domain: int,
    nvlink_bytes_s: float,
    fabric_bytes_s_per_gpu: float,
    fabric_alpha_s: float,
    wan_latency_s: float,
    wan_bandwidth_bytes_s: float,
    sites: int,
    *,
    nvlink_alpha_s: float = 0.6e-6,
    ranks_per_pod: int | None = None,
    oversubscription: float = 1.0,
) -> HierarchicalAllreduce:
    """All-reduce of a message every rank holds, across ranks in several sites, in seven stages.

    The usual multi-level scheme (reduce-scatter up the hierarchy, all-reduce of the last shard across
    sites over the WAN, all-gather back down), with the alpha-beta stage costs of Thakur, Rabenseifner
    & Gropp (2005):
      1. ring reduce-scatter inside each NVLink domain (d ranks; nvlink_alpha_s per step, default
         Epoch's 0.6 us per NVLink rank);
      2. reduce-scatter of the 1/d shard across the pod's domains over the scale-out fabric
         (recursive halving: ceil(log2 k) steps of fabric_alpha_s, as NCCL's trees scale in log p);
      3. reduce-scatter of the 1/(d k) shard across the site's pods (`ranks_per_pod` ranks each),
         through the tier above the pods: each GPU gets 1/`oversubscription` of its fabric bandwidth
         there (a 1:7 tier carries a seventh of what the pods below it can send; fat tree,
         Al-Fares et al. 2008). Only this shard crosses pods, so oversubscription costs
         (P-1)/P x n/(d k) per GPU, not the whole message;
      4. ring all-reduce of the remaining shard across the sites over the WAN: 2(S-1) steps,
         each paying wan_latency_s (the one-way latency of a ring hop); all ranks of a site run
         their rings at once through the site's WAN link, so together they move 2(S-1)/S x n bytes
         through wan_bandwidth_bytes_s (the bottleneck link);
      5-7. all-gather back across pods, the pod's fabric, then the NVLink domain.
    Without `ranks_per_pod` the whole site is one pod. With a list of ranks per site the slowest
    (largest) site sets the intra-site stages.
    """
    counts = [gpus_per_site] * sites if isinstance(gpus_per_site, int) else list(gpus_per_site)
    if sites <= 0 or len(counts) != sites:
        raise ValueError(f"need one GPU count per site: {sites} sites, {len(counts)} counts")
    largest = max(counts)
    d = max(1, min(nvlink_domain, largest))
    per_pod = largest if ranks_per_pod is None else max(d, min(ranks_per_pod, largest))
    k = max(1, math.ceil(per_pod / d))  # domains per pod
    pods = max(1, math.ceil(largest / (d * k)))
    nv_rs = reduce_scatter_s(message_bytes, d, nvlink_alpha_s, nvlink_bytes_s)
    fab_rs = reduce_scatter_s(message_bytes / d, k, fabric_alpha_s, fabric_bytes_s_per_gpu, algorithm="halving")
    pod_rs = reduce_scatter_s(message_bytes / (d * k), pods, fabric_alpha_s,
                              fabric_bytes_s_per_gpu / max(1.0, oversubscription), algorithm="halving")
    wan = wan_ring_allreduce_s(message_bytes, sites, wan_latency_s, wan_bandwidth_bytes_s)
    return HierarchicalAllreduce(nv_rs, fab_rs, wan, fab_rs, nv_rs, 2 * nv_rs + 2 * fab_rs + 2 * pod_rs + wan,
                                 pod_rs, pod_rs)


def alltoall_s(message_bytes: float, ranks: int, alpha_s: float, bandwidth_bytes_s: float) -> float:
    """Pairwise all-to-all of n bytes per rank over p ranks: T = (p-1) alpha + (p-1)/p n / beta.

    Each rank keeps 1/p of its message and sends the rest, one peer per step (Thakur, Rabenseifner &
    Gropp 2005; nccl-tests counts all-to-all bus bandwidth as (p-1)/p of the algorithm bandwidth).
    Mixture-of-experts layers run one to send tokens to their experts and one to bring them back.
    """
    if ranks <= 1:
        return 0.0
    return (ranks - 1) * alpha_s + (ranks - 1) / ranks * message_bytes / bandwidth_bytes_s


def spanning_bytes_s(bytes_s_per_gpu: float, span_gpus: float, pod_gpus: float, oversubscription: float) -> float:
    """Effective per-GPU bandwidth of traffic spread evenly over a group of `span_gpus` GPUs laid out
    contiguously: the share of peers inside the GPU's pod is reached at full fabric bandwidth, the
    rest through the oversubscribed tier above the pods at 1/oversubscription of it (fat tree,
    Al-Fares et al. 2008): time per byte = (inside + outside x oversubscription) / bandwidth."""
    if span_gpus <= pod_gpus or oversubscription <= 1.0:
        return bytes_s_per_gpu
    outside = 1.0 - pod_gpus / span_gpus
    return bytes_s_per_gpu / (1.0 + outside * (oversubscription - 1.0))


def wan_ring_allreduce_s(message_bytes: float, sites: int, wan_latency_s: float, wan_bandwidth_bytes_s: float) -> float:
    """Ring all-reduce of a message across sites over the WAN (stage 3 of `hierarchical_allreduce_s`):
    2(S-1) steps of one hop's latency, and 2(S-1)/S of the message through the bottleneck link
    (Thakur, Rabenseifner & Gropp 2005); nothing for one site."""
    if sites <= 1:
        return 0.0
    return 2 * (sites - 1) * wan_latency_s + 2 * (sites - 1) / sites * message_bytes / wan_bandwidth_bytes_s
