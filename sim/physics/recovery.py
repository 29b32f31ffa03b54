"""A job's recovery from failures, with costs that scale: checkpoint bytes and the time to write and read
them, restarts growing with the job, the blast radius of a failure and hot spares, and the goodput that
follows (`recovery`, `recovery_goodput`, `simulate_recovery`).

Built on the failure model of sim.physics.reliability (rates, Daly's interval, failure walks); sources
beside each constant and in docs/sources.md.
"""
from __future__ import annotations

import math
from typing import Literal, NamedTuple, Protocol

import numpy as np

from sim.physics.reliability import (
    FailureOutcome,
    GPUS_PER_NODE,
    MAX_EXPECTED_FAILURES,
    daly_interval_s,
    failure_rate_per_gpu_day,
    goodput_at_interval,
    job_mttf_s,
    simulate_failures,
)
from sim.physics.units import SECONDS_PER_DAY, SECONDS_PER_HOUR


# ---------------------------------------------------------------- costs that scale with the job

# Llama 3 (Dubey et al. 2024, arXiv 2407.21783, §3.3.4): 419 unexpected interruptions in a 54-day
# snapshot of Llama 3 405B pre-training on 16,384 H100: 4.74e-4 per GPU-day, within 3% of the
# log-uniform median of Kokolis et al. 2024's A100 clusters (`failure_rate_per_gpu_day(0.5)` = 4.875e-4).
# A per-GPU rate of one generation (H100) thus matches the other's (A100); the scenario's per-product
# `failure_rate_factor` (default 1) scales the rate for products measured or assumed otherwise.
LLAMA3_INTERRUPTIONS, LLAMA3_DAYS, LLAMA3_GPUS = 419, 54, 16_384
LLAMA3_PER_GPU_DAY = LLAMA3_INTERRUPTIONS / (LLAMA3_DAYS * LLAMA3_GPUS)  # 4.74e-4

# What a checkpoint holds per parameter: bf16 weights (2 bytes) and the fp32 master weights and two Adam
# moments (12), the mixed-precision Adam state of Rajbhandari et al. 2020 (ZeRO: 16 bytes a parameter
# in training) without the bf16 gradients, which a checkpoint does not keep.
CHECKPOINT_BYTES_PER_PARAM = 14.0

# Llama 3 §3.3.1: Meta's Tectonic storage for the 16k-GPU job sustains 2 TB/s (7 TB/s peak): 1.22e8
# bytes/s per training GPU. Storage is taken to grow with the cluster (per GPU), an assumption: a fixed
# aggregate would make checkpoints of a million-GPU job ~60x slower than at 16k.
STORAGE_BYTES_S_PER_GPU = 2e12 / LLAMA3_GPUS

# Copy of a GPU's shard to host memory (the only blocking part of an asynchronous checkpoint): PCIe Gen5
# x16, 64 GB/s each way (NVIDIA H100 datasheet: 128 GB/s both ways); 50 GB/s achieved is an assumption.
HOST_COPY_BYTES_S_PER_GPU = 5e10

# The fixed part of a restart (detect, swap in a spare, relaunch, warm up). With hot spares (the default)
# no requeue: the central value between hot-swap recovery, under 40 s at 512 GPUs (DeadPool, Xie et al.
# 2026, arXiv 2607.01646), and research-cluster restarts with requeue, 5-20 minutes, ~10 (Kokolis et al.
# 2024): their geometric mean, sqrt(40 x 600) ~ 150 s. Llama 3's ">90% effective training time" at 16k
# GPUs allows up to ~18 minutes lost per interruption, so both ends are inside it. A job without hot
# spares waits for the repair on top (`recovery`).
RESTART_BASE_S = 150.0

# The part growing with the job: MegaScale (Jiang et al. 2024, NSDI, arXiv 2402.15627) cut communicator
# initialization to under 30 s for more than 10,000 GPUs (12,288 in its runs). Spread over log2(12,288) = 13.6
# doublings that is 2.2 s per doubling of the GPUs. Logarithmic growth (a tree-shaped bootstrap) is an
# assumption: MegaScale's own 5 s at 2,048 GPUs and <30 s at 12,288 grow about linearly, which would put a
# million-GPU restart at ~40 min.
RESTART_S_PER_DOUBLING = 30.0 / math.log2(12_288)

# Time until a failed node or NVLink domain is back in service (diagnosed, repaired or swapped, burnt in):
# an assumption of a day. It sizes the hot-spare pool; without hot spares each restart waits for it.
REPAIR_HOURS = 24.0

CheckpointMode = Literal["sync", "async", "in_memory"]
Blast = Literal["node", "nvlink_domain"]


