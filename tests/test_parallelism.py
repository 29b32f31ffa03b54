"""Context and expert parallelism, mixture-of-experts models, overlap per collective, oversubscription
above pods, GPUs per site in proportion, FP4: worked cases for each formula (sim.physics.collectives,
sim.physics.step_time) and the issue's checks through `sim job`."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import sim
from sim.physics.collectives import alltoall_s, hierarchical_allreduce_s, reduce_scatter_s, spanning_bytes_s
from sim.physics.fabric import Fabric, Network
from sim.physics.hardware import peak_flop_s
from sim.physics.memory import model_state_bytes, moe_split
from sim.physics.step_time import KV_SHARE_OF_WIDTH, Overlap, best_plan

ROOT = Path(__file__).resolve().parent.parent
DEEPSEEK = ROOT / "examples" / "jobs" / "deepseek_v3.yaml"
LLAMA = ROOT / "examples" / "jobs" / "llama3_405b.yaml"


# ---------------------------------------------------------------- formulas, worked cases


def test_alltoall_worked_case():
    """(p-1) alpha + (p-1)/p n / beta: 8 ranks, 8 MB, 1 us, 100 GB/s -> 7 us + 70 us."""
    assert alltoall_s(8e6, 8, 1e-6, 1e11) == pytest.approx(7e-6 + 7e-5)
    assert alltoall_s(8e6, 1, 1e-6, 1e11) == 0.0


def test_traffic_beyond_a_pod_gets_the_oversubscribed_share():
    """Half the peers outside the pod at 1:7: time per byte (0.5 + 0.5 x 7) / bw, i.e. bw / 4."""
    assert spanning_bytes_s(1e11, 16384, 8192, 7) == pytest.approx(2.5e10)
    assert spanning_bytes_s(1e11, 8192, 8192, 7) == 1e11  # inside one pod: full bandwidth
    assert spanning_bytes_s(1e11, 16384, 8192, 1) == 1e11  # a 1:1 fabric


def test_hierarchical_allreduce_crosses_pods_with_only_its_last_shard():
    """1,024 ranks, 8 per NVLink domain, 256 per pod: 32 domains per pod, 4 pods. Only the 1/256 shard
    crosses pods, at 1/7 of the fabric bandwidth (recursive halving: 2 steps)."""
    n, alpha, bw = 1e10, 5e-6, 50e9
    flat = hierarchical_allreduce_s(n, 1024, 8, 450e9, bw, alpha, 0.0, math.inf, 1)
    podded = hierarchical_allreduce_s(n, 1024, 8, 450e9, bw, alpha, 0.0, math.inf, 1, ranks_per_pod=256,
                                      oversubscription=7.0)
    pod_rs = reduce_scatter_s(n / 256, 4, alpha, bw / 7, algorithm="halving")
    assert podded.pod_reduce_scatter_s == pytest.approx(2 * alpha + 3 / 4 * (n / 256) / (bw / 7))
    assert podded.pod_reduce_scatter_s == pytest.approx(pod_rs)
    assert podded.fabric_reduce_scatter_s == pytest.approx(reduce_scatter_s(n / 8, 32, alpha, bw, algorithm="halving"))
    assert podded.total_s == pytest.approx(2 * (podded.nvlink_reduce_scatter_s + podded.fabric_reduce_scatter_s
                                                + pod_rs))
    assert flat.pod_reduce_scatter_s == 0.0


def test_mixtral_splits_into_shared_and_expert_parameters():
    """Mixtral 8x7B (Jiang et al. 2024): 46.7B in all, 12.9B active, 8 experts, top 2."""
    shared, experts = moe_split(46.7e9, 12.9e9, 8, 2)
    assert experts / 8 == pytest.approx(33.8e9 / 6)
    assert shared == pytest.approx(12.9e9 - 2 * 33.8e9 / 6)
    assert moe_split(4.05e11, None) == (4.05e11, 0.0)  # dense
    with pytest.raises(ValueError):
        moe_split(1e12, 1e9, 4, 2)  # 1B active cannot hold 2 experts of 499.5B


def test_model_state_of_a_mixture_of_experts_plan():
    """DeepSeek-V3-like: 671B, experts sharded 64 ways, optimizer over DP x CP (ZeRO-1)."""
    shared, experts = moe_split(6.71e11, 3.7e10, 256, 8)
    got = model_state_bytes(6.71e11, 1, 16, 128, cp=1, ep=64, expert_params=experts)
    assert got == pytest.approx((shared + experts / 64) / 16 * 4 + 6.71e11 / (16 * 128) * 12)
    # dense, cp = ep = 1: the ZeRO-1 form of before
    assert model_state_bytes(4.05e11, 8, 16, 128) == pytest.approx(4.05e11 / 128 * 4 + 4.05e11 / (128 * 128) * 12)


def test_fp4_falls_back_to_fp8_then_bf16():
    h100 = SimpleNamespace(bf16_dense_flop_s=9.89e14, fp8_dense_flop_s=1.979e15, fp4_dense_flop_s=None)
    b200 = SimpleNamespace(bf16_dense_flop_s=2.25e15, fp8_dense_flop_s=4.5e15, fp4_dense_flop_s=9.0e15)
    a100 = SimpleNamespace(bf16_dense_flop_s=3.12e14, fp8_dense_flop_s=None, fp4_dense_flop_s=None)
    assert peak_flop_s(b200, "fp4") == 9.0e15 and peak_flop_s(h100, "fp4") == 1.979e15
    assert peak_flop_s(a100, "fp4") == 3.12e14
    with pytest.raises(ValueError):
        peak_flop_s(b200, "int2")


def test_gpus_split_over_sites_by_share():
    fabric = Fabric("f", 8, 9e11, 4e11, 3, 3072, 7, 1e-6)
    net = Network(fabric, 3, 1e-3, 1e14, (0.5, 0.3, 0.2))
    assert net.site_gpus(1000) == (500, 300, 200)
    assert sum(net.site_gpus(1001)) == 1001
    assert Network(fabric, 3, 1e-3, 1e14).site_gpus(9) == (3, 3, 3)
    assert min(Network(fabric, 2, 1e-3, 1e14, (0.999, 0.001)).site_gpus(10)) == 1


# ---------------------------------------------------------------- the plan search


H100 = dict(nvlink_domain=8, nvlink_bytes_s=450e9, fabric_bytes_s_per_gpu=50e9, hop_latency_s=1e-6,
            kernel_efficiency=0.5, hbm_bytes=80e9)


def test_oversubscription_lengthens_a_step_whose_data_parallel_traffic_crosses_pods():
    """Llama 3's plan on 16,384 H100 in pods of 3,072 (Llama 3 §3.3.1): the gradient all-reduce crosses
    pods, so 1:7 above the pods gives a longer step than 1:1; inside one pod it changes nothing."""
    fixed = dict(tp_choices=(8,), pp_choices=(16,), cp_choices=(1,))
    one = best_plan(4.05e11, 1.6e7, 16384, 9.89e14, pod_gpus=3072, oversubscription=1.0, **fixed, **H100)
    seven = best_plan(4.05e11, 1.6e7, 16384, 9.89e14, pod_gpus=3072, oversubscription=7.0, **fixed, **H100)
    assert seven.step_time_s > one.step_time_s
    assert seven.exposed_data_s > one.exposed_data_s
    small = [best_plan(4.05e11, 1.6e6, 2048, 9.89e14, pod_gpus=3072, oversubscription=o, **fixed, **H100)
             for o in (1.0, 7.0)]
    assert small[0] == small[1]


def test_long_sequences_are_split_by_context_parallelism():
    """131,072-token sequences (Llama 3's long-context stage ran CP 16, §3.3.2): 16M tokens are 122
    sequences, too few to feed 16,384 GPUs one sequence per replica; the best plan splits them."""
    step = best_plan(4.05e11, 1.6e7, 16384, 9.89e14, sequence_tokens=131072, **H100)
    assert step.cp > 1 and step.exposed_context_s > 0
    assert step.tp * step.cp * step.pp * step.dp == step.gpus_used
    no_cp = best_plan(4.05e11, 1.6e7, 16384, 9.89e14, sequence_tokens=131072, cp_choices=(1,), **H100)
    assert step.mfu > no_cp.mfu


def test_context_parallel_traffic_is_charged_per_layer():
    """A fixed plan with CP 2 on NVLink pays 2 x layers/pp all-gathers of the chunk's keys and values."""
    fixed = dict(tp_choices=(2,), pp_choices=(1,), cp_choices=(2,))
    step = best_plan(7e10, 1.6e7, 4, 9.89e14, sequence_tokens=8192, nvlink_domain=8, nvlink_bytes_s=450e9,
                     kernel_efficiency=0.5, **fixed)
    assert step.cp == 2 and step.exposed_context_s > 0
    assert KV_SHARE_OF_WIDTH == 1 / 8


def test_a_mixture_of_experts_model_computes_on_its_active_parameters():
    """The same total parameters, 1/10 active: a tenth of the compute per step, experts sharded by EP."""
    dense = best_plan(1e12, 1.6e7, 8192, 9.89e14, **H100)
    moe = best_plan(1e12, 1.6e7, 8192, 9.89e14, active_params=1e11, experts=64, top_k=2, **H100)
    assert moe.compute_s * moe.gpus_used == pytest.approx(dense.compute_s * dense.gpus_used / 10, rel=1e-9)
    assert moe.step_time_s < dense.step_time_s


def test_hiding_a_collective_never_slows_a_step():
    for overlap in (Overlap(tensor=1.0), Overlap(expert=1.0), Overlap(context=1.0)):
        base = best_plan(1e12, 1.6e7, 8192, 9.89e14, active_params=1e11, experts=64, sequence_tokens=32768, **H100)
        hidden = best_plan(1e12, 1.6e7, 8192, 9.89e14, active_params=1e11, experts=64, sequence_tokens=32768,
                           overlap=overlap, **H100)
        assert hidden.step_time_s <= base.step_time_s * (1 + 1e-12)
    exposed = best_plan(4.05e11, 1.6e7, 16384, 9.89e14, overlap=Overlap(data=0.0, pipeline=0.0), **H100)
    assert exposed.step_time_s >= best_plan(4.05e11, 1.6e7, 16384, 9.89e14, **H100).step_time_s


def test_sites_run_replicas_in_proportion_to_their_gpus():
    """6,000 + 2,000 GPUs: replicas follow the GPUs, so nearly all 8,000 train (an even split would
    leave the large site's extra GPUs idle only if the plan were sized to the small one)."""
    step = best_plan(7e10, 1.6e7, 8000, 9.89e14, site_gpus=(6000, 2000), wan_latency_s=1e-3, wan_bytes_s=1e12,
                     **H100)
    assert step.gpus_used >= 0.9 * 8000


# ---------------------------------------------------------------- through sim job


def test_sim_job_trains_a_mixture_of_experts_model_with_expert_parallelism(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sim", "job", str(DEEPSEEK), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads((tmp_path / "o" / "job.json").read_text())
    assert out["plan"]["ep"] > 1 and out["experts"] == 256
    assert out["flop"] == pytest.approx(6 * 3.7e10 * 1.48e13)  # 6 N_active D
    assert out["memory_per_gpu_bytes"] <= 0.75 * out["hbm_bytes"]
    assert out["breakdown"]["exposed_expert_s"] > 0
    assert "EP" in proc.stdout


def test_a_fixed_plan_with_context_parallelism_is_kept():
    out = sim.job(LLAMA, overrides=["plan.cp=2", "plan.pp=8"])
    assert (out["plan"]["tp"], out["plan"]["cp"], out["plan"]["pp"]) == (8, 2, 8)
    assert out["breakdown"]["exposed_context_s"] > 0


def test_fp4_runs_at_the_fp4_peak():
    bf16 = sim.job(LLAMA, overrides=["gpu_type=B200", "precision=bf16"])
    fp4 = sim.job(LLAMA, overrides=["gpu_type=B200", "precision=fp4"])
    assert fp4["peak_flop_s"] == 9.0e15 and bf16["peak_flop_s"] == 2.25e15
    assert fp4["days"] < bf16["days"]
