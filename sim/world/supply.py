"""Chip supply: logic fabs, CoWoS packaging lines and HBM suppliers feed GPU assembly.

Flows, per tick:
  logic wafers -> good dies of each product (wafers started by the product mix; Poisson yield)
  CoWoS wafers -> interposer capacity (packages per wafer by product; packaging yield)
  HBM stacks   -> stacks
Each input arrives after its cycle time into a stock. Assembly builds GPUs by bill of materials:
the scarcest input limits output and what is left is carried over. Capacities are ramps over time
(sources beside each ramp in the scenario); they are evaluated for every tick before the run, so the event loop
only moves numbers between stocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import simpy

from sim.physics.hardware import good_dies_per_wafer
from sim.world.component import Component, Row
from sim.config.schedule import DAYS_PER_MONTH, Ramp, constant_ramp, to_day
from sim.config.schema import RampSpec, Scenario


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
    """Share of assembly for each product on each day: mix points interpolated, rows sum to 1.

    A product is not made before its `available_from` date: its share goes to the others, and a
    day on which nothing in the mix is available yet gets an all-zero row.
    """
    point_days = [to_day(p.date, s.start_date) for p in s.mix]
    table = np.array([[p.shares.get(n, 0.0) for n in names] for p in s.mix], dtype=float)
    table /= table.sum(axis=1, keepdims=True)
    out = np.column_stack([np.interp(days, point_days, table[:, j]) for j in range(len(names))])
    available = np.array([to_day(s.gpu_types[n].available_from, s.start_date) for n in names])
    out = np.where(np.asarray(days, dtype=float)[:, None] >= available[None, :], out, 0.0)
    totals = out.sum(axis=1, keepdims=True)
    return np.divide(out, totals, out=np.zeros_like(out), where=totals > 0)


def assemble(
    dies: list[float],
    cowos_wafers: float,
    hbm_stacks: float,
    shares: list[float],
    dies_per_gpu: list[float],
    cowos_wafers_per_gpu: list[float],
    hbm_stacks_per_gpu: list[float],
) -> list[int]:
    """GPUs of each product that the stocks allow, by bill of materials.

    The shared inputs (CoWoS, HBM) support at most G GPUs at the current mix, G set by the
    scarcer of the two; each product gets its mix share of G, limited by its own dies. Shared
    input left over (a product short of dies) then goes to products that still have dies, so
    dies started under an older mix are not stranded. Whatever is not used stays in stock.
    """
    n = len(dies)
    cowos_per_mix_gpu = sum(shares[i] * cowos_wafers_per_gpu[i] for i in range(n))
    hbm_per_mix_gpu = sum(shares[i] * hbm_stacks_per_gpu[i] for i in range(n))
    shared = math.inf
    if cowos_per_mix_gpu > 0:
        shared = cowos_wafers / cowos_per_mix_gpu
    if hbm_per_mix_gpu > 0:
        shared = min(shared, hbm_stacks / hbm_per_mix_gpu)
    by_dies = [dies[i] / dies_per_gpu[i] for i in range(n)]
    made = [int(min(shares[i] * shared, by_dies[i]) + 1e-9) if shares[i] > 0 else 0 for i in range(n)]
    cowos_left = cowos_wafers - sum(made[i] * cowos_wafers_per_gpu[i] for i in range(n))
    hbm_left = hbm_stacks - sum(made[i] * hbm_stacks_per_gpu[i] for i in range(n))
    for i in range(n):
        spare_dies = by_dies[i] - made[i]
        if spare_dies < 1 or cowos_left <= 0 or hbm_left < 0:
            continue
        extra = min(spare_dies, cowos_left / cowos_wafers_per_gpu[i])
        if hbm_stacks_per_gpu[i] > 0:
            extra = min(extra, hbm_left / hbm_stacks_per_gpu[i])
        extra = int(extra + 1e-9)
        if extra > 0:
            made[i] += extra
            cowos_left -= extra * cowos_wafers_per_gpu[i]
            hbm_left -= extra * hbm_stacks_per_gpu[i]
    return made


def capacity_in_gpus(
    dies: np.ndarray, cowos_wafers: np.ndarray, hbm_stacks: np.ndarray, shares: np.ndarray,
    dies_per_gpu: np.ndarray, cowos_wafers_per_gpu: np.ndarray, hbm_stacks_per_gpu: np.ndarray,
) -> dict[str, np.ndarray]:
    """GPUs per tick (at the mix) that each input's arrivals alone would allow; the least binds."""
    with np.errstate(divide="ignore", invalid="ignore"):
        per_product = np.where(shares > 0, dies / dies_per_gpu / shares, np.inf)
        hbm_need = shares @ hbm_stacks_per_gpu
        return {
            "logic": per_product.min(axis=1),
            "cowos": cowos_wafers / (shares @ cowos_wafers_per_gpu),
            "hbm": np.where(hbm_need > 0, hbm_stacks / hbm_need, np.inf),
        }


