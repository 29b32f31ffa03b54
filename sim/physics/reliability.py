"""Failures and checkpoints: job failure rate from per-node rates, Young/Daly checkpoint interval,
restart cost and goodput (the fraction of wall time that ends up as kept training progress).

Sources: Kokolis et al. 2024 (failure rates), Young 1974 and Daly 2006 (checkpoint intervals);
docs/sources.md cites them in full. The failure model is Daly's (2006): failures of a
job form a Poisson process with mean time to failure M; the job alternates tau seconds of work with
a delta-second checkpoint write; a failure throws away everything since the last completed
checkpoint (work and any partial write) and costs a restart of R seconds, which a further failure
may itself interrupt. Cost never grows with the number of GPUs: a job's rate is GPUs x a per-GPU
rate, and a run is walked failure by failure (or, past `MAX_EXPECTED_FAILURES`, by expected value).

What a failure and a checkpoint cost scales with the job (`recovery`, at the end): the checkpoint is the
model state (`CHECKPOINT_BYTES_PER_PARAM`) over the storage bandwidth of the job's GPUs, or, written
asynchronously or to peers' memory, only the copy to host memory blocks training; the restart grows with
the GPU count and loads the checkpoint back; a failure takes down its node or NVLink domain (the blast
radius), which a hot spare replaces within the restart or the job waits for its repair. Sources: Llama 3
(Dubey et al. 2024: storage bandwidth, H100 interruptions), MegaScale (Jiang et al. 2024: initialization
at scale), Kokolis et al. 2024 (restart times), Gemini (Wang et al. 2023: in-memory checkpoints), Check-N-Run
(Eisenman et al. 2022) and ByteCheckpoint (Wan et al. 2024) for asynchronous checkpoints.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal, NamedTuple, Protocol

import numpy as np

from sim.physics.units import SECONDS_PER_DAY, SECONDS_PER_HOUR  # sim time is in days; the physics here is in seconds

GPUS_PER_NODE = 8

# Kokolis et al. 2024, "Revisiting Reliability in Large-Scale Machine Learning Research Clusters",
# arXiv 2410.21680 (A100 clusters, 8 GPUs per node).
RSC1_FAILURES_PER_1000_NODE_DAYS = 6.50  # RSC-1, 16k A100
RSC2_FAILURES_PER_1000_NODE_DAYS = 2.34  # RSC-2, 8k A100

# Above this many expected failures in one run, `simulate_failures` uses the expected value
# instead of walking each failure, so one run costs at most ~1e4 array elements: past that the count
# varies by under 1% (Poisson, sd sqrt(n)), so the sampled walk and the expected value agree.
MAX_EXPECTED_FAILURES = 10_000.0


class FailureOutcome(NamedTuple):
    """A run's wall time split: useful work kept, failures seen, and time lost to them.

    useful_s + lost_s + checkpoint writes = the run's duration. lost_s holds rolled-back work,
    interrupted checkpoint writes and restart time.
    """

    useful_s: float
    interruptions: int
    lost_s: float


# ---------------------------------------------------------------- failure rates and job MTTF


def per_gpu_day(failures_per_1000_node_days: float, gpus_per_node: int = GPUS_PER_NODE) -> float:
    """Failures per GPU-day from failures per 1,000 node-days (Kokolis et al. 2024 report per node)."""
    return failures_per_1000_node_days / 1000.0 / gpus_per_node


RSC1_PER_GPU_DAY = per_gpu_day(RSC1_FAILURES_PER_1000_NODE_DAYS)  # 8.125e-4
RSC2_PER_GPU_DAY = per_gpu_day(RSC2_FAILURES_PER_1000_NODE_DAYS)  # 2.925e-4


def failure_rate_per_gpu_day(quantile: float = 0.5) -> float:
    """Per-GPU failure rate at a quantile of a log-uniform spread from RSC-2 (q=0) to RSC-1 (q=1).

    Kokolis et al. 2024: 2.34 and 6.50 failures per 1,000 node-days; the two clusters differ ~3x,
    so the model takes a distribution spanning them, not a point. Log-uniform because two
    observations give a range and no tail: the median is their geometric mean, sqrt(2.34 x 6.50)
    = 3.90 per 1,000 node-days (4.875e-4 per GPU-day). A scenario wanting tails can draw a lognormal with p10/p90 at the two
    rates instead and pass the rate straight to `job_mttf_s`.
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must lie in [0, 1], got {quantile}")
    lo, hi = math.log(RSC2_PER_GPU_DAY), math.log(RSC1_PER_GPU_DAY)
    return math.exp(lo + quantile * (hi - lo))


