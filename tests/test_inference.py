"""Unit, validation and property tests of serving costs (sim.physics.inference).

Unit tests check each formula against a case worked by hand in the comments. Validation tests set the
model against published serving figures, each with its tolerance: the model is first-order (ideal
bandwidth, one kernel efficiency, no communication, no load variation), so a factor 3 is the bar.
H100/H800 figures used throughout: 80 GB HBM3 at 3.35 TB/s, ~1.98e15 dense FP8 FLOP/s (NVIDIA H100 SXM
datasheet; the H800 has the same memory and tensor cores).
"""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.physics.inference import (
    BATCH_TIME_PER_OUTPUT_TOKEN_S,
    GENERATION_SHARE_OF_RL_FLOP,
    INTERACTIVE_TIME_PER_OUTPUT_TOKEN_S,
    SERVING_PEAK_TO_MEAN,
    Decode,
    decode,
    generation_flop_per_token,
    kv_bytes_per_token,
    posttraining_gpu_seconds,
    prefill_s_per_token,
    serving_gpu_seconds,
    synthetic_flop_per_kept_token,
)

H100 = {"peak_flop_s": 1.98e15, "hbm_bytes_s": 3.35e12, "hbm_bytes": 80e9}
H100_BF16_FLOP_S = 0.99e15


# --- unit tests: hand-worked cases -------------------------------------------------------------------

def test_kv_bytes_per_token_hand_worked():
    # N = 1e12: L = 0.088 x (1e12)^0.27 = 0.088 x 1,737.8 = 152.93 layers;
    # d = sqrt(1e12 / (12 x 152.93)) = 23,344; K and V per layer: 2 x d / 8 (GQA) = 5,836 values;
    # x 152.93 layers x 1 byte (FP8) = 892,460 bytes; BF16 (2 bytes) doubles it.
    assert kv_bytes_per_token(1e12) == pytest.approx(892_460, rel=1e-4)
    assert kv_bytes_per_token(1e12, kv_bytes_per_value=2.0) == pytest.approx(2 * 892_460, rel=1e-4)
    assert kv_bytes_per_token(0.0) == 0.0


def test_kv_bytes_per_token_matches_llama2_70b():
    # Llama 2 70B (Touvron et al. 2023, arXiv 2307.09288): 80 layers, 8 KV heads of 128 dims, so
    # 2 x 80 x 8 x 128 = 163,840 values per token, 163,840 bytes in FP8. The shape fits give
    # L = 74.6, d = 8,844: 2 x 74.6 x 8,844 / 8 = 164,903 bytes. Tolerance 5%.
    assert kv_bytes_per_token(70e9) == pytest.approx(163_840, rel=0.05)


def test_decode_without_cache_is_compute_limited():
    # 1B params (FP8, 1 GB), no context: no cache to read or hold.
    # Replica: 1 GB <= 0.5 x 1 x 80 GB, and 1 GB / 1 TB/s = 1 ms <= 25 ms: one GPU.
    # Batch: compute 2e9 B / (1e15 x 0.5) <= 0.05 s -> B <= 12,500. Step = max(1 ms, 50 ms) = 50 ms.
    # tokens/s per GPU = 12,500 / 0.05 = 250,000; FLOP use = 2e9 x 250,000 / 1e15 = 0.5 (= efficiency).
    d = decode(1e9, 1e9, 0, 1e15, 1e12, 80e9)
    assert (d.gpus_per_replica, d.batch) == (1, 12_500)
    assert d.step_s == pytest.approx(0.05)
    assert d.tokens_s_per_gpu == pytest.approx(250_000)
    assert d.flop_utilization == pytest.approx(0.5)
    assert not d.memory_bound


