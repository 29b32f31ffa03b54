"""Unit and property tests for sim/physics/reliability.py: rates, intervals, goodput, and the failure walk;
checkpoint bytes, restarts, blast radius and hot spares that scale with the job (`recovery`), their keys'
validation, and the `reliability` label of a run.

Tolerances: closed-form identities to 1e-9 relative; Monte Carlo averages (20 seeds x ~1,000
failures each) to 2% of the analytic goodput (observed within 0.6%) and 3% of the expected
failure count (observed 0.5%).
"""
from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.config.errors import ScenarioError
from sim.config.job import JobTraining, load_job
from sim.config.schema import TrainingPhysics
from sim.physics.recovery import (
    CHECKPOINT_BYTES_PER_PARAM,
    HOST_COPY_BYTES_S_PER_GPU,
    LLAMA3_PER_GPU_DAY,
    RESTART_BASE_S,
    RESTART_S_PER_DOUBLING,
    STORAGE_BYTES_S_PER_GPU,
    blast_radius_gpus,
    checkpoint_bytes,
    hot_spare_gpus,
    recovery,
    recovery_goodput,
    restart_time_s,
    simulate_recovery,
    transfer_s,
)
from sim.physics.reliability import (
    MAX_EXPECTED_FAILURES,
    RSC1_PER_GPU_DAY,
    RSC2_PER_GPU_DAY,
    FailureOutcome,
    daly_interval_s,
    expected_outcome,
    failure_rate_per_gpu_day,
    first_order_goodput,
    goodput,
    goodput_at_interval,
    job_mttf_s,
    run_with_failures,
    sample_interruptions,
    simulate_failures,
    young_interval_s,
)
from sim.physics.units import SECONDS_PER_HOUR

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HOUR = SECONDS_PER_HOUR

gpus_st = st.integers(min_value=1, max_value=2_000_000)
quantile_st = st.floats(min_value=0.0, max_value=1.0)
checkpoint_st = st.floats(min_value=1.0, max_value=1800.0)
restart_st = st.floats(min_value=0.0, max_value=3600.0)


def checkpoint_time(duration, interval, checkpoint):
    """Write time of a failure-free run: whole cycles' writes plus any partial final write."""
    cycles = math.floor(duration / (interval + checkpoint))
    rest = duration - cycles * (interval + checkpoint)
    return cycles * checkpoint + max(0.0, rest - interval)


# ---------------------------------------------------------------- unit


def test_rate_quantiles_are_monotone_and_bounded():
    rates = [failure_rate_per_gpu_day(q) for q in np.linspace(0, 1, 11)]
    assert rates == sorted(rates)
    assert rates[0] == pytest.approx(RSC2_PER_GPU_DAY) and rates[-1] == pytest.approx(RSC1_PER_GPU_DAY)
    with pytest.raises(ValueError):
        failure_rate_per_gpu_day(1.5)


def test_job_mttf():
    assert job_mttf_s(1000, 1e-3) == pytest.approx(86_400.0)
    assert job_mttf_s(0, 1e-3) == math.inf and job_mttf_s(10, 0.0) == math.inf


def test_daly_falls_back_to_mttf_when_writes_are_long():
    assert daly_interval_s(7200.0, 3600.0) == 3600.0
    assert daly_interval_s(60.0, 36_000.0) < young_interval_s(60.0, 36_000.0)


def test_goodput_limits():
    assert goodput_at_interval(900.0, 100.0, 600.0, math.inf) == pytest.approx(0.9)
    assert goodput(0, RSC1_PER_GPU_DAY, 60.0, 600.0) == 1.0
    assert goodput_at_interval(0.0, 0.0, 600.0, 6000.0) == pytest.approx(math.exp(-0.1))
    # first order agrees while R and tau + delta are small next to M
    assert first_order_goodput(300.0, 10.0, 60.0, 1e6) == pytest.approx(
        goodput_at_interval(300.0, 10.0, 60.0, 1e6), rel=1e-4)


def test_walk_by_hand():
    """tau 90, delta 10, R 5; failures at 95 (mid-write), 96 (mid-restart), 102 (1 s into work)."""
    out = run_with_failures(1000.0, [95.0, 96.0, 102.0], 90.0, 10.0, 5.0)
    # lost: 95 (partial cycle) + 1 (restart cut short) + 5 (restart) + 1 (work) + 5 (restart)
    # then 893 s: 8 cycles (720 work) and 93 s more, of which 90 s work kept
    assert out == FailureOutcome(useful_s=810.0, interruptions=3, lost_s=107.0)