def job_mttf_s(gpus: float, rate_per_gpu_day: float) -> float:
    """Mean time to failure of a job on `gpus` GPUs: 1 / (GPUs x rate), in seconds.

    Independent failures add their rates (Kokolis et al. 2024 project job MTTF this way: at the
    RSC-1 rate, 1.8 h at 16,384 GPUs and 0.23 h at 131,072). No GPUs or a zero rate: infinite.
    """
    if gpus < 0 or rate_per_gpu_day < 0:
        raise ValueError("gpus and rate_per_gpu_day must be non-negative")
    if gpus == 0 or rate_per_gpu_day == 0:
        return math.inf
    return SECONDS_PER_DAY / (gpus * rate_per_gpu_day)


def rate_per_gpu_day_from_mttf(gpus: float, mttf_s: float) -> float:
    """The per-GPU rate a job MTTF implies, 1 / (GPUs x MTTF): the inverse of `job_mttf_s`."""
    return SECONDS_PER_DAY / (gpus * mttf_s)


# ---------------------------------------------------------------- checkpoint interval


def young_interval_s(checkpoint_s: float, mttf_s: float) -> float:
    """Young's first-order optimum work time between checkpoints, sqrt(2 delta M) (Young 1974, CACM 17(9))."""
    return math.sqrt(2.0 * checkpoint_s * mttf_s)


def daly_interval_s(checkpoint_s: float, mttf_s: float) -> float:
    """Daly's higher-order optimum work time between checkpoints (Daly 2006, FGCS 22(3), eq. 37).

    tau = sqrt(2 delta M) [1 + (1/3) sqrt(delta/(2M)) + (delta/(2M))/9] - delta for delta < 2M,
    else tau = M. The restart time does not move the optimum in Daly's model. Worked cases
    (delta = 5 min): M = 24 h -> 117 min, 6 h -> 57 min, 15 min -> 9.1 min.
    """
    if checkpoint_s >= 2.0 * mttf_s:
        return mttf_s
    x = checkpoint_s / (2.0 * mttf_s)
    return math.sqrt(2.0 * checkpoint_s * mttf_s) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - checkpoint_s


# ---------------------------------------------------------------- goodput


def _log_expm1(x: float) -> float:
    """log(e^x - 1) without overflow for large x."""
    return math.log(math.expm1(x)) if x < 30.0 else x + math.log1p(-math.exp(-x))


