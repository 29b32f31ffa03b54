"""A job file: one training job on one cluster, no scenario needed (`sim job FILE`).

    name: llama3-405b
    gpu_type: H100-SXM5        # a product of the shipped catalog (sim/data/hardware.csv), or one of gpu_types
    gpus: 16384
    topology: single_campus    # a shipped topology or a path; or `fabric:` inline for one site
    model: {params: 4.05e11}   # dense; MoE: {params: 6.71e11, active_params: 3.7e10, experts: 256, top_k: 8}
    tokens: 1.56e13            # or flop:
    sequence_tokens: 8192
    precision: bf16
    plan: {tp: 8, pp: 16}      # optional (tp, pp, cp, ep, dp); otherwise the best plan that fits
    overlap: {tensor: 0.5}     # optional: share of each collective hidden behind compute

Validated by pydantic like a scenario: a wrong key, type or value is refused before anything runs with
one line naming the file and the key path (sim/config/errors.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Iterable, Literal

import pydantic
from pydantic import Field, model_validator

from sim.config.errors import ScenarioError, format_path, from_pydantic
from sim.config.limits import MAX_QUANTITY, MAX_TOKENS
from sim.config.loading import SET_SOURCE, apply_set
from sim.config.schema import (Fraction, FractionOrZero, FlopS, Name, PathText, PositiveAmount, RecoverySeconds,
                               Strict, Sync)
from sim.physics.recovery import REPAIR_HOURS, RESTART_BASE_S, RESTART_S_PER_DOUBLING, STORAGE_BYTES_S_PER_GPU
from sim.config.yaml_io import read_yaml
from sim.physics.memory import moe_split
from sim.physics.step_time import DEFAULT_OVERLAP

Count = Annotated[int, Field(ge=1, le=int(MAX_QUANTITY))]
PowerOfTwoCap = Annotated[int, Field(ge=1, le=1 << 20)]


class JobGpu(Strict):
    """An accelerator given inline: what the step-time model needs of it."""

    bf16_dense_flop_s: FlopS
    fp8_dense_flop_s: FlopS | None = None
    fp4_dense_flop_s: FlopS | None = None
    hbm_gb: PositiveAmount | None = None
    failure_rate_factor: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = 1.0  # as gpu_types'


class JobModel(Strict):
    """The model: dense (`params`), or mixture-of-experts (`params` in all, `active_params` per token,
    `experts`, `top_k` routed per token; Fedus et al. 2021, arXiv 2101.03961)."""

    params: Annotated[float, Field(gt=0, le=MAX_TOKENS, allow_inf_nan=False)]
    active_params: PositiveAmount | None = None
    experts: Count | None = None
    top_k: Count = 2  # experts per token: GShard / Mixtral route to 2 (Lepikhin et al. 2020; Jiang et al. 2024)

    @model_validator(mode="after")
    def _moe_shape(self) -> "JobModel":
        if (self.active_params is None) != (self.experts is None):
            raise ValueError("a mixture-of-experts model needs both active_params and experts")
        if self.active_params is not None:
            if self.active_params > self.params:
                raise ValueError(f"active_params ({self.active_params:.3g}) exceeds params ({self.params:.3g})")
            if self.experts <= self.top_k:
                raise ValueError(f"experts ({self.experts}) must be more than top_k ({self.top_k})")
            try:
                moe_split(self.params, self.active_params, self.experts, self.top_k)
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        return self


class JobPlan(Strict):
    """A fixed parallel plan; absent keys are searched."""

    tp: PowerOfTwoCap | None = None
    pp: PowerOfTwoCap | None = None
    dp: PowerOfTwoCap | None = None
    cp: PowerOfTwoCap | None = None  # context parallel: a sequence split over cp GPUs
    ep: PowerOfTwoCap | None = None  # expert parallel (mixture-of-experts models)


class JobOverlap(Strict):
    """Share of each collective hidden behind compute (sim.physics.step_time.Overlap: defaults and sources)."""

    tensor: FractionOrZero = DEFAULT_OVERLAP.tensor
    context: FractionOrZero = DEFAULT_OVERLAP.context
    expert: FractionOrZero = DEFAULT_OVERLAP.expert
    pipeline: FractionOrZero = DEFAULT_OVERLAP.pipeline
    data: FractionOrZero = DEFAULT_OVERLAP.data


class JobTraining(Strict):
    """Training efficiency and reliability (defaults: the shipped baseline's calibration)."""

    kernel_efficiency: Fraction = 0.5  # Llama 3 405B on 16k H100 then gives MFU ~0.40 (paper: 38-43%)
    # reliability: the scenario's keys and defaults (sim.config.schema TrainingPhysics; sources in
    # sim/physics/recovery.py)
    checkpoint: Literal["sync", "async", "in_memory"] = "async"
    checkpoint_write_s: RecoverySeconds | None = None  # fixed blocking time per checkpoint; default: from bytes
    storage_bytes_s_per_gpu: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] = STORAGE_BYTES_S_PER_GPU
    restart_s: RecoverySeconds = RESTART_BASE_S  # the fixed part of each restart
    restart_s_per_doubling: RecoverySeconds = RESTART_S_PER_DOUBLING
    failure_rate_quantile: FractionOrZero = 0.5  # between Meta RSC-2 (0) and RSC-1 (1), Kokolis et al. 2024
    failure_blast: Literal["node", "nvlink_domain"] = "nvlink_domain"
    hot_spares: bool = True
    repair_hours: Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)] = REPAIR_HOURS


