"""GPU products as numbers: dies per wafer, yield, peak FLOP/s, H100-equivalents, power per GPU.

Specs come from the scenario (shipped values from shared/reference/hardware.csv).
"""
from __future__ import annotations

import math

from sim.config.schema import GpuType


def gross_dies_per_wafer(die_area_mm2: float, wafer_diameter_mm: float = 300.0) -> float:
    """Candidate dies on a round wafer: pi r^2 / A - pi d / sqrt(2 A).

    The standard gross-die approximation (de Vries, "Investigation of gross die per wafer
    formulas", IEEE Trans. Semicond. Manuf. 18(1), 2005): wafer area over die area, less the
    partial dies lost along the edge.
    """
    radius = wafer_diameter_mm / 2
    return max(
        0.0,
        math.pi * radius**2 / die_area_mm2 - math.pi * wafer_diameter_mm / math.sqrt(2 * die_area_mm2),
    )


def poisson_yield(die_area_mm2: float, defect_density_per_cm2: float) -> float:
    """Fraction of dies without a killer defect, Y = exp(-D0 A) (Poisson yield model, Murphy 1964)."""
    return math.exp(-defect_density_per_cm2 * die_area_mm2 / 100.0)


def good_dies_per_wafer(die_area_mm2: float, defect_density_per_cm2: float, wafer_diameter_mm: float = 300.0) -> float:
    """Working dies per wafer. An 814 mm2 H100 die at 0.1 defects/cm2 gives ~28 (Epoch 2030: 20/28/40)."""
    return gross_dies_per_wafer(die_area_mm2, wafer_diameter_mm) * poisson_yield(die_area_mm2, defect_density_per_cm2)


def peak_flop_s(gpu: GpuType, precision: str) -> float:
    """Dense peak FLOP/s at a number format; FP8 falls back to BF16 where a GPU has no FP8."""
    if precision == "fp8" and gpu.fp8_dense_flop_s is not None:
        return gpu.fp8_dense_flop_s
    return gpu.bf16_dense_flop_s


def h100e_per_gpu(gpu: GpuType, reference: GpuType) -> float:
    """H100-equivalents of one GPU, by dense BF16 FLOP/s (DESIGN.md, "GPU generations")."""
    return gpu.bf16_dense_flop_s / reference.bf16_dense_flop_s


def facility_w_per_gpu(all_in_it_w: float, pue: float) -> float:
    """Facility watts a GPU needs: all-in IT watts x PUE (Epoch 2030: 700 W x 1.96 x 1.2 ~ 1,700 W)."""
    return all_in_it_w * pue


def facility_mw_for(gpus: float, all_in_it_w: float, pue: float) -> float:
    """Facility MW drawn by a number of GPUs (Epoch case: 16,000 x 1,700 W = 27.2 MW)."""
    return gpus * facility_w_per_gpu(all_in_it_w, pue) / 1e6


def gpus_within_power(power_mw: float, all_in_it_w: float, pue: float) -> int:
    """How many GPUs fit in a power budget: facility MW / (all-in IT watts x PUE), rounded down."""
    if power_mw <= 0:
        return 0
    return int(math.floor(power_mw * 1e6 / facility_w_per_gpu(all_in_it_w, pue) + 1e-9))
