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
from typing import NamedTuple

import numpy as np

from sim.physics.units import SECONDS_PER_DAY  # sim time is in days; the physics here is in seconds

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
