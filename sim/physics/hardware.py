"""GPU products as numbers: dies per wafer, yield, peak FLOP/s, H100-equivalents, power per GPU.

Specs come from the scenario (shipped values from sim/data/hardware.csv). A GPU is any
object with the attributes of `GpuSpecs` (the scenario's GpuType is one).
"""
from __future__ import annotations

import math
from typing import Protocol

from sim.physics.units import MM2_PER_CM2, WATTS_PER_MEGAWATT


class GpuSpecs(Protocol):
    """What the functions here read of a GPU product: dense peak FLOP/s at each number format."""

    @property
    def bf16_dense_flop_s(self) -> float: ...

    @property
    def fp8_dense_flop_s(self) -> float | None: ...  # None: no FP8 support

    @property
    def fp4_dense_flop_s(self) -> float | None: ...  # None: no FP4 support


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
    return math.exp(-defect_density_per_cm2 * die_area_mm2 / MM2_PER_CM2)


def good_dies_per_wafer(die_area_mm2: float, defect_density_per_cm2: float, wafer_diameter_mm: float = 300.0) -> float:
    """Working dies per wafer. An 814 mm2 H100 die at 0.1 defects/cm2 gives ~28 (Epoch 2030: 20/28/40)."""
    return gross_dies_per_wafer(die_area_mm2, wafer_diameter_mm) * poisson_yield(die_area_mm2, defect_density_per_cm2)


PRECISIONS = ("bf16", "fp8", "fp4")


def peak_flop_s(gpu: GpuSpecs, precision: str) -> float:
    """Dense peak FLOP/s at a number format ("bf16", "fp8" or "fp4"); a format the GPU lacks falls
    back to the next wider one it has (FP4 -> FP8 -> BF16; vendor datasheets, the shipped specs are in
    sim/data/hardware.csv: FP4 tensor cores from Blackwell on). The one place that fallback is written."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: one of {', '.join(PRECISIONS)}")
    if precision == "fp4" and getattr(gpu, "fp4_dense_flop_s", None) is not None:
        return gpu.fp4_dense_flop_s
    if precision in ("fp8", "fp4") and gpu.fp8_dense_flop_s is not None:
        return gpu.fp8_dense_flop_s
    return gpu.bf16_dense_flop_s


def h100e_per_gpu(gpu: GpuSpecs, reference: GpuSpecs) -> float:
    """H100-equivalents of one GPU, by dense BF16 FLOP/s: the unit Epoch 2030 counts chips in
    (a B200 at 2.25e15 / 9.89e14 ~ 2.3 H100e)."""
    return gpu.bf16_dense_flop_s / reference.bf16_dense_flop_s


def facility_w_per_gpu(all_in_it_w: float, pue: float) -> float:
    """Facility watts a GPU needs: all-in IT watts x PUE (Epoch 2030: 700 W x 1.96 x 1.2 ~ 1,700 W)."""
    return all_in_it_w * pue


def facility_mw_for(gpus: float, all_in_it_w: float, pue: float) -> float:
    """Facility MW drawn by a number of GPUs (Epoch case: 16,000 x 1,700 W = 27.2 MW)."""
    return gpus * facility_w_per_gpu(all_in_it_w, pue) / WATTS_PER_MEGAWATT


def gpus_within_power(power_mw: float, all_in_it_w: float, pue: float) -> int:
    """How many GPUs fit in a power budget: facility MW / (all-in IT watts x PUE), rounded down
    (Epoch 2030 case 1 backwards: 27.2 MW / 1,700 W -> 16,000 GPUs)."""
    if power_mw <= 0:
        return 0
    return int(math.floor(power_mw * WATTS_PER_MEGAWATT / facility_w_per_gpu(all_in_it_w, pue) + 1e-9))
