"""The scenario's GPU types as numbers, by product index: what every component needs to know of them.

Index order is the scenario's `gpu_types` order. H100-equivalents are by dense BF16 FLOP/s against
the scenario's reference type; a run's peak at FP8 falls back to BF16 where a type has no FP8
(both from sim/physics/hardware.py).
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field

from sim.config.schedule import to_day
from sim.config.schema import Scenario
from sim.physics.hardware import h100e_per_gpu, peak_flop_s


H100_HBM_BYTES_PER_FLOP = 3.35e12 / 9.89e14
"""HBM bytes/s per dense BF16 FLOP/s of the H100 SXM (NVIDIA H100 datasheet: 3.35 TB/s, 989 TFLOP/s): the
bandwidth assumed for a type whose scenario entry gives none (assumption: memory keeps pace with compute)."""


@dataclass(frozen=True)
class Products:
    names: list[str]
    h100e: list[float]  # per GPU
    peak_bf16: list[float]  # dense FLOP/s
    peak_fp8: list[float]  # dense FLOP/s (BF16 where the type has no FP8)
    it_w: list[float]  # all-in IT watts per GPU
    available_day: list[float]  # first simulated day the type is on sale
    newest_first: list[int]  # product indices, latest `available_from` first
    family: list[str]  # gpu, tpu, trainium or other: which labs buy it
    hbm_bytes: list[float] = field(default_factory=list)  # HBM per GPU (inf where the type gives none: not checked)
    peak_fp4: list[float] = field(default_factory=list)  # dense FLOP/s (FP8, else BF16, where it has no FP4)
    failure_rate_factor: list[float] = field(default_factory=list)  # per-GPU failure rate x the central one
    hbm_bytes_s: list[float] = field(default_factory=list)  # HBM bandwidth per GPU (paces token generation)

    @classmethod
    def of(cls, s: Scenario) -> "Products":
        names = list(s.gpu_types)
        gpus = [s.gpu_types[n] for n in names]
        reference = s.gpu_types[s.h100e_reference]
        return cls(
            names=names,
            h100e=[h100e_per_gpu(g, reference) for g in gpus],
            peak_bf16=[peak_flop_s(g, "bf16") for g in gpus],
            peak_fp8=[peak_flop_s(g, "fp8") for g in gpus],
            peak_fp4=[peak_flop_s(g, "fp4") for g in gpus],
            it_w=[g.all_in_it_w for g in gpus],
            available_day=[to_day(g.available_from, s.start_date) for g in gpus],
            newest_first=sorted(range(len(names)), key=lambda i: (gpus[i].available_from, i), reverse=True),
            family=[g.family for g in gpus],
            hbm_bytes=[g.hbm_gb * 1e9 if g.hbm_gb is not None else math.inf for g in gpus],
            failure_rate_factor=[g.failure_rate_factor for g in gpus],
            hbm_bytes_s=[g.hbm_bandwidth_bytes_s or H100_HBM_BYTES_PER_FLOP * peak_flop_s(g, "bf16") for g in gpus],
        )

    def __len__(self) -> int:
        return len(self.names)

    def peak(self, product: int, precision: str) -> float:
        if precision == "fp4" and self.peak_fp4:
            return self.peak_fp4[product]
        return self.peak_fp8[product] if precision in ("fp8", "fp4") else self.peak_bf16[product]

    def flop_per_w(self) -> list[float]:
        return [p / w for p, w in zip(self.peak_bf16, self.it_w)]
