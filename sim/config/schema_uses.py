"""The scenario's `compute_uses`: what a lab's GPUs do besides pre-training, and how it decides.

Uses (the compute ledger's, sim/world/compute_uses.py): post-training after each policy pre-training run,
synthetic-data generation, research experiments and inference serving; what none of them holds is
idle. Each section is optional; a scenario without `compute_uses` only pre-trains. Policies and the
evidence behind the baseline's numbers: docs/policies.md.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from sim.config.limits import MAX_QUANTITY, MAX_SEQUENCE_TOKENS
from sim.config.types import (Fraction, FractionOrZero, Name, PositiveAmount, PositiveDays, RampOrNumber, RampSpec,
                              Strict)

Seconds = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]
Context = Annotated[int, Field(ge=1, le=MAX_SEQUENCE_TOKENS)]
Batch = Annotated[int, Field(ge=1, le=1_000_000)]
AtLeastOne = Annotated[float, Field(ge=1, le=MAX_QUANTITY, allow_inf_nan=False)]
Priority = Literal["before_training", "after_training"]


class Generation(Strict):
    """How tokens are decoded for a use: the mean context each new token reads (its KV cache), the
    per-token latency the batch must keep, and the largest batch a replica runs."""

    context_tokens: Context = 4096
    time_per_output_token_s: Seconds = 0.05
    max_batch: Batch = 64


class ServingModel(Strict):
    """The model a lab serves and generates synthetic data with (a mixture of experts: FLOP follow
    the active parameters, memory and weight reads all of them)."""

    active_params: PositiveAmount
    total_params: PositiveAmount | None = None  # default: dense (= active_params)
    bytes_per_param: Annotated[float, Field(gt=0, le=4, allow_inf_nan=False)] = 1.0  # FP8 weights


class LabInference(Strict):
    output_tokens_per_day: RampOrNumber  # tokens the lab generates for users and API customers
    priority: Priority | None = None  # default: the section's


class Inference(Generation):
    """Inference demand by lab, served first on its older products, within the GPUs it has installed."""

    max_batch: Union[Batch, RampSpec] = 64  # sequences a replica decodes together (a path: serving practice changes)
    labs: dict[Name, LabInference] = Field(default_factory=dict)
    priority: Priority = "before_training"  # served before a run takes its GPUs, or on what runs leave
    reasoning_token_multiplier: RampOrNumber = 1.0  # output tokens per request against a non-reasoning model
    input_tokens_per_output_token: Annotated[float, Field(ge=0, le=1e4, allow_inf_nan=False)] = 1.0  # prefilled
    peak_to_mean_load: AtLeastOne = 1.0  # capacity provisioned for the peak hour


class Experiments(Strict):
    share_of_fleet: FractionOrZero  # of the lab's installed peak FLOP/s, reserved for research each month


class PostTraining(Generation):
    """A post-training (RL) run after each policy pre-training run: a share of its FLOP, mostly rollouts."""

    enabled: bool = True
    share_of_pretraining: RampOrNumber  # post-training FLOP / the pre-training run's FLOP, by launch date
    max_share_of_pretraining: PositiveAmount = 1.0
    generation_share_of_flop: Fraction = 0.25  # of the post-training FLOP spent generating rollouts
    duration_days: PositiveDays = 90.0  # the run's target length (it takes the GPUs that need)
    max_duration_days: PositiveDays = 365.0  # with fewer GPUs free it runs longer, up to this


class SyntheticData(Generation):
    """Generated training tokens: they raise the lab's data stock (the data wall of its runs)."""

    enabled: bool = True
    share_of_fleet: FractionOrZero  # of the lab's installed peak FLOP/s, each month
    samples_per_kept_token: AtLeastOne  # tokens generated per token kept after filtering
    token_value: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 1.0  # effective tokens per kept one


class ComputeUses(Strict):
    serving_model: ServingModel
    inference: Inference | None = None
    experiments: Experiments | None = None
    posttraining: PostTraining | None = None
    synthetic_data: SyntheticData | None = None