def test_decode_hbm_limited_batch_compute_bound_step():
    # Llama-2-70B-like, dense, FP8 weights (70 GB) and cache, 1,000 tokens of context, on H100s, 50 ms.
    # Replica: 70 GB <= 0.5 x g x 80 GB -> g >= 1.75 -> 2; weights read 70e9 / (2 x 3.35e12) = 10.4 ms
    # <= 25 ms. Cache per sequence: 1,000 x 164,903 B = 164.9 MB.
    # Batch limits: HBM (160 - 70) GB / 164.9 MB = 545.8; memory time (0.05 x 6.7e12 - 70e9) / 164.9 MB
    # = 1,607; compute 0.05 x 2 x 1.98e15 x 0.5 / 1.4e11 = 707.1 -> B = 545 (HBM).
    # Step: memory (70e9 + 545 x 164.9e6) / 6.7e12 = 23.9 ms; compute 1.4e11 x 545 / 1.98e15 = 38.5 ms.
    # Compute-bound: tokens/s per GPU = 545 / 0.0385 / 2 = 7,071 = 0.99e15 / 1.4e11.
    d = decode(70e9, 70e9, 1_000, **H100)
    assert (d.gpus_per_replica, d.batch) == (2, 545)
    assert d.step_s == pytest.approx(1.4e11 * 545 / 1.98e15, rel=1e-9)
    assert d.tokens_s_per_gpu == pytest.approx(0.99e15 / 1.4e11, rel=1e-9)
    assert d.flop_utilization == pytest.approx(0.5)
    assert not d.memory_bound


def test_decode_memory_bound_moe_hand_worked():
    # DeepSeek-V3-like MoE: 37B active, 671B total (DeepSeek-AI 2024, arXiv 2412.19437), FP8 weights
    # (671 GB) and cache, 4,989 tokens of context, on H800s (as H100), 50 ms.
    # Replica: 671 GB <= 0.5 x g x 80 GB -> g >= 16.8 -> 32 (the latency rule needs only 8.01 -> 16).
    # Cache per token 110,002 B (L = 62.8, d = 7,007), per sequence 4,989 x 110,002 = 548.8 MB.
    # HBM left: 32 x 80 - 671 = 1,889 GB -> B = 3,442 (memory time allows 8,546, compute 21,405).
    # Step = (671e9 + 3,442 x 548.8e6) / (32 x 3.35e12) = 23.9 ms > compute 2 x 37e9 x 3,442 /
    # (32 x 0.99e15) = 8.0 ms: memory-bound. tokens/s per GPU = 3,442 / 0.0239 / 32 = 4,504.
    d = decode(37e9, 671e9, 4_989, **H100)
    assert (d.gpus_per_replica, d.batch) == (32, 3_442)
    assert d.memory_bound
    assert d.step_s == pytest.approx((671e9 + 3_442 * 4_989 * kv_bytes_per_token(37e9)) / (32 * 3.35e12))
    assert d.tokens_s_per_gpu == pytest.approx(4_504, rel=1e-3)
    assert d.flop_utilization == pytest.approx(2 * 37e9 * 4_504 / 1.98e15, rel=1e-3)  # 0.168


def test_replica_grows_for_latency_when_hbm_is_unlimited():
    # 1e12 params FP8 = 1 TB of weights, no HBM limit (inf), 1 TB/s per GPU, 50 ms target:
    # the weight read must take <= 25 ms: 1e12 / (g x 1e12) <= 0.025 -> g >= 40 -> 64.
    d = decode(1e12, 1e12, 1_000, 1e15, 1e12, math.inf)
    assert d.gpus_per_replica == 64
    assert math.isfinite(d.tokens_s_per_gpu) and d.batch >= 1
    assert d.step_s <= 0.05 * (1 + 1e-9)


def test_replica_is_capped_and_an_impossible_model_gets_batch_one():
    # 1e15 bytes of weights cannot fit 0.5 x 1,024 x 80 GB = 41 TB: g stops at the cap, B = 1.
    d = decode(1e13, 1e15, 1_000, **H100)
    assert d.gpus_per_replica == 1024
    assert d.batch == 1
    assert d.step_s > 0.05  # the weights alone take 1e15 / (1,024 x 3.35e12) = 0.29 s


def test_fixed_replica_overrides_the_choice():
    d = decode(70e9, 70e9, 1_000, **H100, gpus_per_replica=8)
    assert d.gpus_per_replica == 8
    # 8 GPUs: HBM (640 - 70) GB / 164.9 MB = 3,456 sequences, but compute allows 0.05 x 8 x 0.99e15 /
    # 1.4e11 = 2,828 -> B = 2,828, and tokens/s per GPU is still the compute roof 7,071.
    assert d.batch == 2_828
    assert d.tokens_s_per_gpu == pytest.approx(7_071, rel=1e-3)