@dataclass
class Stocks:
    """Inputs waiting for assembly: good dies by product, yielded CoWoS wafers, HBM stacks."""

    dies: list[float]
    cowos_wafers: float = 0.0
    hbm_stacks: float = 0.0


@dataclass
class SupplyPlan:
    """Everything about supply that does not depend on the simulation: arrivals per tick."""

    names: list[str]
    tick_days: float
    tick_starts: np.ndarray
    shares: np.ndarray  # [tick, product]
    die_arrivals: dict[str, np.ndarray]  # fab -> [tick, product] good dies arriving
    cowos_arrivals: dict[str, np.ndarray]  # line -> [tick] yielded wafers arriving
    hbm_arrivals: dict[str, np.ndarray]  # supplier -> [tick] stacks arriving
    dies_per_gpu: np.ndarray
    cowos_wafers_per_gpu: np.ndarray
    hbm_stacks_per_gpu: np.ndarray
    capacity_gpus: dict[str, np.ndarray]  # input -> [tick] GPUs its arrivals alone allow


def _arrivals(starts_per_tick: np.ndarray, start_days: np.ndarray, cycle_days: float, tick_days: float, n_ticks: int) -> np.ndarray:
    """Sum what is started in each tick into the first tick at or after its completion day."""
    arrive = np.ceil((start_days + cycle_days) / tick_days - 1e-9).astype(int)
    keep = (arrive >= 0) & (arrive < n_ticks)
    out = np.zeros((n_ticks,) + starts_per_tick.shape[1:])
    np.add.at(out, arrive[keep], starts_per_tick[keep])
    return out


CapacityFactor = Callable[[str, str, np.ndarray], np.ndarray]