class Job(Strict):
    name: Name
    gpu_type: Name
    gpu_types: dict[Name, JobGpu] = Field(default_factory=dict)  # inline products, by name
    gpus: Count
    topology: PathText | None = None  # shipped name or path
    sites: list[Name] | None = None  # the topology's sites the job uses (default: all of them)
    fabric: dict | None = None  # one site's fabric inline (the topology file's `fabrics` entry format)
    model: JobModel
    tokens: Annotated[float, Field(gt=0, le=MAX_TOKENS, allow_inf_nan=False)] | None = None
    flop: Annotated[float, Field(gt=0, le=1e40, allow_inf_nan=False)] | None = None
    sequence_tokens: Annotated[int, Field(ge=1, le=10**9)] = 8192
    batch_tokens: PositiveAmount | None = None  # default: the critical batch for the model's size
    precision: Literal["bf16", "fp8", "fp4"] = "bf16"
    sync: Sync = "synchronous"  # or {diloco: {inner_steps: 500, outer_bits: 4}}
    plan: JobPlan = JobPlan()
    overlap: JobOverlap = JobOverlap()
    training: JobTraining = JobTraining()

    @model_validator(mode="after")
    def _one_of_each(self) -> "Job":
        if (self.tokens is None) == (self.flop is None):
            raise ValueError("give exactly one of tokens or flop")
        if (self.topology is None) == (self.fabric is None):
            raise ValueError("give exactly one of topology or fabric")
        return self


def load_job(path: str | Path, overrides: Iterable[str] = ()) -> Job:
    """Read and validate a job file (with `--set` style overrides); refuse with file and key path."""
    path = Path(path)
    doc = read_yaml(path)
    set_paths: list[tuple] = []
    for assignment in overrides:
        doc, set_path = apply_set(doc, assignment)
        set_paths.append(tuple(set_path))

    def source_of(loc: tuple) -> str:
        """--set when an override wrote the key (or a key above or below it), else the file."""
        loc = tuple(loc)
        hit = any(loc[:len(p)] == p or p[:len(loc)] == loc for p in set_paths)
        return SET_SOURCE if hit else str(path)

    try:
        job = Job.model_validate(doc)
    except pydantic.ValidationError as exc:
        raise from_pydantic(exc, source_of) from None
    return job


def job_error(path: str | Path, key: tuple, problem: str) -> ScenarioError:
    """A problem found after validation (an unknown GPU type, a topology site), in the same form."""
    return ScenarioError(str(path), format_path(key), problem)