class ReliabilitySettings(Protocol):
    """What `recovery` reads of a scenario's `training:` or a job's (sim.config TrainingPhysics, JobTraining)."""

    @property
    def checkpoint(self) -> CheckpointMode: ...

    @property
    def checkpoint_write_s(self) -> float | None: ...  # fixed blocking time per checkpoint (None: from bytes)

    @property
    def storage_bytes_s_per_gpu(self) -> float: ...

    @property
    def restart_s(self) -> float: ...  # the fixed part of a restart

    @property
    def restart_s_per_doubling(self) -> float: ...

    @property
    def failure_rate_quantile(self) -> float: ...

    @property
    def failure_blast(self) -> Blast: ...

    @property
    def hot_spares(self) -> bool: ...

    @property
    def repair_hours(self) -> float: ...


class Recovery(NamedTuple):
    """How a job checkpoints and recovers: the inputs of Daly's model, and the hot spares it holds.

    checkpoint_s: training blocked per checkpoint (delta); interval_s: work between checkpoints (tau);
    restart_s: time without progress per failure (the restart, plus for a background write the work
    a failure loses because the newest checkpoint was not yet durable); spare_share: the share of the
    job's GPU-time held idle as hot spares; write_s: time to make a checkpoint durable.
    """

    mttf_s: float
    checkpoint_s: float
    interval_s: float
    restart_s: float
    spare_share: float
    write_s: float
    state_bytes: float


def checkpoint_bytes(params: float, bytes_per_param: float = CHECKPOINT_BYTES_PER_PARAM) -> float:
    """Bytes of a full training checkpoint: weights and Adam state, `CHECKPOINT_BYTES_PER_PARAM` a parameter.

    Rajbhandari et al. 2020 (ZeRO): mixed-precision Adam keeps 16 bytes a parameter, 2 of them bf16
    gradients a checkpoint leaves out. Llama 3 405B: 5.67 TB.
    """
    if params < 0 or bytes_per_param < 0:
        raise ValueError("params and bytes_per_param must be non-negative")
    return params * bytes_per_param


def transfer_s(state_bytes: float, gpus: float, bytes_s_per_gpu: float) -> float:
    """Time to move `state_bytes` spread evenly over `gpus` GPUs, each at `bytes_s_per_gpu`.

    Every GPU writes (or reads) its 1/GPUs share of the checkpoint at once (sharded checkpoints:
    PyTorch DCP, ByteCheckpoint, Wan et al. 2024), so the aggregate bandwidth is GPUs x per-GPU. Llama 3
    405B's 5.67 TB over 16,384 GPUs at 2 TB/s in all (Llama 3 §3.3.1): 2.8 s.
    """
    if state_bytes < 0 or gpus <= 0 or bytes_s_per_gpu <= 0:
        raise ValueError("state_bytes must be >= 0, gpus and bytes_s_per_gpu > 0")
    return state_bytes / (gpus * bytes_s_per_gpu)


def restart_time_s(gpus: float, base_s: float = RESTART_BASE_S, per_doubling_s: float = RESTART_S_PER_DOUBLING,
                   load_s: float = 0.0, wait_s: float = 0.0) -> float:
    """One restart: a fixed part, a part growing with log2(GPUs), the checkpoint load, and any wait.

    base_s: detect, requeue, relaunch (Kokolis et al. 2024: 5-20 min); per_doubling_s x log2(GPUs):
    communicator initialization (MegaScale, Jiang et al. 2024: <30 s at >10k GPUs); load_s: reading the
    checkpoint back (from storage, or from peers' memory, Wang et al. 2023); wait_s: waiting for a failed
    unit's repair when there is no hot spare. Never decreases as GPUs grow.
    """
    if gpus < 0 or base_s < 0 or per_doubling_s < 0 or load_s < 0 or wait_s < 0:
        raise ValueError("gpus and the restart's parts must be non-negative")
    return base_s + per_doubling_s * math.log2(max(gpus, 1.0)) + load_s + wait_s


def blast_radius_gpus(blast: Blast, nvlink_domain_gpus: int, gpus_per_node: int = GPUS_PER_NODE) -> int:
    """GPUs a failure takes down: its node (8 GPUs in an HGX server) or its whole NVLink domain (72 in a
    GB200 NVL72 rack, whose NVLink fabric a failed tray breaks for the jobs spanning it), never fewer
    than a node's GPUs unless the domain is smaller."""
    if blast == "node":
        return max(1, min(gpus_per_node, nvlink_domain_gpus))
    if blast == "nvlink_domain":
        return max(1, nvlink_domain_gpus)
    raise ValueError(f"blast must be 'node' or 'nvlink_domain', got {blast!r}")


def hot_spare_gpus(gpus: float, rate_per_gpu_day: float, unit_gpus: int, repair_s: float) -> float:
    """Hot spares a job holds: whole units (its blast radius) for the failures still under repair.

    Failures arrive at GPUs x rate, each takes one unit out for `repair_s`: GPUs x rate x repair
    units are out at any time (Little's law); the job keeps that many, rounded up and at least one,
    so a spare is at hand for each failure (the rare excess over the mean is not charged). O(1).
    """
    if gpus <= 0 or rate_per_gpu_day <= 0:
        return 0.0
    out = gpus * rate_per_gpu_day * repair_s / SECONDS_PER_DAY
    return float(max(1, math.ceil(out))) * min(unit_gpus, gpus)


