"""Monthly probes: copies of every stock and pool, turned into tidy rows and the frontier after the run.

Probes read the world; they never change it (desmod's probes, DESIGN.md "Habits worth borrowing").
Inside the event loop a probe only copies counts; metrics and the frontier are computed from the
copies afterwards, so recording costs next to nothing per event.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.physics.frontier import CONSTRAINTS, lab_frontier
from sim.physics.hardware import peak_flop_s
from sim.world.labs import Allocator, LabState
from sim.config.schedule import DAYS_PER_MONTH, to_date
from sim.config.schema import Scenario
from sim.world.sites import SiteState
from sim.world.supply import SupplyPlan, SupplyState


@dataclass(frozen=True)
class LabSnapshot:
    name: str
    inventory: list[int]
    delivered_total: list[int]
    retired_total: list[int]
    sites: tuple[int, ...]  # indices into Snapshot.sites


@dataclass(frozen=True)
class SiteSnapshot:
    name: str
    built: bool
    firm_mw_online: float
    available_mw: float
    drawn_mw: float
    pue: float
    installed: list[int]
    busy: list[int]


@dataclass(frozen=True)
class Snapshot:
    day: float
    produced_total: np.ndarray
    other_buyers_total: np.ndarray
    in_transit: np.ndarray
    die_stock: float
    cowos_wafer_stock: float
    hbm_stack_stock: float
    labs: list[LabSnapshot]
    sites: list[SiteSnapshot]


@dataclass
class Probe:
    supply: SupplyState
    allocator: Allocator
    labs: dict[str, LabState]
    sites: dict[str, SiteState]
    snapshots: list[Snapshot] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._site_index = {name: i for i, name in enumerate(self.sites)}

    def snapshot(self, day: float) -> None:
        """Copy the counts of every stock at this day."""
        site_index = self._site_index
        stocks, alloc = self.supply.stocks, self.allocator
        self.snapshots.append(Snapshot(
            day=day,
            produced_total=np.array(alloc.produced_total, dtype=float),
            other_buyers_total=np.array(alloc.other_buyers_total, dtype=float),
            in_transit=np.array(alloc.in_transit, dtype=float),
            die_stock=sum(stocks.dies),
            cowos_wafer_stock=stocks.cowos_wafers,
            hbm_stack_stock=stocks.hbm_stacks,
            labs=[LabSnapshot(lab.name, lab.inventory[:], lab.delivered_total[:], lab.retired_total[:],
                              tuple(site_index[s.name] for s in lab.sites)) for lab in self.labs.values()],
            sites=[SiteSnapshot(s.name, s.built, s.firm_mw_online, s.available_mw, s.drawn_mw, s.pue,
                                s.installed[:], s.busy[:]) for s in self.sites.values()],
        ))


def probe_process(env: simpy.Environment, probe: Probe, month_days: list[float], horizon_day: float):
    """Copy the state at every month start, and once more at the end of the horizon."""
    for day in month_days:
        if day > env.now:
            yield env.timeout(day - env.now)
        probe.snapshot(day)
    end_day = horizon_day - 1.0  # the end date itself
    if month_days and end_day <= month_days[-1]:
        return
    last = horizon_day - 1e-9  # just before the simulation stops
    if last > env.now:
        yield env.timeout(last - env.now)
    probe.snapshot(end_day)


def timeseries_rows(snap: Snapshot, names: list[str], h100e: np.ndarray, plan: SupplyPlan) -> list[tuple]:
    """Every metric of one snapshot as (day, entity, metric, value) rows."""
    day, rows = snap.day, []
    installed_by_product = np.sum([s.installed for s in snap.sites], axis=0) if snap.sites else np.zeros(len(names))
    delivered = np.sum([lab.delivered_total for lab in snap.labs], axis=0)
    inventory = np.sum([lab.inventory for lab in snap.labs], axis=0)
    for i, name in enumerate(names):
        rows.append((day, name, "produced_gpus_total", snap.produced_total[i]))
        rows.append((day, name, "delivered_gpus_total", delivered[i]))
        rows.append((day, name, "installed_gpus", installed_by_product[i]))

    k = min(int(day // plan.tick_days), len(plan.tick_starts) - 1)
    per_month = DAYS_PER_MONTH / plan.tick_days
    for source, capacity in plan.capacity_gpus.items():
        value = float(capacity[k]) * per_month
        if np.isfinite(value):  # an input no product needs has no limit to report
            rows.append((day, "supply", f"capacity_gpus_per_month_{source}", value))
    rows.append((day, "supply", "logic_die_stock", snap.die_stock))
    rows.append((day, "supply", "cowos_wafer_stock", snap.cowos_wafer_stock))
    rows.append((day, "supply", "hbm_stack_stock", snap.hbm_stack_stock))

    for lab in snap.labs:
        sites = [snap.sites[i] for i in lab.sites]
        installed = np.sum([s.installed for s in sites], axis=0) if sites else np.zeros(len(names))
        rows.append((day, lab.name, "delivered_h100e_total", float(np.dot(lab.delivered_total, h100e))))
        rows.append((day, lab.name, "inventory_gpus", sum(lab.inventory)))
        rows.append((day, lab.name, "installed_gpus", installed.sum()))
        rows.append((day, lab.name, "installed_h100e", float(installed @ h100e)))
        rows.append((day, lab.name, "retired_gpus_total", sum(lab.retired_total)))
        rows.append((day, lab.name, "power_available_mw", sum(s.available_mw for s in sites)))
        rows.append((day, lab.name, "power_drawn_mw", sum(s.drawn_mw for s in sites)))

    for site in snap.sites:
        rows.append((day, site.name, "built", int(site.built)))
        rows.append((day, site.name, "power_online_mw", site.firm_mw_online))
        rows.append((day, site.name, "power_available_mw", site.available_mw))
        rows.append((day, site.name, "power_drawn_mw", site.drawn_mw))
        rows.append((day, site.name, "installed_gpus", sum(site.installed)))
        rows.append((day, site.name, "busy_gpus", sum(site.busy)))

    world = "world"
    rows.append((day, world, "produced_h100e_total", float(snap.produced_total @ h100e)))
    rows.append((day, world, "delivered_h100e_total", float(delivered @ h100e)))
    rows.append((day, world, "other_buyers_h100e_total", float(snap.other_buyers_total @ h100e)))
    rows.append((day, world, "in_transit_h100e", float(snap.in_transit.sum(axis=0) @ h100e)))
    rows.append((day, world, "installed_gpus", installed_by_product.sum()))
    rows.append((day, world, "installed_h100e", float(installed_by_product @ h100e)))
    rows.append((day, world, "inventory_h100e", float(inventory @ h100e)))
    rows.append((day, world, "power_online_mw", sum(s.firm_mw_online for s in snap.sites)))
    rows.append((day, world, "power_available_mw", sum(s.available_mw for s in snap.sites)))
    rows.append((day, world, "power_drawn_mw", sum(s.drawn_mw for s in snap.sites)))
    return rows


def frontier_rows(snap: Snapshot, s: Scenario, names: list[str], h100e: list[float],
                  walls: dict[str, dict[str, float]] | None = None) -> list[tuple]:
    """The largest run any lab could start at this snapshot, per constraint, and what binds.

    Rows are (day, constraint, max_flop, h100e, lab, binding_constraint). `walls` gives each lab's
    network, latency and data walls (constant over time); the binding constraint is the smallest
    single constraint of the lab with the largest combined run.
    """
    walls = walls or {}
    f = s.frontier
    gpus = [s.gpu_types[n] for n in names]
    peak = [peak_flop_s(g, f.precision) for g in gpus]
    it_w = [g.all_in_it_w for g in gpus]
    date = to_date(snap.day, s.start_date)
    on_sale = [g.available_from <= date for g in gpus]
    best: dict[str, tuple] = {}
    for lab in snap.labs:
        sites = [snap.sites[i] for i in lab.sites]
        installed = np.sum([site.installed for site in sites], axis=0).tolist() if sites else [0] * len(names)
        points, binds = lab_frontier(
            installed=installed, inventory=lab.inventory,
            site_power=[(site.available_mw, site.pue) for site in sites],
            on_sale=on_sale, peak_flop_s=peak, it_w=it_w, h100e=h100e,
            gpu_share=f.gpu_share, utilization=f.utilization, duration_days=f.duration_days,
        )
        alone = {c: points[c].flop for c in ("chips", "power")} | walls.get(lab.name, {})
        binds = min(alone, key=lambda c: (alone[c], c != binds))
        for c in CONSTRAINTS:
            if c not in best or points[c].flop > best[c][0]:
                best[c] = (points[c].flop, points[c].h100e, lab.name, binds)
        for c, flop in walls.get(lab.name, {}).items():
            if c not in best or flop > best[c][0]:
                best[c] = (flop, float("nan"), lab.name, binds)
    binding = best["combined"][3]
    return [(snap.day, c, *best[c][:3], binding) for c in best]