def test_failures_outside_the_run_are_ignored():
    assert run_with_failures(100.0, [-1.0, 100.0, 150.0], 10.0, 1.0, 5.0).interruptions == 0


def test_expected_fallback_beyond_max_failures():
    rng = np.random.default_rng(0)
    mttf, duration = 1.0, 10 * MAX_EXPECTED_FAILURES
    out = simulate_failures(rng, duration, mttf, 0.5, 0.01, 0.1)
    assert out == expected_outcome(duration, mttf, 0.5, 0.01, 0.1)
    assert out.interruptions == round(duration / mttf)
    assert out.useful_s == pytest.approx(duration * goodput_at_interval(0.5, 0.01, 0.1, mttf))
    with pytest.raises(ValueError):
        sample_interruptions(rng, duration, mttf)


# ---------------------------------------------------------------- properties


@SETTINGS
@given(gpus_st, quantile_st, checkpoint_st, restart_st)
def test_goodput_in_unit_interval(gpus, q, checkpoint, restart):
    g = goodput(gpus, failure_rate_per_gpu_day(q), checkpoint, restart)
    assert 0.0 < g <= 1.0


@SETTINGS
@given(gpus_st, gpus_st, quantile_st, checkpoint_st, restart_st)
def test_goodput_falls_as_gpus_grow(a, b, q, checkpoint, restart):
    small, large = sorted((a, b))
    rate = failure_rate_per_gpu_day(q)
    assert goodput(large, rate, checkpoint, restart) <= goodput(small, rate, checkpoint, restart) * (1 + 1e-9)


@SETTINGS
@given(st.floats(min_value=1.0, max_value=1e7), st.floats(min_value=1.0, max_value=1e5),
       st.floats(min_value=0.0, max_value=1e4))
def test_no_failures_leaves_duration_minus_checkpoints(duration, interval, checkpoint):
    out = run_with_failures(duration, [], interval, checkpoint, 600.0)
    assert out.interruptions == 0 and out.lost_s == 0.0
    assert out.useful_s == pytest.approx(duration - checkpoint_time(duration, interval, checkpoint), rel=1e-9)


@SETTINGS
@given(st.integers(min_value=0, max_value=2**32), st.floats(min_value=60.0, max_value=1e5),
       st.floats(min_value=10.0, max_value=1e4), checkpoint_st, restart_st)
def test_walk_accounts_for_all_time_and_is_deterministic(seed, mttf, interval, checkpoint, restart):
    duration = 200 * mttf
    a = simulate_failures(np.random.default_rng(seed), duration, mttf, interval, checkpoint, restart)
    b = simulate_failures(np.random.default_rng(seed), duration, mttf, interval, checkpoint, restart)
    assert a == b
    assert a.useful_s >= 0 and a.lost_s >= 0
    assert a.useful_s + a.lost_s <= duration * (1 + 1e-9)
    # every write takes delta per tau of work, plus at most one partial write at the end
    writes = duration - a.useful_s - a.lost_s
    assert writes == pytest.approx(a.useful_s / interval * checkpoint, abs=checkpoint + 1e-6 * duration)


@pytest.mark.parametrize("checkpoint, restart", [(60.0, 300.0), (300.0, 600.0), (10.0, 1800.0)])
def test_simulated_useful_time_matches_analytic_goodput(checkpoint, restart):
    mttf = HOUR
    tau = daly_interval_s(checkpoint, mttf)
    duration = 1000 * mttf
    outs = [simulate_failures(np.random.default_rng(s), duration, mttf, tau, checkpoint, restart) for s in range(20)]
    simulated = np.mean([o.useful_s for o in outs]) / duration
    assert simulated == pytest.approx(goodput_at_interval(tau, checkpoint, restart, mttf), rel=0.02)
    assert np.mean([o.interruptions for o in outs]) == pytest.approx(duration / mttf, rel=0.03)


def test_sampled_failures_are_sorted_and_inside_the_run():
    times = sample_interruptions(np.random.default_rng(7), 1e6, 200.0)
    assert times == sorted(times) and 0 <= times[0] and times[-1] < 1e6
    assert len(times) == pytest.approx(1e6 / 200.0, rel=0.05)
    assert sample_interruptions(np.random.default_rng(7), 1e6, math.inf) == []


# ---------------------------------------------------------------- costs that scale with the job (issue 13, item 6)

