"""Compute beyond pre-training, scored against published figures (rows of `sim validate`).

- DeepSeek, "DeepSeek-V3/R1 Inference System Overview" (2025): ~14.8k output tokens/s per H800 node in
  decode (37B active / 671B total parameters, average KV length 4,989 tokens). Simulated: the decode
  physics (sim/physics/inference.py) on 8 H800 (HBM as H100: 80 GB, 3.35 TB/s; FP8 1.98e15).
- MLPerf Inference v4.1 (MLCommons 2024): Llama 2 70B Offline on 8 H100, 24,524.9 tokens/s (3,066 per GPU).
  Simulated: decode at the 200 ms per-token limit plus prefill of ~300 prompt tokens per ~290-token
  answer (assumption: the prompt length), all on the same GPUs.
- Epoch AI (You 2025): OpenAI's 2024 compute, ~$5B R&D and ~$1.9B inference, so inference ~0.28 of
  it. Simulated: the baseline's ledger, OpenAI's 2024 inference share of its non-idle compute.
- Epoch AI (Erdil 2025): DeepSeek-R1's RL stage ~6e23 FLOP. Simulated: the baseline's post-training
  policy share on 1 January 2025 x DeepSeek-V3's 6 x 37B x 14.8T pre-training FLOP (DeepSeek-AI 2024).
"""
from __future__ import annotations

from sim.config.loading import load_scenario, packaged_scenario
from sim.config.schedule import to_day
from sim.physics.inference import BATCH_TIME_PER_OUTPUT_TOKEN_S, decode, serving_gpu_seconds
from sim.studies.money_cases import baseline_result
from sim.world.supply_plan import build_ramp

H800 = dict(peak_flop_s=1.98e15, hbm_bytes_s=3.35e12, hbm_bytes=80e9)  # as H100 SXM (NVIDIA datasheet)
DEEPSEEK_DECODE_TOKENS_S_PER_NODE = 14_800
MLPERF_LLAMA2_70B_TOKENS_S_PER_GPU = 24_524.9 / 8
OPENAI_2024_INFERENCE_SHARE = 1.9 / (1.9 + 5.0)
DEEPSEEK_R1_RL_FLOP = 6e23
DEEPSEEK_V3_PRETRAINING_FLOP = 6 * 37e9 * 14.8e12


def deepseek_decode_tokens_s_per_node() -> float:
    return 8 * decode(37e9, 671e9, 4_989, **H800).tokens_s_per_gpu


def mlperf_llama2_70b_tokens_s_per_gpu() -> float:
    output_tokens, input_tokens = 290.3, 300.0  # 24,524.9 / 84.48 samples; prompts: assumption
    d = decode(70e9, 70e9, input_tokens + output_tokens / 2, **H800,
               time_per_output_token_s=BATCH_TIME_PER_OUTPUT_TOKEN_S)
    return output_tokens / serving_gpu_seconds(output_tokens, input_tokens, d, 70e9, H800["peak_flop_s"])


def openai_2024_inference_share() -> float:
    ts = baseline_result().timeseries
    rows = ts[(ts["entity"] == "openai") & (ts["date"] >= "2024-02-01") & (ts["date"] <= "2025-01-01")]
    totals = rows.groupby("metric")["value"].sum()
    uses = ["flop_pretraining", "flop_posttraining", "flop_synthetic_data", "flop_experiments", "flop_inference"]
    return totals["flop_inference"] / totals[uses].sum()


def deepseek_r1_rl_flop() -> float:
    s = load_scenario(packaged_scenario("baseline"))
    share = build_ramp(s.compute_uses.posttraining.share_of_pretraining, s.start_date)
    return float(share.at(to_day(s.start_date.replace(year=2025), s.start_date))) * DEEPSEEK_V3_PRETRAINING_FLOP