def test_unmeetable_latency_gives_batch_one_over_target():
    # Context 0 but the weights alone overrun the target: 1 TB over one 1 TB/s GPU capped at 1 GPU.
    d = decode(1e12, 1e12, 0, 1e15, 1e12, math.inf, max_gpus_per_replica=1)
    assert d.batch == 1
    assert d.step_s == pytest.approx(1.0)  # 1e12 bytes / 1e12 bytes/s


@pytest.mark.parametrize("kwargs", [
    {"active_params": 0.0}, {"peak_flop_s": 0.0}, {"hbm_bytes_s": -1.0}, {"hbm_bytes": 0.0},
    {"time_per_output_token_s": 0.0}, {"kernel_efficiency": 1.5}, {"context_tokens": -1.0},
    {"hbm_bytes_s": math.inf}, {"time_per_output_token_s": math.inf},
])
def test_decode_rejects_degenerate_inputs(kwargs):
    args = {"active_params": 7e9, "total_params": 7e9, "context_tokens": 1_000, **H100}
    args.update(kwargs)
    with pytest.raises(ValueError):
        decode(**args)


def test_prefill_s_per_token_hand_worked():
    # 2 x 1e9 / (1e15 x 0.5) = 4e-6 GPU-seconds per prompt token (250,000 tokens/s per GPU).
    assert prefill_s_per_token(1e9, 1e15) == pytest.approx(4e-6)
    assert prefill_s_per_token(1e9, 1e15, kernel_efficiency=1.0) == pytest.approx(2e-6)


def test_serving_gpu_seconds_hand_worked():
    # 1e6 output tokens at 1,000 tokens/s per GPU = 1,000 GPU-s; 2e6 prompt tokens x 4e-6 = 8 GPU-s;
    # provisioned for a peak 1.5 x the mean: (1,000 + 8) x 1.5 = 1,512 GPU-s.
    dec = Decode(gpus_per_replica=8, batch=100, step_s=0.0125, tokens_s_per_gpu=1_000.0,
                 flop_utilization=0.002, memory_bound=True)
    assert serving_gpu_seconds(1e6, 2e6, dec, 1e9, 1e15) == pytest.approx(1_008)
    assert serving_gpu_seconds(1e6, 2e6, dec, 1e9, 1e15, peak_to_mean_load=1.5) == pytest.approx(1_512)
    assert serving_gpu_seconds(0, 0, dec, 1e9, 1e15) == 0.0


def test_generation_and_synthetic_flop_hand_worked():
    # 2 N per generated token: 2 x 7e10 = 1.4e11; keeping 1 token in 4 generated costs 4 x 1.4e11.
    assert generation_flop_per_token(7e10) == pytest.approx(1.4e11)
    assert synthetic_flop_per_kept_token(7e10, 4.0) == pytest.approx(5.6e11)
    with pytest.raises(ValueError):
        synthetic_flop_per_kept_token(7e10, -1.0)


def test_posttraining_gpu_seconds_hand_worked():
    # 1e24 FLOP, a quarter generation: 0.25e24 / (2 x 1e10) = 1.25e13 rollout tokens, at 250 tokens/s per
    # GPU = 5e10 GPU-s; training 0.75e24 / (1e15 x 0.4) = 1.875e9 GPU-s.
    rollout = Decode(gpus_per_replica=8, batch=100, step_s=0.05, tokens_s_per_gpu=250.0,
                     flop_utilization=0.005, memory_bound=True)
    r, t = posttraining_gpu_seconds(1e24, 0.25, rollout, 1e10, 1e15, 0.4)
    assert r == pytest.approx(5e10)
    assert t == pytest.approx(1.875e9)
    assert posttraining_gpu_seconds(1e24, 0.0, rollout, 1e10, 1e15, 0.4)[0] == 0.0
    with pytest.raises(ValueError):
        posttraining_gpu_seconds(1e24, 1.5, rollout, 1e10, 1e15, 0.4)