PEER_BYTES_S = 4e11 / 8  # 400 Gb/s per GPU (Llama 3's RoCE fabric)


def settings(**kw) -> SimpleNamespace:
    """The scenario's reliability keys at their defaults (sim.config.schema TrainingPhysics), overridden."""
    base = dict(checkpoint="async", checkpoint_write_s=None, storage_bytes_s_per_gpu=STORAGE_BYTES_S_PER_GPU,
                restart_s=RESTART_BASE_S, restart_s_per_doubling=RESTART_S_PER_DOUBLING, failure_rate_quantile=0.5,
                failure_blast="nvlink_domain", hot_spares=True, repair_hours=24.0)
    base.update(kw)
    return SimpleNamespace(**base)


def test_defaults_match_the_schema():
    want = vars(settings())
    for model in (TrainingPhysics, JobTraining):
        got = {k: f.default for k, f in model.model_fields.items() if k in want}
        assert got == want, model.__name__


def test_llama3_interruptions_match_the_central_rate():
    """Llama 3: 419 interruptions / (54 days x 16,384 H100) = 4.74e-4 per GPU-day, 3% under Kokolis's median."""
    assert LLAMA3_PER_GPU_DAY == pytest.approx(4.7359e-4, rel=1e-4)
    assert failure_rate_per_gpu_day(0.5) == pytest.approx(4.875e-4)
    assert LLAMA3_PER_GPU_DAY / failure_rate_per_gpu_day(0.5) == pytest.approx(0.971, abs=0.001)


def test_checkpoint_bytes_and_write_time_worked():
    """Llama 3 405B: 14 B/param = 5.67 TB; over 16,384 GPUs at 2 TB/s in all: 2.835 s; the host copy 6.9 ms."""
    state = checkpoint_bytes(4.05e11)
    assert CHECKPOINT_BYTES_PER_PARAM == 14.0 and state == pytest.approx(5.67e12)
    assert transfer_s(state, 16_384, STORAGE_BYTES_S_PER_GPU) == pytest.approx(2.835)
    assert transfer_s(state, 16_384, HOST_COPY_BYTES_S_PER_GPU) == pytest.approx(5.67e12 / 16_384 / 5e10)
    # 670 TB of state on a million GPUs at the same bandwidth per GPU: 5.5 s, not a fixed time
    assert transfer_s(6.7e14, 1e6, STORAGE_BYTES_S_PER_GPU) == pytest.approx(5.49, abs=0.01)
    with pytest.raises(ValueError):
        transfer_s(1.0, 0, 1.0)


def test_restart_time_worked():
    assert restart_time_s(12_288, 0.0) == pytest.approx(30.0)  # MegaScale: <30 s of init at 12,288 GPUs
    assert restart_time_s(1, 600.0, 2.2) == 600.0
    # 600 s + 2.2 s x 20 doublings + 3 s load + a day's repair
    assert restart_time_s(2**20, 600.0, 2.2, load_s=3.0, wait_s=86_400.0) == pytest.approx(600 + 44 + 3 + 86_400)
    with pytest.raises(ValueError):
        restart_time_s(10, -1.0)


def test_blast_radius_and_hot_spares_worked():
    assert blast_radius_gpus("node", 72) == 8 and blast_radius_gpus("nvlink_domain", 72) == 72
    assert blast_radius_gpus("node", 4) == 4 and blast_radius_gpus("nvlink_domain", 8) == 8
    with pytest.raises(ValueError):
        blast_radius_gpus("rack", 72)
    # 16,384 GPUs x 4.875e-4 a day x 1 day = 7.99 nodes in repair: 8 spare nodes = 64 GPUs
    assert hot_spare_gpus(16_384, 4.875e-4, 8, 86_400.0) == 64
    # an NVL72 job of 100k GPUs: 48.75 domains in repair -> 49 x 72
    assert hot_spare_gpus(100_000, 4.875e-4, 72, 86_400.0) == 49 * 72
    assert hot_spare_gpus(100, 1e-4, 72, 86_400.0) == 72  # at least one unit
    assert hot_spare_gpus(10, 0.0, 8, 86_400.0) == 0.0