def recovery(gpus: float, params: float, settings: ReliabilitySettings, nvlink_domain_gpus: int,
             peer_bytes_s_per_gpu: float, rate_factor: float = 1.0, min_interval_s: float = 1.0) -> Recovery:
    """How a job of `gpus` GPUs training a `params` model checkpoints and recovers (see `Recovery`).

    Checkpoint (`settings.checkpoint`):
    - sync: training waits for the write to storage, delta = bytes / (GPUs x storage bandwidth);
    - async: training waits only for the copy to host memory (`HOST_COPY_BYTES_S_PER_GPU`); the write
      to storage follows in the background (Check-N-Run, Eisenman et al. 2022; PyTorch DCP async;
      ByteCheckpoint, Wan et al. 2024), so a failure in the write's W seconds falls back one more
      checkpoint: W more lost work per failure on average (uniform failure phase), counted in restart_s;
    - in_memory: the host copy goes to a peer's CPU memory over the scale-out network and a restart reads
      it back from there, not from storage (Gemini, Wang et al. SOSP 2023); peers sit outside the blast
      radius, so one failure never takes both copies.
    `checkpoint_write_s`, when given, replaces the blocking time. The interval is Daly's for delta and the
    job MTTF, at least the background write (it must finish before the next) and `min_interval_s` (a step).
    Restart: `restart_time_s` with the checkpoint load from storage (or peers), plus without hot spares the
    failed unit's repair. Hot spares: `hot_spare_gpus` of the blast radius; spare_share = S / (GPUs + S).
    Failure rate: `failure_rate_per_gpu_day(quantile)` x `rate_factor` (per product). O(1).
    """
    if gpus <= 0:
        raise ValueError("gpus must be positive")
    if min_interval_s <= 0:
        raise ValueError("min_interval_s must be positive")
    rate = failure_rate_per_gpu_day(settings.failure_rate_quantile) * rate_factor
    mttf = job_mttf_s(gpus, rate)
    state = checkpoint_bytes(params)
    storage = transfer_s(state, gpus, settings.storage_bytes_s_per_gpu)
    mode = settings.checkpoint
    if mode == "sync":
        blocking, write, load = storage, 0.0, storage
    elif mode == "async":
        blocking, write, load = transfer_s(state, gpus, HOST_COPY_BYTES_S_PER_GPU), storage, storage
    elif mode == "in_memory":
        peer = transfer_s(state, gpus, peer_bytes_s_per_gpu)
        blocking, write, load = transfer_s(state, gpus, HOST_COPY_BYTES_S_PER_GPU), peer, peer
    else:
        raise ValueError(f"checkpoint must be 'sync', 'async' or 'in_memory', got {mode!r}")
    if settings.checkpoint_write_s is not None:
        blocking = settings.checkpoint_write_s
    repair_s = settings.repair_hours * SECONDS_PER_HOUR
    unit = blast_radius_gpus(settings.failure_blast, nvlink_domain_gpus)
    spares = hot_spare_gpus(gpus, rate, unit, repair_s) if settings.hot_spares else 0.0
    restart = restart_time_s(gpus, settings.restart_s, settings.restart_s_per_doubling, load,
                             0.0 if settings.hot_spares else repair_s)
    interval = max(daly_interval_s(blocking, mttf) if math.isfinite(mttf) else math.inf, write, min_interval_s)
    return Recovery(mttf, blocking, interval, restart + write, spares / (gpus + spares), write, state)


def recovery_goodput(rec: Recovery) -> float:
    """Expected goodput of a job recovering as `rec` says: Daly's (`goodput_at_interval`) x the share of
    its GPU-time not held as hot spares."""
    interval = rec.interval_s if math.isfinite(rec.interval_s) else math.inf
    return goodput_at_interval(interval, rec.checkpoint_s, rec.restart_s, rec.mttf_s) * (1.0 - rec.spare_share)


def simulate_recovery(rng: np.random.Generator, duration_s: float, rec: Recovery,
                      max_expected: float = MAX_EXPECTED_FAILURES) -> tuple[FailureOutcome, float]:
    """One random run of `duration_s` recovering as `rec` says: the failure walk (`simulate_failures`)
    and the run's goodput, its useful share of the time x the share not held as hot spares. O(failures)."""
    if duration_s <= 0:
        return FailureOutcome(0.0, 0, 0.0), 1.0 - rec.spare_share
    interval = rec.interval_s if math.isfinite(rec.interval_s) else duration_s
    out = simulate_failures(rng, duration_s, rec.mttf_s, interval, rec.checkpoint_s, rec.restart_s, max_expected)
    return out, out.useful_s / duration_s * (1.0 - rec.spare_share)