def test_constants():
    # 2 N generated + 6 N trained per rollout token: 2 / 8.
    assert GENERATION_SHARE_OF_RL_FLOP == pytest.approx(0.25)
    # DeepSeek's 278 peak nodes over 226.75 on average.
    assert SERVING_PEAK_TO_MEAN == pytest.approx(1.226, abs=1e-3)
    assert INTERACTIVE_TIME_PER_OUTPUT_TOKEN_S == 0.05 and BATCH_TIME_PER_OUTPUT_TOKEN_S == 0.2


# --- validation against published serving figures -----------------------------------------------------

def test_deepseek_v3_decode_throughput_per_node():
    """DeepSeek, "DeepSeek-V3/R1 Inference System Overview" (open-infra-index, 2025): each H800 node
    (8 GPUs) decodes ~14.8k output tokens/s on average, at 20-22 tokens/s per user, with an average KV
    length of 4,989 tokens per output token. Model (37B active, 671B total, FP8): 4,504 x 8 = 36.0k
    tokens/s per node, 2.4x the published figure. Tolerance: a factor 3.

    Why the model is high: it reads HBM at its full 3.35 TB/s (DeepSeek's FlashMLA kernel reaches
    3,000 GB/s) with no expert all-to-all (DeepSeek decodes over 18 nodes, EP144, with a five-stage
    pipeline to hide it) and perfect expert load balance; the published figure is a day's average, with
    nodes below full load off-peak. (The model's FP8 cache, 110 kB per token, is larger than DeepSeek's
    BF16 MLA cache of 70 kB, which errs the other way.)"""
    d = decode(37e9, 671e9, 4_989, **H100)
    published_per_node = 14_800
    ratio = d.tokens_s_per_gpu * 8 / published_per_node
    assert 1 / 3 <= ratio <= 3, ratio
    # The model's step meets DeepSeek's per-user speed (20-22 tokens/s, i.e. <= 50 ms).
    assert d.step_s <= 1 / 20


def test_deepseek_v3_prefill_is_an_upper_bound():
    """Same source: ~73.7k input tokens/s per H800 node in prefill, counting the 56.3% served from the
    on-disk prefix cache, so ~32.2k computed tokens/s per node. Model: 8 / prefill_s_per_token =
    8 x 0.99e15 / 7.4e10 = 107k per node, 3.3x the published rate. The model is compute at 50% of FP8
    peak with no attention FLOP: DeepSeek's prompts attend to ~5k cached tokens (adding ~1/3 to 2 N with
    MLA's 128 heads), attention runs in BF16, EP32 all-to-alls and load imbalance cost time, and the
    figure is a day's average. Tolerance: the model must be an upper bound within a factor 4."""
    model_per_node = 8 / prefill_s_per_token(37e9, 1.98e15)
    published_computed_per_node = 73_700 * (1 - 0.563)
    ratio = model_per_node / published_computed_per_node
    assert 1 <= ratio <= 4, ratio


def test_mlperf_llama2_70b_offline_h100():
    """MLPerf Inference v4.1, closed division, NVIDIA DGX-H100 (8 x H100-SXM-80GB, TensorRT-LLM, FP8):
    Llama 2 70B Offline 24,524.9 tokens/s, 84.48 samples/s (so ~290 output tokens per sample), i.e.
    3,066 tokens/s per GPU (mlcommons/inference_results_v4.1, mlperf_log_summary.txt). Offline has no
    latency bound; the Server scenario's 200 ms per output token is used.

    Decode alone: compute-bound at 0.99e15 / 1.4e11 = 7,071 tokens/s per GPU, 2.3x the published rate,
    which also pays for prefill on the same GPUs. With prefill (assumption: ~300 prompt tokens per
    sample, as many as the outputs; OpenOrca prompts are capped at 1,024 tokens) and an average context
    of 300 + 290 / 2 = 445 tokens: 3,476 tokens/s per GPU, 1.13x. Tolerances: a factor 3 for decode
    alone, a factor 1.5 with prefill."""
    published_per_gpu = 24_524.9 / 8
    d = decode(70e9, 70e9, 445, **H100, time_per_output_token_s=BATCH_TIME_PER_OUTPUT_TOKEN_S)
    assert 1 <= d.tokens_s_per_gpu / published_per_gpu <= 3
    output_tokens, input_tokens = 290.3, 300.0
    gpu_s = serving_gpu_seconds(output_tokens, input_tokens, d, 70e9, 1.98e15)
    ratio = output_tokens / gpu_s / published_per_gpu
    assert 1 / 1.5 <= ratio <= 1.5, ratio


