"""What serving a model costs: token generation (decoding), prompt processing (prefill), the GPU-time a
volume of tokens takes, synthetic data and reinforcement-learning post-training.

Pure functions of numbers, with no simulation state. Decoding is bound by memory bandwidth: every step
reads all the weights and every sequence's keys and values to make one token per sequence (Pope et al.
2022, "Efficiently Scaling Transformer Inference", MLSys 2023, arXiv 2211.05102; K. Chen, "Transformer
Inference Arithmetic", 2022, https://kipp.ly/transformer-inference-arithmetic/). Prefill is bound by
compute (Patel et al., "Splitwise", ISCA 2024, arXiv 2311.18677). A token costs 2 N FLOP forward,
6 N trained (Kaplan et al. 2020, arXiv 2001.08361). Model shape (layers, width, grouped-query keys and
values) comes from sim.physics.step_time. Sources: docs/sources.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sim.physics.step_time import KV_SHARE_OF_WIDTH, hidden_size, layers

INTERACTIVE_TIME_PER_OUTPUT_TOKEN_S = 0.05
"""Per-token latency target of interactive serving, 50 ms (20 tokens/s per user). DeepSeek's service
ran at 20-22 output tokens/s per user (45-50 ms; DeepSeek, "DeepSeek-V3/R1 Inference System Overview",
2025); MLPerf Inference v5.0's Llama 2 70B Interactive benchmark caps time per output token at 40 ms
(MLCommons 2025)."""

BATCH_TIME_PER_OUTPUT_TOKEN_S = 0.2
"""Per-token latency bound for throughput-oriented generation (synthetic data, offline batches): the
200 ms time per output token of MLPerf Inference's Llama 2 70B Server scenario (v4.0-v4.1)."""

SERVING_PEAK_TO_MEAN = 278 / 226.75
"""Serving capacity at the peak hour over the day's mean, ~1.23: DeepSeek ran 278 nodes at peak and
226.75 on average over 24 hours, scaling inference down at night (DeepSeek, "DeepSeek-V3/R1 Inference
System Overview", 2025). One provider and one day: a published point, not a general law."""

GENERATION_SHARE_OF_RL_FLOP = 2.0 / (2.0 + 6.0)
"""Share of an RL post-training run's FLOP spent generating rollouts, 0.25: each rollout token is
generated once at 2 N FLOP and trained on once at 6 N (Kaplan et al. 2020), so 2 / (2 + 6). (Reference
and reward passes, 2 N each, are left out.) The share of wall time is far larger, because generation is
memory-bound: OpenRLHF reports that sample generation takes ~80% of RLHF training time (Hu et al. 2024,
arXiv 2405.11143), and up to 90% for long chains of thought (vLLM blog with OpenRLHF, 2025)."""


def kv_bytes_per_token(active_params: float, kv_bytes_per_value: float = 1.0) -> float:
    """Bytes of keys and values one token leaves in the cache: 2 (K and V) x layers x d x
    KV_SHARE_OF_WIDTH x bytes per value (Pope et al. 2022 §2; Kwon et al., "Efficient Memory Management
    for Large Language Model Serving with PagedAttention", SOSP 2023, arXiv 2309.06180, on the cache as
    the memory that limits the batch). Layers and width d from `layers` and `hidden_size` of the active
    parameters: for a mixture of experts the attention is sized like the active model (DeepSeek-V3's
    37B active give 63 layers and d ~7,000; it has 61 and 7,168). Default FP8 cache (1 byte). Llama 2
    70B (80 layers, 8 KV heads of 128) holds 2 x 80 x 1,024 = 164 kB per token in FP8; this gives 165 kB."""
    if active_params <= 0:
        return 0.0
    return 2.0 * layers(active_params) * hidden_size(active_params) * KV_SHARE_OF_WIDTH * kv_bytes_per_value


