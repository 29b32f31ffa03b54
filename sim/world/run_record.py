"""A training run's record: one row of runs.csv, filled in by TrainingRuns (sim/world/training.py) and the
post-training policy (sim/world/posttraining.py)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass
class RunRecord:
    """One row of runs.csv."""

    run: str
    lab: str
    start: dt.date | None
    end: dt.date | None
    gpus: int
    gpu_type: str
    sites: str
    flop: float
    mfu: float
    binding_constraint: str
    status: str
    duration_days: float
    h100e: float
    peak_flop_s: float
    precision: str
    chips_alone_gpus: int
    power_alone_gpus: int
    goodput: float = 1.0
    interruptions: int = 0
    step_time_s: float = float("nan")
    comm_fraction: float = float("nan")
    params: float = float("nan")
    disrupted_days: float = 0.0  # days of the run a fiber cut slowed (re-planned) or stalled it
    stalled_days: float = 0.0  # of those, days its sites were cut off from each other: no progress
    planned_by: str = "scenario"  # "scenario" (typed in the scenario) or "policy" (the run policy)
    gpu_types: str = ""  # the products it pooled, ";"-joined (gpu_type: the slowest, which paces it)
    cluster_capex_usd: float = 0.0  # its accelerators at price x (1 + server overhead)
    energy_mwh: float = 0.0  # drawn by its accelerators over the days it ran
    amortized_cost_usd: float = 0.0  # depreciation over the run + energy
    usd_per_flop: float = float("nan")
    kind: str = "pretraining"  # or "posttraining": the RL run after a policy pre-training run
