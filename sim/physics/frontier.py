"""The frontier: for each month, the largest run that could start then, under each constraint
alone and under all of them together, and which one binds.

This is the Epoch 2030 report's constraint chart made dynamic: instead of one figure per
constraint for 2030, the simulator recomputes each month from the state of the buildout.
  chips alone: every GPU the lab holds (installed, and its inventory placed where its GPUs are
               installed), as if power were unlimited;
  power alone: the lab's built, powered site capacity filled with the most efficient GPU on sale;
  combined:    the GPUs actually installed and powered.
Each takes the frontier's `gpu_share` of those GPUs and is sized with the physics of runs
(`lab_frontier_on_network`, with a topology and training physics): GPUs x peak FLOP/s x MFU x
expected goodput x duration, MFU from the parallel plan a run would find on the lab's network
(sim.physics.sizing `plan_run`, at GPU counts and peaks on a grid) and goodput the expected value of
the failure model runs sample (`recovery_goodput`), over the campuses a run would span (those that
raise its expected effective FLOP/s, sim.world.run_policy.CampusPlanner). Without a topology, runs
have no physics and neither has the frontier: `lab_frontier` sizes each as GPUs x peak x the flat
`frontier.utilization` x duration.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from operator import add, mul

from sim.physics.compute import binding_constraint, training_flop
from sim.physics.hardware import gpus_within_power
from sim.physics.units import SECONDS_PER_DAY

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
    constraint chart for one month; each point sized with `training_flop` at a flat `utilization`,
    Epoch case 7): the frontier without a topology.

    `site_power` is (available MW, PUE) for each of the lab's sites; `on_sale` marks products
    this lab can buy by this month (on sale, and of a family it buys).
    """
    def point(name: str, counts: list[float]) -> FrontierPoint:
        flop_s = sum(map(mul, counts, peak_flop_s))
        gpus_h100e = sum(map(mul, counts, h100e))
        return FrontierPoint(name, training_flop(gpu_share, flop_s, utilization, duration_days), gpu_share * gpus_h100e)

    held = list(map(add, installed, inventory))
    powered = [sum(column) for column in zip(*powered_by_site(site_power, on_sale, peak_flop_s, it_w))] \
        or [0.0] * len(installed)
    points = {
        "chips": point("chips", held),
        "power": point("power", powered),
        "combined": point("combined", installed),
    }
    return points, binding_constraint(points["chips"].flop, points["power"].flop)


def lab_frontier_on_network(
    site_installed: list[list[int]],
    site_campus: list[str],
    inventory: list[int],
    site_power: list[tuple[float, float]],
    on_sale: list[bool],
    peak_flop_s: list[float],
    it_w: list[float],
    h100e: list[float],
    gpu_share: float,
    duration_days: float,
    run_flop_s: Callable[[dict[str, list[float]], list[str] | None], tuple[float, list[str]]],
) -> tuple[dict[str, FrontierPoint], str]:
    """One lab's largest feasible run under each constraint with the physics of runs: the GPUs each
    constraint allows, by product at each campus, sized by `run_flop_s` (the expected effective FLOP/s
    of a run on them and the campuses it spans: GPUs x peak x MFU x goodput on the lab's network,
    sim.world.run_policy.CampusPlanner) x duration.

    `site_installed` is each of the lab's sites' installed GPUs by product, `site_campus` its campus
    (topology site) and `site_power` its (available MW, PUE). Chips alone places the inventory at the
    campuses in proportion to the GPUs installed there (else to the powered GPUs, else at the first
    site's campus); power alone fills each site's power with the most efficient product on sale.
    """
    n = len(peak_flop_s)
    campuses = list(dict.fromkeys(site_campus))

    def by_campus(rows: list[list[float]]) -> dict[str, list[float]]:
        out = {c: [0.0] * n for c in campuses}
        for campus, row in zip(site_campus, rows):
            acc = out[campus]
            for i, g in enumerate(row):
                if g:
                    acc[i] += gpu_share * g
        return out

    powered_rows = powered_by_site(site_power, on_sale, peak_flop_s, it_w)
    installed = by_campus(site_installed)
    powered = by_campus(powered_rows)
    held = {c: list(v) for c, v in installed.items()}
    if any(inventory) and campuses:
        weights = {c: sum(v) for c, v in installed.items()}
        if sum(weights.values()) <= 0:
            weights = {c: sum(v) for c, v in powered.items()}
        if sum(weights.values()) <= 0:
            weights = {c: float(c == site_campus[0]) for c in campuses}
        total = sum(weights.values())
        for c, w in weights.items():
            for i, g in enumerate(inventory):
                held[c][i] += gpu_share * g * w / total

    def point(name: str, counts: dict[str, list[float]], campuses: list[str] | None = None):
        flop_s, chosen = run_flop_s(counts, campuses)
        gpus_h100e = sum(sum(map(mul, counts[c], h100e)) for c in chosen)
        return FrontierPoint(name, flop_s * duration_days * SECONDS_PER_DAY, gpus_h100e), chosen

    combined, chosen = point("combined", installed)
    power, _ = point("power", powered)
    if any(inventory):  # the inventory goes where the GPUs are installed: the run spans the same campuses
        chips, _ = point("chips", held, chosen or None)
    else:
        chips = FrontierPoint("chips", combined.flop, combined.h100e)
    points = {"chips": chips, "power": power, "combined": combined}
    return points, binding_constraint(points["chips"].flop, points["power"].flop)


def powered_by_site(site_power: list[tuple[float, float]], on_sale: list[bool], peak_flop_s: list[float],
                    it_w: list[float]) -> list[list[float]]:
    """Per site, by product: its available power (MW, PUE) filled with the most efficient product on sale."""
    rows = []
    for available_mw, pue in site_power:
        row = [0.0] * len(peak_flop_s)
        if available_mw > 0:
            best = most_efficient(tuple(on_sale), tuple(peak_flop_s), tuple(it_w), pue)  # tuples: no copy
            if best is not None:
                row[best] = gpus_within_power(available_mw, it_w[best], pue)
        rows.append(row)
    return rows


@lru_cache(maxsize=256)
def most_efficient(on_sale: tuple[bool, ...], peak_flop_s: tuple[float, ...], it_w: tuple[float, ...],
                   pue: float) -> int | None:
    """The product on sale doing the most FLOP per facility watt (ties: the later index); None if
    nothing is on sale. Cached: the answer changes only when a product goes on sale."""
    candidates = [i for i in range(len(on_sale)) if on_sale[i]]
    if not candidates:
        return None
    return max(candidates, key=lambda i: (peak_flop_s[i] / (it_w[i] * pue), i))
