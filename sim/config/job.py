"""A job file: one training job on one cluster, no scenario needed (`sim job FILE`).

    name: llama3-405b
    gpu_type: H100-SXM5        # a product of the shipped catalog (sim/data/hardware.csv), or one of gpu_types
    gpus: 16384
    topology: single_campus    # a shipped topology or a path; or `fabric:` inline for one site
    model: {params: 4.05e11}   # dense
    tokens: 1.56e13            # or flop:
    sequence_tokens: 8192
    precision: bf16
    plan: {tp: 8, pp: 16}      # optional; otherwise the best plan that fits

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
from sim.config.schema import Fraction, FractionOrZero, FlopS, Name, PathText, PositiveAmount, Strict, Sync
from sim.config.yaml_io import read_yaml

Count = Annotated[int, Field(ge=1, le=int(MAX_QUANTITY))]
PowerOfTwoCap = Annotated[int, Field(ge=1, le=1 << 20)]


class JobGpu(Strict):
    """An accelerator given inline: what the step-time model needs of it."""

    bf16_dense_flop_s: FlopS
    fp8_dense_flop_s: FlopS | None = None
    hbm_gb: PositiveAmount | None = None


class JobModel(Strict):
    """The model: dense (`params`). Mixture-of-experts keys are refused for now with a plain reason."""

    params: Annotated[float, Field(gt=0, le=MAX_TOKENS, allow_inf_nan=False)]
    active_params: PositiveAmount | None = None
    experts: Count | None = None

    @model_validator(mode="after")
    def _dense_only(self) -> "JobModel":
        if self.active_params is not None or self.experts is not None:
            raise ValueError("mixture-of-experts models (active_params, experts) are not modelled yet: "
                             "give a dense model's params")
        return self


class JobPlan(Strict):
    """A fixed parallel plan; absent keys are searched."""

    tp: PowerOfTwoCap | None = None
    pp: PowerOfTwoCap | None = None
    dp: PowerOfTwoCap | None = None
    cp: Literal[1] = 1  # context parallelism is not modelled yet: 1
    ep: Literal[1] = 1  # expert parallelism: dense models only, 1


class JobTraining(Strict):
    """Training efficiency and reliability (defaults: the shipped baseline's calibration)."""

    kernel_efficiency: Fraction = 0.5  # Llama 3 405B on 16k H100 then gives MFU ~0.40 (paper: 38-43%)
    checkpoint_write_s: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)] = 10.0
    restart_s: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)] = 60.0
    failure_rate_quantile: FractionOrZero = 0.5  # between Meta RSC-2 (0) and RSC-1 (1), Kokolis et al. 2024


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
    precision: Literal["bf16", "fp8"] = "bf16"
    sync: Sync = "synchronous"  # or {diloco: {inner_steps: 500, outer_bits: 4}}
    plan: JobPlan = JobPlan()
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

