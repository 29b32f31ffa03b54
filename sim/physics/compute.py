"""Training compute: C = 6 N D, compute-optimal (Chinchilla) sizing, the FLOP a fleet delivers in a
time, and which of two constraints binds.

Pure functions of numbers, with no simulation state. Sources: Kaplan et al. 2020 (C = 6 N D);
Hoffmann et al. 2022 (D = 20 N), as used by the Epoch 2030 report, App. E (Sevilla et al. 2024;
docs/sources.md).
"""
from __future__ import annotations

import math

from sim.physics.units import SECONDS_PER_DAY

TOKENS_PER_PARAM = 20.0
"""Chinchilla: compute-optimal D = 20 N (Hoffmann et al. 2022; Epoch 2030 App. E)."""


def training_compute_flop(params: float, tokens: float) -> float:
    """Training compute C = 6 N D (Kaplan et al. 2020; Epoch 2030 App. E)."""
    return 6.0 * params * tokens


def compute_optimal_flop(params: float) -> float:
    """Compute of a compute-optimal run of a model of N parameters: C = 6 N (20 N) = 120 N^2
    (Hoffmann et al. 2022, as used by Epoch 2030 App. E; a 25T-parameter model -> 7.5e28 FLOP)."""
    return 6.0 * params * TOKENS_PER_PARAM * params


def compute_optimal_flop_for_tokens(tokens: float) -> float:
    """Compute of a compute-optimal run on D tokens: N = D / 20, C = 6 N D = 0.3 D^2 (Hoffmann et al.
    2022; Epoch 2030 App. E, case 10: 500T tokens -> 25T parameters -> 7.5e28 FLOP)."""
    return training_compute_flop(tokens / TOKENS_PER_PARAM, tokens)


def chinchilla_params(compute_flop: float) -> float:
    """Compute-optimal parameters: C = 6 N D with D = 20 N, so N = sqrt(C / 120)
    (Hoffmann et al. 2022, as used by Epoch 2030 App. E)."""
    return math.sqrt(compute_flop / (6.0 * TOKENS_PER_PARAM))


def chinchilla_tokens(compute_flop: float) -> float:
    """Compute-optimal training tokens: D = 20 N = 20 sqrt(C / 120) (Epoch 2030 App. E)."""
    return TOKENS_PER_PARAM * chinchilla_params(compute_flop)


def training_flop(gpus: float, peak_flop_s: float, utilization: float, duration_days: float) -> float:
    """Achieved FLOP = GPUs x peak FLOP/s x utilization x time (Epoch 2030 report, case 7:
    16M H100e x 2e15 x 0.4 x 6 months = 2.0e29)."""
    return gpus * peak_flop_s * utilization * duration_days * SECONDS_PER_DAY


def binding_constraint(chips_alone: float, power_alone: float) -> str:
    """The constraint that allows the smaller run binds; ties go to chips (Epoch 2030's constraint
    chart: the largest run is the least of what each constraint allows alone)."""
    return "power" if power_alone < chips_alone else "chips"
