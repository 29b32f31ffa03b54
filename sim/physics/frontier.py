"""The frontier: for each month, the largest run that could start then, under each constraint
alone and under all of them together, and which one binds.

This is the Epoch 2030 report's constraint chart made dynamic: instead of one figure per
constraint for 2030, the simulator recomputes each month from the state of the buildout.
  chips alone: every GPU the lab holds (installed or waiting), as if power were unlimited;
  power alone: the lab's built, powered site capacity filled with the most efficient GPU on sale;
  combined:    the GPUs actually installed and powered.
Each is sized as GPUs x peak FLOP/s x utilization x duration x the run's share of the fleet.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from operator import add, mul

from sim.physics.compute import binding_constraint, training_flop
from sim.physics.hardware import gpus_within_power

CONSTRAINTS = ("chips", "power", "combined")
WALLS = ("network", "latency", "data")  # with a topology: sim.physics.sizing.frontier_walls (Epoch App. E)


@dataclass(frozen=True)
class FrontierPoint:
    constraint: str
    flop: float
    h100e: float


def lab_frontier(
    installed: list[int],
    inventory: list[int],
    site_power: list[tuple[float, float]],
    on_sale: list[bool],
    peak_flop_s: list[float],
    it_w: list[float],
    h100e: list[float],
    gpu_share: float,
    utilization: float,
    duration_days: float,
) -> tuple[dict[str, FrontierPoint], str]:
    """One lab's largest feasible run under each constraint, and the binding one (Epoch 2030's
    constraint chart for one month; each point sized with `training_flop`, Epoch case 7).

    `site_power` is (available MW, PUE) for each of the lab's sites; `on_sale` marks products
    this lab can buy by this month (on sale, and of a family it buys).
    """
    def point(name: str, counts: list[float]) -> FrontierPoint:
        flop_s = sum(map(mul, counts, peak_flop_s))
        gpus_h100e = sum(map(mul, counts, h100e))
        return FrontierPoint(name, training_flop(gpu_share, flop_s, utilization, duration_days), gpu_share * gpus_h100e)

    n = len(installed)
    held = list(map(add, installed, inventory))
    powered = [0.0] * n
    for available_mw, pue in site_power:
        if available_mw <= 0:
            continue
        best = most_efficient(tuple(on_sale), tuple(peak_flop_s), tuple(it_w), pue)  # tuples: no copy
        if best is not None:
            powered[best] += gpus_within_power(available_mw, it_w[best], pue)
    points = {
        "chips": point("chips", held),
        "power": point("power", powered),
        "combined": point("combined", installed),
    }
    return points, binding_constraint(points["chips"].flop, points["power"].flop)


@lru_cache(maxsize=256)
def most_efficient(on_sale: tuple[bool, ...], peak_flop_s: tuple[float, ...], it_w: tuple[float, ...],
                   pue: float) -> int | None:
    """The product on sale doing the most FLOP per facility watt (ties: the later index); None if
    nothing is on sale. Cached: the answer changes only when a product goes on sale."""
    candidates = [i for i in range(len(on_sale)) if on_sale[i]]
    if not candidates:
        return None
    return max(candidates, key=lambda i: (peak_flop_s[i] / (it_w[i] * pue), i))