@dataclass(frozen=True)
class Decode:
    """A serving replica in steady decoding.

    gpus_per_replica GPUs hold one copy of the weights and decode `batch` sequences together; each step
    (step_s) gives every sequence one token. tokens_s_per_gpu = batch / step_s / gpus_per_replica;
    flop_utilization = 2 x active params x tokens_s_per_gpu / peak FLOP/s per GPU; memory_bound when
    reading weights and cache takes longer than the arithmetic.
    """

    gpus_per_replica: int
    batch: int
    step_s: float
    tokens_s_per_gpu: float
    flop_utilization: float
    memory_bound: bool


def _replica_gpus(weight_bytes: float, hbm_bytes: float, hbm_bytes_s: float, time_per_output_token_s: float,
                  weight_share_of_hbm: float, max_gpus: int) -> int:
    """The smallest power of two g (at most max_gpus) whose HBM holds the weights within
    weight_share_of_hbm and reads them in at most half the latency target."""
    g = 1
    while g < max_gpus:
        fits = weight_bytes <= weight_share_of_hbm * g * hbm_bytes
        fast = weight_bytes / (g * hbm_bytes_s) <= time_per_output_token_s / 2.0
        if fits and fast:
            break
        g = min(2 * g, max_gpus)
    return g


def decode(
    active_params: float,
    total_params: float,
    context_tokens: float,
    peak_flop_s: float,
    hbm_bytes_s: float,
    hbm_bytes: float,
    *,
    bytes_per_param: float = 1.0,
    kv_bytes_per_value: float = 1.0,
    time_per_output_token_s: float = INTERACTIVE_TIME_PER_OUTPUT_TOKEN_S,
    weight_share_of_hbm: float = 0.5,
    kernel_efficiency: float = 0.5,
    max_gpus_per_replica: int = 1024,
    gpus_per_replica: int | None = None,
    max_batch: int | None = None,
) -> Decode:
    """Steady decoding of a model on one kind of GPU, memory-bandwidth-bound (Pope et al. 2022;
    K. Chen, "Transformer Inference Arithmetic", 2022).

    Weights W = total_params x bytes_per_param. A replica is the smallest power of two g of GPUs with
    W <= weight_share_of_hbm x g x HBM and W / (g x HBM bandwidth) <= half the latency target (so reading
    the weights leaves half the step for the cache), at most max_gpus_per_replica; `gpus_per_replica`
    fixes g instead. Each step reads all the weights once: at serving batches every expert of a mixture
    of experts is hit (with B tokens each routed to k of E experts an expert sits idle with probability
    (1 - k/E)^B, 4% at B = 100 for DeepSeek-V3's 8 of 256), plus each sequence's cache,
    KV = context_tokens x `kv_bytes_per_token`; and it computes 2 x active_params FLOP per sequence
    (Kaplan et al. 2020). So for a batch B:
      step_s = max((W + B KV) / (g x HBM bandwidth), 2 active B / (g x peak x kernel_efficiency)).
    B is the largest whole batch whose caches fit the HBM the weights leave (g x HBM - W, all of it for
    the cache) and whose step meets time_per_output_token_s; both limits are linear in B, so B is in
    closed form. B is at least 1: a step over the target at B = 1 means the target cannot be met.
    hbm_bytes = inf means no capacity limit. Weights too large for max_gpus_per_replica still give a
    result (g at the cap, B = 1), which the caller should treat as infeasible. `max_batch` caps B (a
    server's limit on sequences in flight, e.g. vLLM's max_num_seqs, 256 by default).

    Assumptions in the defaults: weight_share_of_hbm 0.5 (half the HBM for weights, the rest for caches
    and buffers); kernel_efficiency 0.5 of peak (MLPerf v4.1's H100 Llama 2 70B Offline result,
    3,066 output tokens/s per GPU, is ~45% of FP8 peak counting prefill, if prompts average ~300
    tokens); max_gpus_per_replica 1,024.

    With g fixed, more bandwidth never lowers tokens/s per GPU. With g chosen, a bandwidth that lets the
    replica halve can lower it (the weights fill a larger share of each GPU, leaving less room for caches;
    with weight_share_of_hbm near 1 the smaller replica may fit only one sequence): an artefact of the
    smallest-replica rule, which stands in for the communication cost of wider replicas, not modelled.
    """
    if not (active_params > 0 and math.isfinite(active_params)):
        raise ValueError(f"active_params must be positive and finite, got {active_params}")
    if not (peak_flop_s > 0 and math.isfinite(peak_flop_s)):
        raise ValueError(f"peak_flop_s must be positive and finite, got {peak_flop_s}")
    if not (hbm_bytes_s > 0 and math.isfinite(hbm_bytes_s)):
        raise ValueError(f"hbm_bytes_s must be positive and finite, got {hbm_bytes_s}")
    if not hbm_bytes > 0:
        raise ValueError(f"hbm_bytes must be positive (inf for no limit), got {hbm_bytes}")
    if not (time_per_output_token_s > 0 and math.isfinite(time_per_output_token_s)):
        raise ValueError(f"time_per_output_token_s must be positive and finite, got {time_per_output_token_s}")
    if not 0 < kernel_efficiency <= 1 or not 0 < weight_share_of_hbm <= 1:
        raise ValueError("kernel_efficiency and weight_share_of_hbm must be in (0, 1]")
    if context_tokens < 0 or bytes_per_param < 0 or kv_bytes_per_value < 0:
        raise ValueError("context_tokens, bytes_per_param and kv_bytes_per_value must be non-negative")
    cap = max(1, int(max_gpus_per_replica))
    weight_bytes = max(total_params, active_params) * bytes_per_param
    g = (max(1, int(gpus_per_replica)) if gpus_per_replica is not None else
         _replica_gpus(weight_bytes, hbm_bytes, hbm_bytes_s, time_per_output_token_s, weight_share_of_hbm, cap))
    kv_seq_bytes = context_tokens * kv_bytes_per_token(active_params, kv_bytes_per_value)
    read_bytes_s = g * hbm_bytes_s
    flop_s = g * peak_flop_s * kernel_efficiency
    flop_per_seq = 2.0 * active_params
    # Largest batch under each limit, all linear in B: the step's compute and memory time, and the HBM
    # the weights leave for the caches. The compute limit is always finite; with no cache (context 0)
    # the memory limits bind only when the weights alone overrun them (then B = 1).
    most = time_per_output_token_s * flop_s / flop_per_seq
    spare_read_bytes = time_per_output_token_s * read_bytes_s - weight_bytes
    spare_hbm_bytes = g * hbm_bytes - weight_bytes if math.isfinite(hbm_bytes) else math.inf
    for spare in (spare_read_bytes, spare_hbm_bytes):
        if kv_seq_bytes > 0:
            most = min(most, spare / kv_seq_bytes)
        elif spare < 0:
            most = 0.0
    if max_batch is not None:
        most = min(most, max_batch)
    batch = max(1, math.floor(most))
    memory_s = (weight_bytes + batch * kv_seq_bytes) / read_bytes_s
    compute_s = flop_per_seq * batch / flop_s
    step_s = max(memory_s, compute_s)
    tokens_s_per_gpu = batch / step_s / g
    return Decode(
        gpus_per_replica=g,
        batch=batch,
        step_s=step_s,
        tokens_s_per_gpu=tokens_s_per_gpu,
        flop_utilization=flop_per_seq * tokens_s_per_gpu / peak_flop_s,
        memory_bound=memory_s >= compute_s,
    )


