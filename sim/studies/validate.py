"""Public validation cases: published worked figures, recomputed with the model's own functions.

Each case is a small record: what the source says (an expected value, its unit, a tolerance as a
relative error or as a factor) and a function that computes the same quantity with the physics
modules (sim.physics.hardware, compute, collectives, step_time, walls and reliability) from the source's
inputs. Nothing here copies an expected number into a computation.

Sources (inputs and expected values from the source; tolerances are this project's; full citations
in docs/sources.md):
- Epoch 2030, the report's ten public worked cases (numbered 1-10 by this project): Epoch AI, "Can AI
  Scaling Continue Through 2030?" (Sevilla et al., 2024), App. E; Erdil & Schneider-Joseph, arXiv
  2411.01137. A case giving several numbers is split into rows (e.g. case 3 at 300 and 100 days).
- Daly 2006 (eq. 37) and Young 1974: checkpoint intervals for a 5-minute write; job MTTF projected at
  the RSC-1 failure rate (Kokolis et al. 2024).
- Money: the shipped baseline's run costs against Epoch 2030's ~$200B of hardware for a 2e29 FLOP run
  and Cottier et al. 2024's cost growth and energy share (sim/studies/money_cases.py).
- Thakur, Rabenseifner & Gropp 2005: ring all-reduce, T = 2(p-1) alpha + 2 (p-1)/p n / beta, against a
  hand computation; nccl-tests bus bandwidth, busbw = algbw x 2(n-1)/n for all-reduce
  (NVIDIA/nccl-tests doc/PERFORMANCE.md).
- Published MFU at scale: whole training jobs (examples/jobs/) timed by the job physics (sim.studies.job:
  the plan's step, sim.physics.step_time) against the MFU their papers report. Nemotron-4 340B on 6,144
  H100 (NVIDIA 2024, arXiv 2406.11704, Table 2: 41.0%, and 42.4% / 42.3% on 1,536 / 3,072 GPUs in the
  batch ramp-up); PaLM 540B on 6,144 TPU v4 (Chowdhery et al. 2022, arXiv 2204.02311, Table 3: 46.2%).
  Absolute tolerance ±0.06 MFU: see MFU_TOLERANCE.

    sim validate [--out DIR]     # prints the table; exit 0 when every case passes, 1 otherwise
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from sim.config.job import load_job
from sim.studies import money_cases, scoring, uses_cases
from sim.studies.job import run_job

from sim.physics.collectives import (
    busbw_from_algbw,
    epoch_allreduce_latency_s,
    epoch_pairwise_allreduce_latency_s,
    ring_allreduce_s,
)
from sim.physics.hardware import facility_mw_for
from sim.physics.reliability import RSC1_PER_GPU_DAY, daly_interval_s, job_mttf_s, young_interval_s
from sim.physics.compute import chinchilla_params, training_flop
from sim.physics.step_time import layer_latency_s
from sim.physics.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_MINUTE, WATTS_PER_MEGAWATT
from sim.physics.walls import (
    ai_datacenter_power_w,
    bandwidth_wall_flop,
    bandwidth_wall_params,
    data_wall_flop,
    distance_wall_flop,
    distance_wall_tokens,
    latency_wall_flop,
    latency_wall_params,
    power_for_compute_w,
    power_wall_flop,
    sync_latency_s,
)

COLUMNS = ["case", "source", "description", "unit", "expected", "simulated", "rel_error", "tolerance", "status"]


@dataclass(frozen=True)
class ValidationCase:
    """One published figure and how the model recomputes it.

    `tolerance_kind` is "rel" (|simulated / expected - 1| <= tolerance), "factor"
    (expected / tolerance <= simulated <= expected x tolerance) or "abs" (|simulated - expected| <=
    tolerance, in the case's unit: for fractions such as MFU, where a relative band would be tighter
    for the smaller figures for no reason).
    """

    id: str
    source: str
    description: str
    expected: float
    unit: str
    tolerance: float
    tolerance_kind: str
    compute: Callable[[], float]

    def __post_init__(self) -> None:
        if self.tolerance_kind not in ("rel", "factor", "abs"):
            raise ValueError(f"{self.id}: tolerance_kind must be 'rel', 'factor' or 'abs', not {self.tolerance_kind!r}")
        if self.tolerance_kind == "factor" and self.tolerance <= 1:
            raise ValueError(f"{self.id}: a factor tolerance must exceed 1")

    def rel_error(self, simulated: float) -> float:
        """(simulated - expected) / expected, signed."""
        return (simulated - self.expected) / self.expected

    def passes(self, simulated: float) -> bool:
        if self.tolerance_kind == "rel":
            return abs(self.rel_error(simulated)) <= self.tolerance
        if self.tolerance_kind == "abs":
            return abs(simulated - self.expected) <= self.tolerance
        return self.expected / self.tolerance <= simulated <= self.expected * self.tolerance

    def tolerance_label(self) -> str:
        if self.tolerance_kind == "rel":
            return f"±{self.tolerance * 100:g}%"
        if self.tolerance_kind == "abs":
            return f"±{self.tolerance:g}"
        return f"x{self.tolerance:g}"


# --- the inputs the cases share (Epoch 2030 model inputs) --------------------------------------------

EPOCH_W_PER_GPU_IT = 700 * 1.96  # H100 700 W x 1.96 server overhead
EPOCH_PUE = 1.2                  # -> 1,646 W per GPU at the facility (the report rounds to 1,700 W)
LLAMA_GPUS = 16_000              # Llama 3.1 405B, case 1
LOOP_KM = 11_000                 # cases 5-6: data-centre loop
BATCH_TOKENS = 6e7               # cases 5, 6, 8: a 60M-token batch
H100_FP8_FLOP_S = 2e15


def _llama_w() -> float:
    return facility_mw_for(LLAMA_GPUS, EPOCH_W_PER_GPU_IT, EPOCH_PUE) * WATTS_PER_MEGAWATT


def _case_2_power_w() -> float:
    # 5,000x Llama 3.1's compute, FLOP/W x4 and x2 for FP8, a 3x longer run
    return power_for_compute_w(_llama_w(), compute_ratio=5_000, flop_per_joule_ratio=4 * 2, duration_ratio=3)


def _case_3_flop(days: float) -> float:
    # 5 GW campus / 1,700 W per GPU, FLOP/W x4 over an H100 at 2e15 FP8, 37.5% utilization (Epoch's median)
    return power_wall_flop(5e9, 1_700, 4 * H100_FP8_FLOP_S, 0.375, days * SECONDS_PER_DAY)


def _case_4_ai_w() -> float:
    # 40 GW of US data centres growing 1.15x/yr, minus 37 GW of non-AI load growing 1.08x/yr, 6 years
    return ai_datacenter_power_w(40e9, 1.15, 37e9, 1.08, 6)


def _case_6_args() -> tuple[float, float, float, float]:
    # 300 days, 51.2 Tbps between data centres, a ring all-reduce + the 110 ms loop sync, 60M batch
    return (300 * SECONDS_PER_DAY, 51.2e12, sync_latency_s(LOOP_KM), BATCH_TOKENS)


def _case_8_t_layer_s() -> float:
    # 8 serial ops x (4.5 us kernel + a 4-way NVLink all-reduce, 6.8 + 0.6 x 4 us) = 8 x 13.7 us
    return layer_latency_s(epoch_allreduce_latency_s(4, 1))


def _case_9_t_layer_s() -> float:
    # 2.75 NVLink ranks, 16 pods: 7.4 + 2 (0.6 x 2.75 + 5 log2 16) = 50.7 us per all-reduce
    return layer_latency_s(epoch_pairwise_allreduce_latency_s(2.75, 16))


def _case_9_flop() -> float:
    return latency_wall_flop(270 * SECONDS_PER_DAY, _case_9_t_layer_s(), BATCH_TOKENS)  # case 8's 270 days


def _busbw_gb_s(ranks: int = 8, n_bytes: float = 4e9, link_bytes_s: float = 50e9) -> float:
    """Bus bandwidth nccl-tests would report for a bandwidth-bound ring all-reduce on links of
    `link_bytes_s`: algbw = n / T from the ring formula, busbw = algbw x 2(n-1)/n."""
    algbw = n_bytes / ring_allreduce_s(n_bytes, ranks, 0.0, link_bytes_s)
    return busbw_from_algbw(algbw, "allreduce", ranks) / 1e9


# --- published MFU at scale: whole jobs through the job physics ------------------------------------

JOBS_DIR = Path(str(resources.files("sim.jobs")))
"""The example job files (examples/jobs/, installed as sim.jobs), each with its paper's inputs and a
citation per value."""

MFU_TOLERANCE = 0.06
"""Absolute tolerance on MFU (a fraction of peak). Two parts: (1) the published MFU of one model on one
cluster moves by ~0.05 with its configuration: Llama 3 405B reports 38-43% on the same H100 cluster
(Llama 3 Table 4), Nemotron-4 340B 41.0-42.4% across its batch ramp (Nemotron-4 Table 2); (2) papers
count model FLOPs differently by up to ~0.01-0.02 of MFU (PaLM: 45.7% without self-attention, 46.2% with
it; Nemotron-4's figure includes attention and logits, ~3% above 6N per token), while the simulator
counts 6N per token. The kernel efficiency (0.5, calibrated on Llama 3 on H100) is not refitted per
chip or software stack; a miss beyond the band is a gap in the step model, not noise."""


def _job_mfu(file: str, *overrides: str) -> float:
    """MFU of an example job (examples/jobs/FILE, with `--set` style overrides), as `sim job` reports it."""
    path = JOBS_DIR / file
    return float(run_job(load_job(path, overrides), path)["mfu"])


def _nemotron_phase(gpus: int, sequences: int) -> Callable[[], float]:
    """A phase of Nemotron-4's batch ramp (Table 2): TP 8 x PP 12 on `gpus` GPUs, `sequences` of 4,096 tokens."""
    return lambda: _job_mfu("nemotron4_340b.yaml", f"gpus={gpus}", f"batch_tokens={sequences * 4096}")


E = "Epoch 2030 #"
CASES: tuple[ValidationCase, ...] = (
    ValidationCase("epoch-1", E + "1", "16,000 GPUs x 700 W x 1.96 x 1.2 PUE", 27.2, "MW", 0.05, "rel",
                   lambda: facility_mw_for(LLAMA_GPUS, EPOCH_W_PER_GPU_IT, EPOCH_PUE)),
    ValidationCase("epoch-2a", E + "2", "2030 run power / Llama 3.1 power", 208, "ratio", 0.01, "rel",
                   lambda: _case_2_power_w() / _llama_w()),
    ValidationCase("epoch-2b", E + "2", "power of a 5,000x Llama 3.1 run", 5.7, "GW", 0.15, "rel",
                   lambda: _case_2_power_w() / 1e9),
    ValidationCase("epoch-3a", E + "3", "5 GW campus power wall, 300 days", 2.3e29, "FLOP", 1.3, "factor",
                   lambda: _case_3_flop(300)),
    ValidationCase("epoch-3b", E + "3", "5 GW campus power wall, 100 days", 7.8e28, "FLOP", 1.3, "factor",
                   lambda: _case_3_flop(100)),
    ValidationCase("epoch-4a", E + "4", "US AI data-centre power, 2030", 30, "GW", 0.15, "rel",
                   lambda: _case_4_ai_w() / 1e9),
    ValidationCase("epoch-4b", E + "4", "26% of it for one distributed run", 8, "GW", 0.15, "rel",
                   lambda: 0.26 * _case_4_ai_w() / 1e9),
    ValidationCase("epoch-5a", E + "5", "sync over an 11,000 km loop at 2e5 km/s", 110, "ms", 0.05, "rel",
                   lambda: sync_latency_s(LOOP_KM) * 1e3),
    ValidationCase("epoch-5b", E + "5", "distance wall tokens, 300 days, 60M batch", 1.4e16, "tokens", 0.05, "rel",
                   lambda: distance_wall_tokens(300 * SECONDS_PER_DAY, sync_latency_s(LOOP_KM), BATCH_TOKENS)),
    ValidationCase("epoch-5c", E + "5", "distance wall, Chinchilla FLOP", 6e31, "FLOP", 0.05, "rel",
                   lambda: distance_wall_flop(300 * SECONDS_PER_DAY, sync_latency_s(LOOP_KM), BATCH_TOKENS)),
    ValidationCase("epoch-6a", E + "6", "bandwidth wall model, 51.2 Tbps, 8-bit", 16e12, "params", 0.10, "rel",
                   lambda: bandwidth_wall_params(*_case_6_args(), bits_per_param=8)),
    ValidationCase("epoch-6b", E + "6", "bandwidth wall, FLOP", 3e28, "FLOP", 0.10, "rel",
                   lambda: bandwidth_wall_flop(*_case_6_args(), bits_per_param=8)),
    ValidationCase("epoch-7a", E + "7", "16M H100e x 2e15 x 0.4 x 6 months", 2.0e29, "FLOP", 0.05, "rel",
                   lambda: training_flop(16e6, H100_FP8_FLOP_S, 0.4, 365 / 2)),
    ValidationCase("epoch-7b", E + "7", "H100e produced: one lab <= 20%, 80% trains", 100e6, "H100e", 0.05, "rel",
                   lambda: 16e6 / 0.20 / 0.80),
    ValidationCase("epoch-7c", E + "7", "2024: 2M H100s / 4, 6 months", 6.3e27, "FLOP", 0.05, "rel",
                   lambda: training_flop(2e6 / 4, H100_FP8_FLOP_S, 0.4, 365 / 2)),
    ValidationCase("epoch-8a", E + "8", "intranode t_L = 8 x 13.7 us", 110, "us", 0.05, "rel",
                   lambda: _case_8_t_layer_s() * 1e6),
    ValidationCase("epoch-8b", E + "8", "latency wall model, 270 days, 60M batch", 7e14, "params", 0.20, "rel",
                   lambda: latency_wall_params(270 * SECONDS_PER_DAY, _case_8_t_layer_s(), BATCH_TOKENS)),
    ValidationCase("epoch-8c", E + "8", "intranode latency wall, FLOP", 6e31, "FLOP", 0.20, "rel",
                   lambda: latency_wall_flop(270 * SECONDS_PER_DAY, _case_8_t_layer_s(), BATCH_TOKENS)),
    ValidationCase("epoch-9a", E + "9", "all-reduce, 2.75 NVLink ranks, 16 pods", 50.7, "us", 0.01, "rel",
                   lambda: epoch_pairwise_allreduce_latency_s(2.75, 16) * 1e6),
    ValidationCase("epoch-9b", E + "9", "internode t_L", 400, "us", 0.15, "rel",
                   lambda: _case_9_t_layer_s() * 1e6),
    ValidationCase("epoch-9c", E + "9", "internode latency wall, FLOP", 7e30, "FLOP", 2, "factor", _case_9_flop),
    ValidationCase("epoch-9d", E + "9", "GPUs for it at 2e15 x 0.4 in 270 days", 300e6, "GPUs", 2, "factor",
                   lambda: _case_9_flop() / (H100_FP8_FLOP_S * 0.4 * 270 * SECONDS_PER_DAY)),
    ValidationCase("epoch-10a", E + "10", "text data wall model, 500T tokens", 25e12, "params", 0.05, "rel",
                   lambda: chinchilla_params(data_wall_flop(5e14))),
    ValidationCase("epoch-10b", E + "10", "text data wall, FLOP", 7.5e28, "FLOP", 0.05, "rel",
                   lambda: data_wall_flop(5e14)),
    # Daly 2006 eq. 37 and Young 1974, checkpoint write 5 min (worked for a 5-minute write)
    *(ValidationCase(f"daly-{key}", "Daly 2006", f"checkpoint interval, 5 min write, MTTF {label}",
                     expected, "min", 0.02, "rel",
                     lambda m=mttf_h: daly_interval_s(5 * SECONDS_PER_MINUTE, m * SECONDS_PER_HOUR) / SECONDS_PER_MINUTE)
      for key, label, mttf_h, expected in (("24h", "24 h", 24, 117), ("6h", "6 h", 6, 57),
                                           ("15min", "15 min", 0.25, 9.1))),
    *(ValidationCase(f"young-{key}", "Young 1974", f"checkpoint interval, 5 min write, MTTF {label}",
                     expected, "min", 0.005, "rel",
                     lambda m=mttf_h: young_interval_s(5 * SECONDS_PER_MINUTE, m * SECONDS_PER_HOUR) / SECONDS_PER_MINUTE)
      for key, label, mttf_h, expected in (("24h", "24 h", 24, 120), ("6h", "6 h", 6, 60),
                                           ("15min", "15 min", 0.25, 12.2))),
    # Kokolis et al. 2024's projections at the RSC-1 rate; tolerance about 0.005 h, the rounding of "0.23 h"
    ValidationCase("mttf-16k", "Kokolis 2024", "job MTTF, 16,384 GPUs at RSC-1 rate", 1.8, "h", 0.003, "rel",
                   lambda: job_mttf_s(16_384, RSC1_PER_GPU_DAY) / SECONDS_PER_HOUR),
    ValidationCase("mttf-131k", "Kokolis 2024", "job MTTF, 131,072 GPUs at RSC-1 rate", 0.23, "h", 0.022, "rel",
                   lambda: job_mttf_s(131_072, RSC1_PER_GPU_DAY) / SECONDS_PER_HOUR),
    # hand computation: 6 x 5 us + 2 x 3/4 x 1e9 B / 1e11 B/s = 30 us + 15 ms
    ValidationCase("ring-allreduce", "Thakur 2005", "1 GB, 4 ranks, 5 us, 100 GB/s (by hand)", 15.03, "ms",
                   1e-6, "rel", lambda: ring_allreduce_s(1e9, 4, 5e-6, 100e9) * 1e3),
    # money (sim/studies/money_cases.py): the shipped baseline's runs, simulated once
    ValidationCase("epoch-cost-2e29", "Epoch 2030", "hardware for a 2e29 FLOP run (largest 2030 run's capex/FLOP at 40%)",
                   money_cases.EPOCH_HARDWARE_USD, "USD", 3, "factor", money_cases.hardware_usd_for_2e29),
    ValidationCase("cottier-growth", "Cottier 2024", "amortized cost of each year's largest run, growth",
                   money_cases.COTTIER_GROWTH_PER_YEAR, "x/yr", 1.5, "factor", money_cases.amortized_cost_growth_per_year),
    ValidationCase("cottier-energy", "Cottier 2024", "energy share of the largest 2030 run's amortized cost",
                   money_cases.COTTIER_ENERGY_SHARE, "fraction", 2, "factor", money_cases.energy_share_of_amortized_cost),
    # compute beyond pre-training (sim/studies/uses_cases.py)
    ValidationCase("deepseek-v3-decode", "DeepSeek 2025 (inference)", "decode tokens/s per H800 node, 37B of 671B",
                   uses_cases.DEEPSEEK_DECODE_TOKENS_S_PER_NODE, "tokens/s", 3, "factor",
                   uses_cases.deepseek_decode_tokens_s_per_node),
    ValidationCase("mlperf-llama2-70b", "MLPerf Inference v4.1", "Llama 2 70B offline tokens/s per H100, with prefill",
                   uses_cases.MLPERF_LLAMA2_70B_TOKENS_S_PER_GPU, "tokens/s", 1.5, "factor",
                   uses_cases.mlperf_llama2_70b_tokens_s_per_gpu),
    ValidationCase("openai-2024-inference-share", "You 2025 (Epoch, OpenAI compute)",
                   "OpenAI's 2024 inference share of its non-idle compute (baseline ledger)",
                   uses_cases.OPENAI_2024_INFERENCE_SHARE, "fraction", 0.1, "abs", uses_cases.openai_2024_inference_share),
    ValidationCase("deepseek-r1-rl-flop", "Erdil 2025 (Epoch, DeepSeek-R1)",
                   "RL FLOP: the post-training share on 2025-01-01 x DeepSeek-V3's pre-training",
                   uses_cases.DEEPSEEK_R1_RL_FLOP, "FLOP", 1.5, "factor", uses_cases.deepseek_r1_rl_flop),
    ValidationCase("nccl-busbw", "nccl-tests", "ring all-reduce busbw = link bandwidth (8 ranks)", 50, "GB/s",
                   1e-6, "rel", _busbw_gb_s),
    # published MFU at scale (examples/jobs/, through sim.studies.job); tolerance: MFU_TOLERANCE
    ValidationCase("nemotron4-340b-mfu", "Nemotron-4", "MFU, 6,144 H100, TP 8 x PP 12 x DP 64, batch 2,304",
                   0.410, "MFU", MFU_TOLERANCE, "abs", lambda: _job_mfu("nemotron4_340b.yaml")),
    ValidationCase("nemotron4-340b-mfu-1536", "Nemotron-4", "MFU, 1,536 H100, TP 8 x PP 12 x DP 16, batch 768",
                   0.424, "MFU", MFU_TOLERANCE, "abs", _nemotron_phase(1536, 768)),
    ValidationCase("nemotron4-340b-mfu-3072", "Nemotron-4", "MFU, 3,072 H100, TP 8 x PP 12 x DP 32, batch 1,536",
                   0.423, "MFU", MFU_TOLERANCE, "abs", _nemotron_phase(3072, 1536)),
    # Llama 3 405B (Llama 3 Table 4: TFLOP/s per GPU over H100's 989): 430, 400 and 380 at 8K/8K/128K sequences
    ValidationCase("llama3-405b-mfu-8192", "Llama 3", "MFU, 8,192 H100, TP 8 x CP 1 x PP 16 x DP 64, 16M tokens",
                   0.435, "MFU", MFU_TOLERANCE, "abs", lambda: _job_mfu("llama3_405b.yaml", "gpus=8192")),
    ValidationCase("llama3-405b-mfu", "Llama 3", "MFU, 16,384 H100, TP 8 x CP 1 x PP 16 x DP 128, 16M tokens",
                   0.404, "MFU", MFU_TOLERANCE, "abs", lambda: _job_mfu("llama3_405b.yaml")),
    ValidationCase("llama3-405b-mfu-128k", "Llama 3", "MFU, 16,384 H100, TP 8 x CP 16 x PP 16, 131k-token sequences",
                   0.384, "MFU", MFU_TOLERANCE, "abs",
                   lambda: _job_mfu("llama3_405b.yaml", "sequence_tokens=131072", "plan.cp=16")),
    ValidationCase("palm-540b-mfu", "PaLM", "MFU, 6,144 TPU v4 in 2 pods, 12-way MP x 512 DP, no PP",
                   0.462, "MFU", MFU_TOLERANCE, "abs", lambda: _job_mfu("palm_540b.yaml")),
)


def run_validation(cases: Iterable[ValidationCase] = CASES) -> pd.DataFrame:
    """Compute every case: one row each with the columns of `COLUMNS`, status PASS or FAIL."""
    rows = []
    for case in cases:
        simulated = float(case.compute())
        rows.append({
            "case": case.id,
            "source": case.source,
            "description": case.description,
            "unit": case.unit,
            "expected": case.expected,
            "simulated": simulated,
            "rel_error": case.rel_error(simulated),
            "tolerance": case.tolerance_label(),
            "status": "PASS" if case.passes(simulated) else "FAIL",
        })
    return pd.DataFrame(rows, columns=COLUMNS)


_NUMERIC = ("expected", "simulated", "rel_error")


def format_table(table: pd.DataFrame) -> str:
    """The table as the command prints it, with a closing count of passes (sim/studies/scoring.py)."""
    return scoring.format_table(table, _NUMERIC)


def markdown_table(table: pd.DataFrame) -> str:
    """The same table as Markdown."""
    return scoring.markdown_table(table, _NUMERIC)