def test_recovery_modes():
    g, n = 16_384, 4.05e11
    state = checkpoint_bytes(n)
    storage = transfer_s(state, g, STORAGE_BYTES_S_PER_GPU)
    host = transfer_s(state, g, HOST_COPY_BYTES_S_PER_GPU)
    peer = transfer_s(state, g, PEER_BYTES_S)
    base = restart_time_s(g)
    sync = recovery(g, n, settings(checkpoint="sync"), 8, PEER_BYTES_S)
    assert sync.checkpoint_s == pytest.approx(storage) and sync.write_s == 0.0
    assert sync.restart_s == pytest.approx(base + storage)
    asyn = recovery(g, n, settings(checkpoint="async"), 8, PEER_BYTES_S)
    assert asyn.checkpoint_s == pytest.approx(host) and asyn.write_s == pytest.approx(storage)
    assert asyn.restart_s == pytest.approx(base + 2 * storage)  # the load, and the write not yet durable
    assert asyn.interval_s >= storage
    mem = recovery(g, n, settings(checkpoint="in_memory"), 8, PEER_BYTES_S)
    assert mem.restart_s == pytest.approx(base + 2 * peer) and mem.restart_s < asyn.restart_s
    fixed = recovery(g, n, settings(checkpoint_write_s=10.0), 8, PEER_BYTES_S)
    assert fixed.checkpoint_s == 10.0
    # without hot spares each restart waits a repair; with them the job holds 64 idle GPUs
    assert asyn.spare_share == pytest.approx(64 / (g + 64))
    none = recovery(g, n, settings(hot_spares=False), 8, PEER_BYTES_S)
    assert none.spare_share == 0.0 and none.restart_s == pytest.approx(asyn.restart_s + 86_400.0)
    assert recovery_goodput(none) < recovery_goodput(asyn)
    # the NVLink domain's blast radius holds more spares than a node's
    nvl = recovery(100_000, n, settings(), 72, PEER_BYTES_S)
    node = recovery(100_000, n, settings(failure_blast="node"), 72, PEER_BYTES_S)
    assert nvl.spare_share > node.spare_share and recovery_goodput(nvl) < recovery_goodput(node)
    # a per-product factor scales the rate
    assert recovery(g, n, settings(), 8, PEER_BYTES_S, rate_factor=2.0).mttf_s == pytest.approx(asyn.mttf_s / 2)


def test_llama3_goodput_near_the_papers_90_percent():
    """Llama 3 405B on 16,384 H100 (H100's rate: Llama 3's own): >90% effective training time (Llama 3 §3.3.4).
    The paper gives a floor only; with the default 150 s restart (hot spares) the model keeps ~0.98, with
    research-cluster restarts of 10 minutes (Kokolis et al. 2024) ~0.94: both above it, neither at 1."""
    rate = LLAMA3_PER_GPU_DAY / failure_rate_per_gpu_day(0.5)
    rec = recovery(16_384, 4.05e11, settings(), 8, PEER_BYTES_S, rate_factor=rate, min_interval_s=7.0)
    assert 0.90 <= recovery_goodput(rec) <= 0.99
    slow = recovery(16_384, 4.05e11, settings(restart_s=600.0), 8, PEER_BYTES_S, rate_factor=rate, min_interval_s=7.0)
    assert 0.90 <= recovery_goodput(slow) < recovery_goodput(rec)


def test_simulated_recovery_matches_expected_and_is_deterministic():
    rec = recovery(100_000, 5e12, settings(restart_s=120.0), 72, PEER_BYTES_S, min_interval_s=10.0)
    duration = 2000 * rec.mttf_s
    runs = [simulate_recovery(np.random.default_rng(s), duration, rec) for s in range(5)]
    assert np.mean([g for _, g in runs]) == pytest.approx(recovery_goodput(rec), rel=0.02)
    assert simulate_recovery(np.random.default_rng(1), duration, rec) == runs[1]


@SETTINGS
@given(gpus_st, gpus_st, st.floats(min_value=0.0, max_value=3600.0), st.floats(min_value=0.0, max_value=60.0),
       st.floats(min_value=0.0, max_value=1e4))
def test_restart_never_decreases_with_gpus(a, b, base, per_doubling, load):
    small, large = sorted((a, b))
    assert restart_time_s(large, base, per_doubling, load) >= restart_time_s(small, base, per_doubling, load)


@SETTINGS
@given(gpus_st, gpus_st, st.floats(min_value=1e3, max_value=1e6), st.sampled_from(["sync", "async", "in_memory"]),
       st.booleans())
