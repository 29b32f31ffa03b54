"""Supply planning: what does not depend on the simulation, evaluated for every tick before it runs.

Every capacity ramp (logic fabs in wafers, CoWoS lines in yielded wafers, HBM makers in good DRAM core
dies) per tick, after outages; the product mix; and the master schedule: for every tick, the
accelerators the binding stage's *nominal* capacity allows at the mix, each stage counted at the tick
its work started one cycle time earlier (material requirements planning: Orlicky 1975; Hopp &
Spearman, Factory Physics, 3rd ed., 2008, ch. 2-3). The Supply component (sim/world/supply.py) runs
the stocks and orders against this plan.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from sim.config.schedule import DAYS_PER_MONTH, Ramp, constant_ramp, to_day
from sim.config.schema import RampSpec, Scenario
from sim.physics.hardware import good_dies_per_wafer

DAYS_PER_WEEK = 7.0


def build_ramp(spec, start) -> Ramp:
    """A schema ramp (or plain number) as a Ramp over simulated days."""
    if not isinstance(spec, RampSpec):
        return constant_ramp(spec)
    return Ramp(
        days=tuple(to_day(d, start) for d in spec.points),
        values=tuple(float(v) for v in spec.points.values()),
        growth_per_year_after=spec.growth_per_year_after,
    )


def per_tick(ramp: Ramp, tick_starts: np.ndarray, tick_days: float) -> np.ndarray:
    """Amount a per-month ramp delivers in each tick [start, start + tick_days)."""
    return ramp.mean_over(tick_starts, tick_days) * (tick_days / DAYS_PER_MONTH)


def mix_shares(s: Scenario, names: list[str], days: np.ndarray) -> np.ndarray:
    """Share of assembly (in units) for each product on each day: mix points interpolated, rows sum
    to 1. With `mix_basis: cowos_wafers` the points are shares of CoWoS wafers, converted to units by
    each product's packages per wafer.

    A product is not made before its `available_from` date: its share goes to the others, and a
    day on which nothing in the mix is available yet gets an all-zero row.
    """
    point_days = [to_day(p.date, s.start_date) for p in s.mix]
    table = np.array([[p.shares.get(n, 0.0) for n in names] for p in s.mix], dtype=float)
    table /= table.sum(axis=1, keepdims=True)
    out = np.column_stack([np.interp(days, point_days, table[:, j]) for j in range(len(names))])
    available = np.array([to_day(s.gpu_types[n].available_from, s.start_date) for n in names])
    out = np.where(np.asarray(days, dtype=float)[:, None] >= available[None, :], out, 0.0)
    if s.mix_basis == "cowos_wafers":  # wafer shares -> unit shares
        out = out * np.array([s.gpu_types[n].packages_per_cowos_wafer for n in names])[None, :]
    totals = out.sum(axis=1, keepdims=True)
    return np.divide(out, totals, out=np.zeros_like(out), where=totals > 0)


@dataclass
class Stage:
    """One supplier of a stage (a fab, a packaging line, an HBM maker): its lead time in ticks and
    what it can start in each tick of the run (after outages), and what it started before the run
    that arrives in its first ticks."""

    name: str
    lead_ticks: int
    capacity: np.ndarray  # [tick] units it can start (good dies need `good_per_wafer` to convert)
    pre_start_arrivals: np.ndarray  # [lead_ticks] or [lead_ticks, product]: work in flight at the start


@dataclass
class SupplyPlan:
    """Everything about supply that does not depend on the simulation: capacities and the master
    schedule, per tick. Ticks past the horizon (up to the longest lead time) are planned too, so
    orders placed near the end see the use they are for."""

    names: list[str]
    tick_days: float
    tick_starts: np.ndarray  # [tick] of the run
    shares: np.ndarray  # [tick + lead, product] mix
    planned_gpus: np.ndarray  # [tick + lead, product]: the master schedule
    fabs: list[Stage]  # capacity in wafers
    good_per_wafer: np.ndarray  # [fab, product] good dies per wafer
    cowos_lines: list[Stage]  # capacity in yielded wafers
    hbm_makers: list[Stage]  # capacity in good DRAM core dies
    dies_per_gpu: np.ndarray
    cowos_wafers_per_gpu: np.ndarray
    hbm_dies_per_gpu: np.ndarray
    buffer_ticks: dict[str, float]  # stage ("dies", "cowos", "hbm") -> planned buffer in ticks of use
    leaves_mix_tick: list[int]  # per product: from this tick on its share is zero for good
    capacity_gpus: dict[str, np.ndarray]  # input -> [tick] accelerators its capacity alone allows

    @cached_property
    def use_dies(self) -> np.ndarray:
        """[tick, product] dies the master schedule uses."""
        return self.planned_gpus * self.dies_per_gpu

    @cached_property
    def use_cowos(self) -> np.ndarray:
        """[tick] yielded CoWoS wafers the master schedule uses."""
        return self.planned_gpus @ self.cowos_wafers_per_gpu

    @cached_property
    def use_hbm(self) -> np.ndarray:
        """[tick] HBM DRAM core dies the master schedule uses."""
        return self.planned_gpus @ self.hbm_dies_per_gpu


CapacityFactor = Callable[[str, str, np.ndarray], np.ndarray]


def plan_supply(s: Scenario, capacity_factor: CapacityFactor | None = None) -> SupplyPlan:
    """Evaluate every capacity ramp, the mix and the master schedule for every tick of the run.

    capacity_factor(source, name, start_days) -> the share of capacity left for the work started in
    each tick starting on those days (source "logic", "cowos" or "hbm"; sim/world/disruptions.py
    builds it from outages and shortfalls). It scales what can be *started*, so an outage reaches
    assembly after the stage's cycle time. The master schedule uses nominal capacity (None: full
    capacity throughout).
    """
    names = list(s.gpu_types)
    gpus = [s.gpu_types[n] for n in names]
    tick = s.tick_days
    n_ticks = int(math.floor(to_day(s.end_date, s.start_date) / tick)) + 1
    leads = ([_lead_ticks(f.cycle_time_days, tick) for f in s.logic_fabs.values()]
             + [_lead_ticks(p.cycle_time_days, tick) for p in s.packaging_lines.values()]
             + [_lead_ticks(h.cycle_time_days, tick) for h in s.hbm_suppliers.values()])
    horizon = n_ticks + max(leads) + 1  # planned ticks: the run, then one lead time beyond
    first = -max(leads)
    all_starts = np.arange(first, horizon) * tick  # start days of every tick that matters
    factor = capacity_factor or (lambda source, name, days: np.ones(len(days)))

    good = np.array([[good_dies_per_wafer(g.die_area_mm2, f.defect_density_per_cm2, f.wafer_diameter_mm) for g in gpus]
                     for f in s.logic_fabs.values()])
    if np.any(good <= 0):
        raise ValueError("a logic fab yields no good dies of a product")
    fab_nominal = [per_tick(build_ramp(f.wafer_capacity_wpm, s.start_date), all_starts, tick) * f.allocation_share
                   for f in s.logic_fabs.values()]
    cowos_nominal = [per_tick(build_ramp(p.wafer_capacity_wpm, s.start_date), all_starts, tick)
                     * p.allocation_share * p.packaging_yield for p in s.packaging_lines.values()]
    hbm_nominal = [per_tick(build_ramp(h.tsv_wafer_capacity_wpm, s.start_date), all_starts, tick)
                   * h.dram_dies_per_tsv_wafer * h.allocation_share for h in s.hbm_suppliers.values()]

    shares = mix_shares(s, names, np.arange(horizon) * tick)
    dies_per_gpu = np.array([g.dies_per_gpu for g in gpus], dtype=float)
    cowos_per_gpu = np.array([1.0 / g.packages_per_cowos_wafer for g in gpus])
    hbm_per_gpu = np.array([float(g.hbm_stacks * g.hbm_stack_height) for g in gpus])

    def arriving(nominal: list[np.ndarray], lead_ticks: list[int]) -> list[np.ndarray]:
        """Each supplier's nominal capacity counted at the tick its work would arrive (ticks 0..horizon)."""
        return [cap[-first - lead: -first - lead + horizon] for cap, lead in zip(nominal, lead_ticks)]

    fab_leads = leads[:len(s.logic_fabs)]
    line_leads = leads[len(s.logic_fabs):len(s.logic_fabs) + len(s.packaging_lines)]
    hbm_leads = leads[len(s.logic_fabs) + len(s.packaging_lines):]
    schedule_caps = capacity_in_gpus(arriving(fab_nominal, fab_leads), good, sum(arriving(cowos_nominal, line_leads)),
                                     sum(arriving(hbm_nominal, hbm_leads)), shares, dies_per_gpu, cowos_per_gpu,
                                     hbm_per_gpu)
    planned_total = np.minimum.reduce(list(schedule_caps.values()))
    planned_total = np.where(np.isfinite(planned_total), planned_total, 0.0)
    planned = shares * planned_total[:, None]

    # what each supplier can really start in the run's ticks (outages applied) and what it started
    # before the run (at the schedule's use, within its capacity then)
    run = slice(-first, -first + n_ticks)
    run_days = all_starts[run]

    def stages(specs: dict, nominal: list[np.ndarray], lead_ticks: list[int], source: str,
               use: np.ndarray) -> list[Stage]:
        total = sum(nominal)
        out = []
        for (name, _), cap, lead in zip(specs.items(), nominal, lead_ticks):
            actual = cap * factor(source, name, all_starts)
            split = np.divide(cap, total, out=np.zeros_like(cap), where=total > 0)
            # started at ticks -lead..-1, arriving at 0..lead-1
            before = slice(-first - lead, -first)
            wanted = use[:lead] * (split[before][:, None] if use.ndim == 2 else split[before])
            if use.ndim == 2:  # dies: capacity is in wafers
                fab = list(specs).index(name)
                wafers = (wanted / good[fab]).sum(axis=1)
                scale = np.divide(np.minimum(wafers, actual[before]), wafers, out=np.zeros_like(wafers),
                                  where=wafers > 0)
                pre = wanted * scale[:, None]
            else:
                pre = np.minimum(wanted, actual[before])
            out.append(Stage(name=name, lead_ticks=lead, capacity=actual[run], pre_start_arrivals=pre))
        return out

    fabs = stages(s.logic_fabs, fab_nominal, fab_leads, "logic", planned * dies_per_gpu)
    lines = stages(s.packaging_lines, cowos_nominal, line_leads, "cowos", planned @ cowos_per_gpu)
    makers = stages(s.hbm_suppliers, hbm_nominal, hbm_leads, "hbm", planned @ hbm_per_gpu)

    # what each input's real capacity allows, for the probes
    capacity = capacity_in_gpus([f.capacity for f in fabs], good, sum(line.capacity for line in lines),
                                sum(m.capacity for m in makers), shares[:n_ticks], dies_per_gpu, cowos_per_gpu,
                                hbm_per_gpu)
    in_mix = shares > 0
    leaves = [int(np.nonzero(in_mix[:, i])[0].max()) + 1 if in_mix[:, i].any() else 0 for i in range(len(names))]
    buffer_weeks = {"dies": s.supply_planning.die_buffer_weeks, "cowos": s.supply_planning.cowos_buffer_weeks,
                    "hbm": s.supply_planning.hbm_buffer_weeks}
    return SupplyPlan(
        names=names, tick_days=tick, tick_starts=run_days.copy(),
        shares=shares, planned_gpus=planned, fabs=fabs, good_per_wafer=good, cowos_lines=lines, hbm_makers=makers,
        dies_per_gpu=dies_per_gpu, cowos_wafers_per_gpu=cowos_per_gpu, hbm_dies_per_gpu=hbm_per_gpu,
        buffer_ticks={k: w * DAYS_PER_WEEK / tick for k, w in buffer_weeks.items()},
        leaves_mix_tick=leaves, capacity_gpus=capacity,
    )


def _lead_ticks(cycle_time_days: float, tick_days: float) -> int:
    """Ticks from a start to its arrival: the first tick at or after the cycle time."""
    return int(math.ceil(cycle_time_days / tick_days - 1e-9))


def capacity_in_gpus(fab_wafers: list[np.ndarray], good: np.ndarray, cowos_wafers: np.ndarray,
                     hbm_dies: np.ndarray, shares: np.ndarray, dies_per_gpu: np.ndarray,
                     cowos_wafers_per_gpu: np.ndarray, hbm_dies_per_gpu: np.ndarray) -> dict[str, np.ndarray]:
    """Accelerators per tick (at the mix) that each input's capacity alone would allow; the least binds.
    An input no product in the mix needs has no limit (inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logic = sum(np.where((w := shares @ (dies_per_gpu / good[f])) > 0, wafers / w, np.inf)
                    for f, wafers in enumerate(fab_wafers))
        cowos_need, hbm_need = shares @ cowos_wafers_per_gpu, shares @ hbm_dies_per_gpu
        return {
            "logic": logic,
            "cowos": np.where(cowos_need > 0, cowos_wafers / cowos_need, np.inf),
            "hbm": np.where(hbm_need > 0, hbm_dies / hbm_need, np.inf),
        }