def prefill_s_per_token(active_params: float, peak_flop_s: float, kernel_efficiency: float = 0.5) -> float:
    """GPU-seconds to process one prompt token: compute-bound, 2 N / (peak x efficiency) (Pope et al.
    2022; Patel et al., "Splitwise: Efficient Generative LLM Inference Using Phase Splitting", ISCA 2024,
    arXiv 2311.18677: prompt computation is compute-intensive, token generation memory-intensive).
    Attention over the prompt (2 x layers x context x d per token, Kaplan et al. 2020) is left out: under
    a fifth of 2 N for prompts up to ~2 d tokens. Prompts served from a prefix cache cost nothing here;
    leave them out of the input tokens."""
    if peak_flop_s <= 0 or kernel_efficiency <= 0:
        raise ValueError("peak_flop_s and kernel_efficiency must be positive")
    return 2.0 * active_params / (peak_flop_s * kernel_efficiency)


def serving_gpu_seconds(
    output_tokens: float,
    input_tokens: float,
    dec: Decode,
    active_params: float,
    peak_flop_s: float,
    kernel_efficiency: float = 0.5,
    peak_to_mean_load: float = 1.0,
) -> float:
    """GPU-seconds to serve a volume of tokens: (output / dec.tokens_s_per_gpu + input x
    `prefill_s_per_token`) x peak_to_mean_load. Capacity is provisioned for the peak hour, so a day's
    mean load costs peak_to_mean_load times its own GPU-time; SERVING_PEAK_TO_MEAN (1.23, DeepSeek 2025)
    is one published value, 1.0 means capacity follows load."""
    decode_s = output_tokens / dec.tokens_s_per_gpu if output_tokens > 0 else 0.0
    prefill_s = input_tokens * prefill_s_per_token(active_params, peak_flop_s, kernel_efficiency)
    return (decode_s + prefill_s) * peak_to_mean_load