def plan_supply(s: Scenario, capacity_factor: CapacityFactor | None = None) -> SupplyPlan:
    """Evaluate every capacity ramp, the mix and the cycle times for every tick of the run.

    Work started before the start date (within one cycle time) arrives during the run, so the
    pipelines start full rather than empty.

    capacity_factor(source, name, start_days) -> the share of capacity left for the work started in
    each tick starting on those days (source "logic", "cowos" or "hbm"; sim/world/disruptions.py
    builds it from outages and shortfalls). It scales what is *started*, so an outage reaches assembly
    after the input's cycle time. None: full capacity throughout.
    """
    names = list(s.gpu_types)
    gpus = [s.gpu_types[n] for n in names]
    tick = s.tick_days
    n_ticks = int(math.floor(to_day(s.end_date, s.start_date) / tick)) + 1
    tick_starts = np.arange(n_ticks) * tick
    factor = capacity_factor or (lambda source, name, days: 1.0)
    die_arrivals = {name: _die_arrivals(s, name, fab, names, n_ticks, factor) for name, fab in s.logic_fabs.items()}
    cowos_arrivals = {name: _cowos_arrivals(s, name, line, n_ticks, factor)
                      for name, line in s.packaging_lines.items()}
    # stacks have no cycle time: what is made in a tick arrives in it
    hbm_arrivals = {
        name: per_tick(build_ramp(sup.stack_capacity_per_month, s.start_date), tick_starts, tick) * sup.allocation_share
        for name, sup in s.hbm_suppliers.items()
    }
    if capacity_factor is not None:
        hbm_arrivals = {name: stacks * capacity_factor("hbm", name, tick_starts) for name, stacks in hbm_arrivals.items()}
    shares = mix_shares(s, names, tick_starts)
    dies_per_gpu = np.array([g.dies_per_gpu for g in gpus], dtype=float)
    cowos_wafers_per_gpu = np.array([1.0 / g.packages_per_cowos_wafer for g in gpus])
    hbm_stacks_per_gpu = np.array([float(g.hbm_stacks) for g in gpus])
    capacity = capacity_in_gpus(
        sum(die_arrivals.values()), sum(cowos_arrivals.values()), sum(hbm_arrivals.values()),
        shares, dies_per_gpu, cowos_wafers_per_gpu, hbm_stacks_per_gpu,
    )
    return SupplyPlan(
        names=names, tick_days=tick, tick_starts=tick_starts, shares=shares,
        die_arrivals=die_arrivals, cowos_arrivals=cowos_arrivals, hbm_arrivals=hbm_arrivals,
        dies_per_gpu=dies_per_gpu, cowos_wafers_per_gpu=cowos_wafers_per_gpu, hbm_stacks_per_gpu=hbm_stacks_per_gpu,
        capacity_gpus=capacity,
    )


def _starts(cycle_time_days: float, tick: float, n_ticks: int) -> np.ndarray:
    """Tick start days from one cycle time before the start date (work already in the pipeline)."""
    first = -int(math.ceil(cycle_time_days / tick))
    return np.arange(first, n_ticks) * tick


def _die_arrivals(s: Scenario, fab_name: str, fab, names: list[str], n_ticks: int,
                  factor: CapacityFactor) -> np.ndarray:
    """[tick, product] good dies a logic fab delivers: wafers started for the mix that will be
    assembled when they come out, split by the wafers each product's share of GPUs needs."""
    gpus = [s.gpu_types[n] for n in names]
    tick = s.tick_days
    starts = _starts(fab.cycle_time_days, tick, n_ticks)
    wafers = per_tick(build_ramp(fab.wafer_capacity_wpm, s.start_date), starts, tick) * fab.allocation_share
    wafers = wafers * factor("logic", fab_name, starts)
    shares = mix_shares(s, names, starts + fab.cycle_time_days)
    good = np.array([good_dies_per_wafer(g.die_area_mm2, fab.defect_density_per_cm2, fab.wafer_diameter_mm) for g in gpus])
    if np.any(good <= 0):
        bad = names[int(np.argmin(good))]
        raise ValueError(f"logic fab {fab_name!r} yields no good dies of {bad!r}")
    wafer_need = shares * np.array([g.dies_per_gpu for g in gpus], dtype=float) / good
    need_total = wafer_need.sum(axis=1, keepdims=True)  # zero while nothing in the mix is on sale
    wafer_split = np.divide(wafer_need, need_total, out=np.zeros_like(wafer_need), where=need_total > 0)
    good_dies = wafers[:, None] * wafer_split * good
    return _arrivals(good_dies, starts, fab.cycle_time_days, tick, n_ticks)


def _cowos_arrivals(s: Scenario, line_name: str, line, n_ticks: int, factor: CapacityFactor) -> np.ndarray:
    """[tick] yielded CoWoS wafers a packaging line delivers, after its cycle time."""
    tick = s.tick_days
    starts = _starts(line.cycle_time_days, tick, n_ticks)
    wafers = (per_tick(build_ramp(line.wafer_capacity_wpm, s.start_date), starts, tick)
              * line.allocation_share * line.packaging_yield)
    wafers = wafers * factor("cowos", line_name, starts)
    return _arrivals(wafers, starts, line.cycle_time_days, tick, n_ticks)