def goodput_at_interval(interval_s: float, checkpoint_s: float, restart_s: float, mttf_s: float) -> float:
    """Expected fraction of wall time kept as training progress, tau / (M e^{R/M} (e^{(tau+delta)/M} - 1)).

    Daly 2006 (FGCS 22(3)), complete model: expected wall time to finish T_s of work is
    T_w = M e^{R/M} (e^{(tau+delta)/M} - 1) T_s / tau, with Poisson failures (MTTF M) that can
    strike during work, checkpoint writes and restarts alike; goodput = T_s / T_w. It is exact
    for that model (renewal-reward over checkpoint segments) and to first order equals the
    first-order rule, tau/(tau+delta) x (1 - (R + (tau+delta)/2)/M): see `first_order_goodput`.
    """
    if interval_s < 0 or checkpoint_s < 0 or restart_s < 0 or mttf_s <= 0:
        raise ValueError("interval_s, checkpoint_s and restart_s must be >= 0 and mttf_s > 0")
    if math.isinf(mttf_s):  # no failures: only the writes cost anything
        if math.isinf(interval_s):
            return 1.0
        return interval_s / (interval_s + checkpoint_s) if interval_s + checkpoint_s > 0 else 1.0
    if interval_s == 0:
        # continuous free checkpoints lose no work, only restarts: the tau -> 0 limit
        return math.exp(-restart_s / mttf_s) if checkpoint_s == 0 else 0.0
    if math.isinf(interval_s):
        return 0.0
    log_g = (math.log(interval_s) - math.log(mttf_s) - restart_s / mttf_s
             - _log_expm1((interval_s + checkpoint_s) / mttf_s))
    return min(1.0, math.exp(log_g))


def first_order_goodput(interval_s: float, checkpoint_s: float, restart_s: float, mttf_s: float) -> float:
    """First-order goodput, tau/(tau+delta) x (1 - (R + (tau+delta)/2)/M), clipped to [0, 1].

    First order (Young 1974; Daly 2006): expected waste per failure ~ restart time + about half
    the checkpoint interval of lost work. Close to `goodput_at_interval` while R and tau+delta are
    small next to M; it overstates goodput as they grow (it ignores failures during restarts and re-work).
    """
    cycle = interval_s + checkpoint_s
    if cycle == 0:
        return 1.0 - restart_s / mttf_s if restart_s < mttf_s else 0.0
    g = interval_s / cycle * (1.0 - (restart_s + cycle / 2.0) / mttf_s)
    return min(1.0, max(0.0, g))


def goodput(gpus: float, rate_per_gpu_day: float, checkpoint_s: float, restart_s: float) -> float:
    """Goodput of a job checkpointing at Daly's interval: `goodput_at_interval` at `daly_interval_s`."""
    mttf = job_mttf_s(gpus, rate_per_gpu_day)
    return goodput_at_interval(daly_interval_s(checkpoint_s, mttf), checkpoint_s, restart_s, mttf)


# ---------------------------------------------------------------- interruptions as events


def sample_interruptions(rng: np.random.Generator, duration_s: float, mttf_s: float,
                         max_expected: float = MAX_EXPECTED_FAILURES) -> list[float]:
    """Failure times in [0, duration) of a Poisson process with mean gap `mttf_s`, ascending.

    Exponential gaps drawn in blocks of about the expected count: cost O(failures), never
    O(GPUs). Refuses runs expecting more than `max_expected` failures (`simulate_failures`
    falls back to the expected value there).
    """
    return interruption_times(rng, duration_s, mttf_s, max_expected).tolist()


def interruption_times(rng: np.random.Generator, duration_s: float, mttf_s: float,
                       max_expected: float = MAX_EXPECTED_FAILURES) -> np.ndarray:
    """`sample_interruptions` as an ascending numpy array (the same draws, no list in between)."""
    if duration_s <= 0 or math.isinf(mttf_s):
        return np.empty(0)
    expected = duration_s / mttf_s
    if expected > max_expected:
        raise ValueError(f"{expected:.3g} expected failures exceed {max_expected:.3g}; use simulate_failures")
    block = int(expected + 4.0 * math.sqrt(expected) + 8)
    parts: list[np.ndarray] = []
    t = 0.0
    while True:
        arrivals = t + np.cumsum(rng.exponential(mttf_s, size=block))
        inside = arrivals[arrivals < duration_s]
        parts.append(inside)
        if len(inside) < block:
            return np.concatenate(parts)
        t = float(arrivals[-1])