def test_restart_of_a_job_never_decreases_with_gpus_at_fixed_state_per_gpu(a, b, params_per_gpu, mode, spares):
    """The restart grows with the job when each GPU holds the same share of state (the model grows with it)."""
    small, large = sorted((a, b))
    s = settings(checkpoint=mode, hot_spares=spares)
    r_small = recovery(small, small * params_per_gpu, s, 72, PEER_BYTES_S)
    r_large = recovery(large, large * params_per_gpu, s, 72, PEER_BYTES_S)
    assert r_large.restart_s >= r_small.restart_s * (1 - 1e-12)


@SETTINGS
@given(st.integers(min_value=8, max_value=2_000_000), st.floats(min_value=1e8, max_value=1e14),
       st.floats(min_value=1e8, max_value=1e14), st.sampled_from(["sync", "async", "in_memory"]),
       st.floats(min_value=1e6, max_value=1e10), quantile_st, st.booleans())
def test_goodput_falls_as_checkpoint_bytes_grow(gpus, p1, p2, mode, storage, q, spares):
    small, large = sorted((p1, p2))
    s = settings(checkpoint=mode, storage_bytes_s_per_gpu=storage, failure_rate_quantile=q, hot_spares=spares)
    g_small = recovery_goodput(recovery(gpus, small, s, 72, PEER_BYTES_S))
    g_large = recovery_goodput(recovery(gpus, large, s, 72, PEER_BYTES_S))
    assert 0.0 <= g_large <= g_small * (1 + 1e-9) <= 1.0 + 1e-9


# ---------------------------------------------------------------- the keys, refused when wrong

@pytest.mark.parametrize("assignment, key, problem", [
    ("training.checkpoint=nightly", "training.checkpoint", "should be 'sync', 'async' or 'in_memory' (got 'nightly')"),
    ("training.storage_bytes_s_per_gpu=0", "training.storage_bytes_s_per_gpu", "greater than 0"),
    ("training.restart_s=-5", "training.restart_s", "greater than or equal to 0 (got -5)"),
    ("training.restart_s_per_doubling=1e7", "training.restart_s_per_doubling", "less than or equal to"),
    ("training.failure_blast=rack", "training.failure_blast", "should be 'node' or 'nvlink_domain'"),
    ("training.hot_spares=maybe", "training.hot_spares", "valid boolean"),
    ("training.repair_hours=1e9", "training.repair_hours", "less than or equal to 10000"),
    ("training.checkpoint_write_s=.inf", "training.checkpoint_write_s", "finite number"),
    ("gpu_types.H100-SXM5.failure_rate_factor=0", "gpu_types.H100-SXM5.failure_rate_factor", "greater than 0"),
])
def test_bad_reliability_keys_are_refused_in_one_line(assignment, key, problem):
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(overrides=[assignment])
    err = info.value
    assert (err.file, err.key_path) == ("--set", key) and problem in err.problem and "\n" not in str(err)


@pytest.mark.parametrize("assignment, key, problem", [
    ("training.checkpoint=nightly", "training.checkpoint", "'sync', 'async' or 'in_memory'"),
    ("training.hot_spares=2", "training.hot_spares", "valid boolean"),
    ("training.storage_bytes_s_per_gpu=-1", "training.storage_bytes_s_per_gpu", "greater than 0"),
])
def test_bad_job_reliability_keys_are_refused(assignment, key, problem):
    llama = Path(__file__).resolve().parent.parent / "examples" / "jobs" / "llama3_405b.yaml"
    with pytest.raises(ScenarioError) as info:
        load_job(llama, [assignment])
    assert info.value.key_path == key and problem in info.value.problem


# ---------------------------------------------------------------- the `reliability` label of a run

def test_reliability_binds_where_failures_lose_more_than_the_parallel_plan():
    """A run is `reliability`-bound when 1 - goodput exceeds its plan's loss, 1 - compute / step time (which is
    at least the exposed-communication share): long restarts make the large 2026 runs so."""
    result = sim.run(sim.load_scenario(overrides=["training.restart_s=1800", "end_date=2026-12-31"]), seed=0)
    runs = result.runs
    rel = runs[runs["binding_constraint"] == "reliability"]
    assert len(rel) > 0
    assert (rel["goodput"] < 1 - rel["comm_fraction"]).all()
    # shorter restarts at the optimistic end: fewer runs lose most to failures
    fast = sim.run(sim.load_scenario(overrides=["training.restart_s=60", "training.failure_rate_quantile=0",
                                                "end_date=2026-12-31"]), seed=0).runs
    assert (fast["binding_constraint"] == "reliability").sum() < len(rel)
    assert fast["goodput"].mean() > runs["goodput"].mean()