def test_long_rollouts_take_most_of_rl_gpu_time():
    """OpenRLHF (Hu et al. 2024, arXiv 2405.11143) measures ~80% of RLHF time in generation, up to 90%
    with long chains of thought, though generation is only GENERATION_SHARE_OF_RL_FLOP = 25% of the
    FLOP. A 70B model on H100s with 16k-token rollouts decodes memory-bound at ~713 tokens/s per GPU
    (5% of FP8 peak), training at 40% MFU of BF16 peak: rollouts take 57% of the GPU-time. With short
    (445-token) rollouts, compute-bound at 7,071 tokens/s per GPU, they take only ~12%. Tolerance:
    long rollouts take the majority, short ones a minority."""
    def rollout_share(context_tokens: float) -> float:
        rollout = decode(70e9, 70e9, context_tokens, **H100, time_per_output_token_s=BATCH_TIME_PER_OUTPUT_TOKEN_S)
        r, t = posttraining_gpu_seconds(1e24, GENERATION_SHARE_OF_RL_FLOP, rollout, 70e9, H100_BF16_FLOP_S, 0.4)
        return r / (r + t)
    assert rollout_share(16_000) > 0.5
    assert rollout_share(445) < 0.25


# --- properties ----------------------------------------------------------------------------------------

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

serving = st.fixed_dictionaries({
    "active_params": st.floats(1e8, 2e12),
    "moe_factor": st.floats(1.0, 30.0),
    "context_tokens": st.one_of(st.just(0.0), st.floats(1.0, 2e5)),
    "peak_flop_s": st.floats(1e14, 1e16),
    "hbm_bytes_s": st.floats(1e11, 2e13),
    "hbm_bytes": st.sampled_from([16e9, 80e9, 192e9, 288e9, math.inf]),
    "time_per_output_token_s": st.floats(0.005, 1.0),
    "kernel_efficiency": st.floats(0.05, 1.0),
    "weight_share_of_hbm": st.floats(0.1, 1.0),
    "bytes_per_param": st.sampled_from([0.5, 1.0, 2.0]),
})


def _decode(w: dict, **override) -> Decode:
    w = {**w, **override}
    return decode(
        w["active_params"], w["active_params"] * w["moe_factor"], w["context_tokens"], w["peak_flop_s"],
        w["hbm_bytes_s"], w["hbm_bytes"], bytes_per_param=w["bytes_per_param"],
        time_per_output_token_s=w["time_per_output_token_s"], kernel_efficiency=w["kernel_efficiency"],
        weight_share_of_hbm=w["weight_share_of_hbm"], gpus_per_replica=w.get("gpus_per_replica"),
    )


@SETTINGS
@given(serving)
def test_throughput_never_implies_flop_above_peak(w):
    d = _decode(w)
    assert 0 < d.flop_utilization <= w["kernel_efficiency"] * (1 + 1e-9) <= 1 + 1e-9
    assert d.batch >= 1 and 1 <= d.gpus_per_replica <= 1024
    assert d.gpus_per_replica & (d.gpus_per_replica - 1) == 0  # a power of two


@SETTINGS
@given(serving, st.floats(1.0, 10.0))
def test_more_bandwidth_never_lowers_tokens_per_gpu_on_a_fixed_replica(w, factor):
    base = _decode(w)
    faster = _decode(w, hbm_bytes_s=w["hbm_bytes_s"] * factor, gpus_per_replica=base.gpus_per_replica)
    assert faster.tokens_s_per_gpu >= base.tokens_s_per_gpu * (1 - 1e-9)


@SETTINGS
@given(serving)
def test_a_batched_step_meets_the_latency_target_and_fits(w):
    d = _decode(w)
    if d.batch > 1:
        assert d.step_s <= w["time_per_output_token_s"] * (1 + 1e-9)
        if math.isfinite(w["hbm_bytes"]):
            weights = w["active_params"] * w["moe_factor"] * w["bytes_per_param"]
            cache = d.batch * w["context_tokens"] * kv_bytes_per_token(w["active_params"])
            assert weights + cache <= d.gpus_per_replica * w["hbm_bytes"] * (1 + 1e-9)