def run_with_failures(duration_s: float, failure_times: Iterable[float], checkpoint_interval_s: float,
                      checkpoint_s: float, restart_s: float) -> FailureOutcome:
    """Walk a run through given failure times; each loses the work since the last checkpoint plus a restart.

    The run alternates `checkpoint_interval_s` of work (Daly's tau) with a `checkpoint_s` write
    from t = 0. A failure discards the partial cycle (work and any partial write) and starts a
    restart of `restart_s`; a failure during a restart starts it over (Daly 2006's model, so the
    long-run useful fraction is `goodput_at_interval`). At the end of the run, uncheckpointed
    work in hand counts as useful (the final state is saved after the window). Times at or past
    the duration are ignored. Cost O(failures).
    """
    if checkpoint_interval_s <= 0 or checkpoint_s < 0 or restart_s < 0:
        raise ValueError("checkpoint_interval_s must be > 0; checkpoint_s and restart_s >= 0")
    f = np.asarray(failure_times if isinstance(failure_times, np.ndarray) else list(failure_times), dtype=float)
    if f.size > 1 and not bool(np.all(f[1:] >= f[:-1])):  # sampled times come sorted already
        f = np.sort(f)
    f = f[(f >= 0) & (f < duration_s)]
    cycle = checkpoint_interval_s + checkpoint_s
    # wall time between consecutive events (t = 0, each failure, the end) and whether a restart opens it
    starts = np.concatenate(([0.0], f))
    ends = np.concatenate((f, [duration_s]))
    restarting = np.arange(len(starts)) > 0  # every span after a failure begins with a restart
    gap = ends - starts
    in_restart = restarting & (gap < restart_s)  # the next failure (or the end) comes mid-restart
    lost = float(gap[in_restart].sum())
    working = ~in_restart
    spans = gap[working] - np.where(restarting[working], restart_s, 0.0)
    lost += restart_s * float(np.count_nonzero(restarting & working))
    cycles = np.zeros_like(spans) if math.isinf(cycle) else np.floor(spans / cycle)
    useful = float((cycles * checkpoint_interval_s).sum())
    rest = spans - (cycles * cycle if not math.isinf(cycle) else 0.0)
    if working[-1]:  # the last span ends with the run: its work in hand counts
        useful += min(float(rest[-1]), checkpoint_interval_s)
        rest = rest[:-1]
    lost += float(rest.sum())  # each failure throws away its partial cycle
    return FailureOutcome(useful, int(len(f)), lost)


def expected_outcome(duration_s: float, mttf_s: float, checkpoint_interval_s: float,
                     checkpoint_s: float, restart_s: float) -> FailureOutcome:
    """Expected-value split of a run: useful = duration x `goodput_at_interval`, D/M failures.

    Writes take delta per tau of useful work; the rest is lost. Failure count rounded to whole.
    """
    if math.isinf(mttf_s):
        return run_with_failures(duration_s, [], checkpoint_interval_s, checkpoint_s, restart_s)
    g = goodput_at_interval(checkpoint_interval_s, checkpoint_s, restart_s, mttf_s)
    useful = duration_s * g
    writes = useful * checkpoint_s / checkpoint_interval_s if checkpoint_interval_s else 0.0
    return FailureOutcome(useful, round(duration_s / mttf_s), max(0.0, duration_s - useful - writes))


def simulate_failures(rng: np.random.Generator, duration_s: float, mttf_s: float, checkpoint_interval_s: float,
                      checkpoint_s: float, restart_s: float,
                      max_expected: float = MAX_EXPECTED_FAILURES) -> FailureOutcome:
    """One random run: sample failures and walk them, or, past `max_expected` expected failures,
    return `expected_outcome` (the sampled walk converges on it there anyway, and cost stays bounded)."""
    if not math.isinf(mttf_s) and duration_s / mttf_s > max_expected:
        return expected_outcome(duration_s, mttf_s, checkpoint_interval_s, checkpoint_s, restart_s)
    times = interruption_times(rng, duration_s, mttf_s, max_expected)
    return run_with_failures(duration_s, times, checkpoint_interval_s, checkpoint_s, restart_s)



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