def generation_flop_per_token(active_params: float) -> float:
    """Forward FLOP per generated token: 2 N (Kaplan et al. 2020, arXiv 2001.08361)."""
    return 2.0 * active_params


def synthetic_flop_per_kept_token(active_params: float, samples_per_kept_token: float) -> float:
    """FLOP to make one token of synthetic training data: 2 N x the tokens generated per token kept
    (rejected samples included; Kaplan et al. 2020 for 2 N)."""
    if samples_per_kept_token < 0:
        raise ValueError(f"samples_per_kept_token must be non-negative, got {samples_per_kept_token}")
    return generation_flop_per_token(active_params) * samples_per_kept_token


def posttraining_gpu_seconds(
    flop: float,
    generation_share_of_flop: float,
    rollout: Decode,
    active_params: float,
    train_peak_flop_s: float,
    train_mfu: float,
) -> tuple[float, float]:
    """(rollout GPU-seconds, training GPU-seconds) of RL post-training of `flop` FLOP.

    Rollouts make generation_share_of_flop of the FLOP at 2 N per token (Kaplan et al. 2020), so
    share x flop / 2 N tokens, decoded at rollout.tokens_s_per_gpu; the rest trains at 6 N per token at
    train_mfu: (1 - share) x flop / (train peak x train_mfu). GENERATION_SHARE_OF_RL_FLOP = 0.25 is the
    share when each rollout token is trained on once. Rollout prompts' prefill is left out (short
    beside the rollouts). Generation is memory-bound, so its quarter of the FLOP takes most of the
    GPU-time with long rollouts: OpenRLHF measures ~80% of RLHF time in generation, up to 90% with long
    chains of thought (Hu et al. 2024, arXiv 2405.11143)."""
    if not 0.0 <= generation_share_of_flop <= 1.0:
        raise ValueError(f"generation_share_of_flop must be in [0, 1], got {generation_share_of_flop}")
    if active_params <= 0 or train_peak_flop_s <= 0 or train_mfu <= 0:
        raise ValueError("active_params, train_peak_flop_s and train_mfu must be positive")
    rollout_tokens = generation_share_of_flop * flop / generation_flop_per_token(active_params)
    rollout_gpu_s = rollout_tokens / rollout.tokens_s_per_gpu if rollout_tokens > 0 else 0.0
    train_gpu_s = (1.0 - generation_share_of_flop) * flop / (train_peak_flop_s * train_mfu)
    return rollout_gpu_s, train_gpu_s