class Supply(Component):
    """The chip supply chain: each tick, what the fabs, packaging lines and HBM suppliers complete
    arrives in the stocks, then assembly builds what the stocks allow and ships it.

    One process does both, in that order, for every input at once: arrivals only touch the stocks,
    which nothing else reads in between, so this is the same as a process per input handing over
    before assembly runs, at a fifth of the events.
    """

    kind = "supply"

    def __init__(self, env: simpy.Environment, plan: SupplyPlan, ship: Callable[[list[int]], None]):
        super().__init__(env, "supply")
        self.plan, self.ship = plan, ship
        self.stocks = Stocks(dies=[0.0] * len(plan.names))
        self.produced_total = [0] * len(plan.names)  # GPUs by product, cumulative
        self.add_process(self._ticks)

    def _arrive(self, k: int, dies: list[list[list[float]]], cowos: list[list[float]], hbm: list[list[float]]) -> None:
        """Tick k's arrivals into the stocks: each fab's good dies, each line's wafers, each supplier's stacks."""
        stocks = self.stocks
        held = stocks.dies
        for fab in dies:
            for i, x in enumerate(fab[k]):
                held[i] += x
        for line in cowos:
            if line[k]:
                stocks.cowos_wafers += line[k]
        for supplier in hbm:
            if supplier[k]:
                stocks.hbm_stacks += supplier[k]

    def _ticks(self):
        """Each tick: the arrivals, then assembly builds what the stocks allow and ships it."""
        env, plan, stocks = self.env, self.plan, self.stocks
        n = len(plan.names)
        dies_in = [a.tolist() for a in plan.die_arrivals.values()]
        cowos_in = [a.tolist() for a in plan.cowos_arrivals.values()]
        hbm_in = [a.tolist() for a in plan.hbm_arrivals.values()]
        dies_per_gpu = plan.dies_per_gpu.tolist()
        cowos_per_gpu = plan.cowos_wafers_per_gpu.tolist()
        hbm_per_gpu = plan.hbm_stacks_per_gpu.tolist()
        shares_by_tick = plan.shares.tolist()
        for k, day in enumerate(plan.tick_starts.tolist()):
            if day > env.now:
                yield env.timeout(day - env.now)
            self._arrive(k, dies_in, cowos_in, hbm_in)
            dies = stocks.dies
            made = assemble(dies, stocks.cowos_wafers, stocks.hbm_stacks, shares_by_tick[k],
                            dies_per_gpu, cowos_per_gpu, hbm_per_gpu)
            if not any(made):
                continue
            for i in range(n):
                if made[i]:
                    dies[i] = max(dies[i] - made[i] * dies_per_gpu[i], 0.0)
                    self.produced_total[i] += made[i]
            stocks.cowos_wafers = max(stocks.cowos_wafers - sum(made[i] * cowos_per_gpu[i] for i in range(n)), 0.0)
            stocks.hbm_stacks = max(stocks.hbm_stacks - sum(made[i] * hbm_per_gpu[i] for i in range(n)), 0.0)
            self.ship(made)

    def probe(self, day: float, rows: list[Row]) -> None:
        """Each input's capacity in GPUs a month at the tick's mix, and the stocks waiting."""
        plan, stocks, kind = self.plan, self.stocks, self.kind
        k = min(int(day // plan.tick_days), len(plan.tick_starts) - 1)
        per_month = DAYS_PER_MONTH / plan.tick_days
        for source, capacity in plan.capacity_gpus.items():
            value = float(capacity[k]) * per_month
            if np.isfinite(value):  # an input no product needs has no limit to report
                rows.append((day, "supply", kind, f"capacity_gpus_per_month_{source}", value))
        rows.append((day, "supply", kind, "logic_die_stock", sum(stocks.dies)))
        rows.append((day, "supply", kind, "cowos_wafer_stock", stocks.cowos_wafers))
        rows.append((day, "supply", kind, "hbm_stack_stock", stocks.hbm_stacks))
