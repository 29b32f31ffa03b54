"""Chip supply, planned against the bottleneck: logic fabs, CoWoS packaging lines and HBM makers feed
accelerator assembly.

Stages and their units:
  logic fabs     -> good dies of each product (wafers x Poisson-yield good dies per wafer)
  CoWoS lines    -> yielded interposer wafers (a product takes 1 / packages_per_cowos_wafer of one)
  HBM makers     -> good DRAM core dies (TSV wafers x good dies per wafer); a product's HBM takes
                    hbm_stacks x hbm_stack_height of them (8-high, 12-high: taller stacks cost wafers)
Assembly builds accelerators from the three stocks by bill of materials at the product mix
(`assemble`); the scarcest input limits output and what is left is carried over.

Planning (material requirements planning with an order-up-to rule):
  1. The master schedule: for every tick, the accelerators the *nominal* capacities allow at the mix,
     each stage counted at the tick its work started one cycle time earlier; the binding stage sets it.
  2. Each tick every stage orders what brings its inventory position (stock + on order) up to the
     planned use over its lead time plus a planned buffer (weeks of cover), capped at the capacity it
     has that tick (after outages); orders arrive one cycle time later.
  3. Dies of a product that has left the mix for good are written off, not assembled years later.
So upstream stages make only what the bottleneck can absorb, stocks stay near their buffers, and
capacity lost at the bottleneck (an outage) is lost for good. The planner does not foresee outages:
it plans on nominal capacity and reacts through the stocks.

Sources: the order-up-to (base-stock) rule and MRP netting: Hopp & Spearman, Factory Physics, 3rd ed.
(2008), ch. 2-3 (MRP after Orlicky 1975); HBM dies per stack: JEDEC HBM3/HBM4 (JESD238, JESD270-4).
Capacity ramps are in the scenario, with their sources beside each value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
import simpy

from sim.physics.hardware import good_dies_per_wafer
from sim.world.component import Component, Row
from sim.config.schedule import DAYS_PER_MONTH, Ramp, constant_ramp, to_day
from sim.config.schema import RampSpec, Scenario

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


def assemble(
    dies: list[float],
    cowos_wafers: float,
    hbm_dies: float,
    shares: list[float],
    dies_per_gpu: list[float],
    cowos_wafers_per_gpu: list[float],
    hbm_dies_per_gpu: list[float],
) -> list[int]:
    """Accelerators of each product that the stocks allow, by bill of materials.

    The shared inputs (CoWoS, HBM) support at most G accelerators at the current mix, G set by the
    scarcer of the two; each product gets its mix share of G, limited by its own dies. Shared
    input left over (a product short of dies) then goes to products that still have dies, so
    dies started under an older mix are not stranded. Whatever is not used stays in stock.
    """
    n = len(dies)
    made = [0] * n
    # only products in the mix, or with dies for at least one accelerator, can be made
    active = [i for i in range(n) if shares[i] > 0 or dies[i] >= dies_per_gpu[i]]
    in_mix = [i for i in active if shares[i] > 0]
    cowos_per_mix_gpu = sum(shares[i] * cowos_wafers_per_gpu[i] for i in in_mix)
    hbm_per_mix_gpu = sum(shares[i] * hbm_dies_per_gpu[i] for i in in_mix)
    shared = math.inf
    if cowos_per_mix_gpu > 0:
        shared = cowos_wafers / cowos_per_mix_gpu
    if hbm_per_mix_gpu > 0:
        shared = min(shared, hbm_dies / hbm_per_mix_gpu)
    by_dies = {i: dies[i] / dies_per_gpu[i] for i in active}
    for i in in_mix:
        made[i] = int(min(shares[i] * shared, by_dies[i]) + 1e-9)
    cowos_left = cowos_wafers - sum(made[i] * cowos_wafers_per_gpu[i] for i in active)
    hbm_left = hbm_dies - sum(made[i] * hbm_dies_per_gpu[i] for i in active)
    for i in active:
        spare_dies = by_dies[i] - made[i]
        if spare_dies < 1 or cowos_left <= 0 or hbm_left < 0:
            continue
        extra = min(spare_dies, cowos_left / cowos_wafers_per_gpu[i])
        if hbm_dies_per_gpu[i] > 0:
            extra = min(extra, hbm_left / hbm_dies_per_gpu[i])
        extra = int(extra + 1e-9)
        if extra > 0:
            made[i] += extra
            cowos_left -= extra * cowos_wafers_per_gpu[i]
            hbm_left -= extra * hbm_dies_per_gpu[i]
    return made


def order_up_to(position: float, use_over_lead: float, buffer: float, capacity: float) -> float:
    """What a stage starts this tick: enough to bring its inventory position (stock + on order) up
    to the planned use over its lead time plus its buffer, within the capacity it has
    (the base-stock rule: Hopp & Spearman, Factory Physics, 3rd ed., 2008, sec. 2.4)."""
    return min(max(use_over_lead + buffer - position, 0.0), capacity)


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


@dataclass
class Stocks:
    """Inputs waiting for assembly: good dies by product, yielded CoWoS wafers, HBM DRAM core dies."""

    dies: list[float]
    cowos_wafers: float = 0.0
    hbm_dies: float = 0.0


class Supply(Component):
    """The chip supply chain. Each tick: what the stages started one cycle time ago arrives; dies of
    products that left the mix are written off; assembly builds what the stocks allow and ships it;
    then every stage orders against the master schedule (see the module docstring).

    Counts are floats in plain lists (a handful of products is active at a time; the per-tick work
    touches only those): pipelines are per-tick dicts of die arrivals by product and per-tick floats
    of CoWoS wafers and HBM dies."""

    kind = "supply"

    def __init__(self, env: simpy.Environment, plan: SupplyPlan, ship: Callable[[list[int]], None]):
        super().__init__(env, "supply")
        self.plan, self.ship = plan, ship
        n, n_ticks = len(plan.names), len(plan.tick_starts)
        buf = plan.buffer_ticks
        # start with each stock at its planned buffer
        self.stocks = Stocks(dies=(plan.use_dies[0] * buf["dies"]).tolist(),
                             cowos_wafers=float(plan.use_cowos[0] * buf["cowos"]),
                             hbm_dies=float(plan.use_hbm[0] * buf["hbm"]))
        # everything that entered the stocks (the initial buffers, then arrivals), for the ledger:
        # stock = received - used by assembly - written off
        self.received = Stocks(dies=list(self.stocks.dies), cowos_wafers=self.stocks.cowos_wafers,
                               hbm_dies=self.stocks.hbm_dies)
        self.produced_total = [0] * n  # by product, cumulative
        self.written_off_dies = [0.0] * n  # by product, cumulative

        # pipelines, filled with the work in flight at the start
        self.lead = {"dies": max(f.lead_ticks for f in plan.fabs),
                     "cowos": max(line.lead_ticks for line in plan.cowos_lines),
                     "hbm": max(m.lead_ticks for m in plan.hbm_makers)}
        span = n_ticks + max(self.lead.values()) + 1
        self.dies_in: list[dict[int, float]] = [{} for _ in range(span)]
        self.inputs_in = {"cowos": [0.0] * span, "hbm": [0.0] * span}
        self.on_order_dies = [0.0] * n
        for fab in plan.fabs:
            for k, row in enumerate(fab.pre_start_arrivals.tolist()):
                for i, x in enumerate(row):
                    if x:
                        self._expect_dies(k, i, x)
        self.on_order = {}
        for key, stages in (("cowos", plan.cowos_lines), ("hbm", plan.hbm_makers)):
            for stage in stages:
                for k, x in enumerate(stage.pre_start_arrivals.tolist()):
                    self.inputs_in[key][k] += x
            self.on_order[key] = sum(self.inputs_in[key])

        # planned use, and its running sums (use over a lead time = a difference of two sums)
        self.use_dies = plan.use_dies.tolist()
        self.cum_dies = np.vstack([np.zeros(n), np.cumsum(plan.use_dies, axis=0)]).tolist()
        self.use = {"cowos": plan.use_cowos.tolist(), "hbm": plan.use_hbm.tolist()}
        self.cum = {k: np.concatenate([[0.0], np.cumsum(v)]).tolist() for k, v in self.use.items()}
        self.fab_caps = [(f.capacity.tolist(), f.lead_ticks) for f in plan.fabs]
        self.wafers_per_die = [(1.0 / plan.good_per_wafer[f]).tolist() for f in range(len(plan.fabs))]
        self.stage_caps = {"cowos": [(s.capacity.tolist(), s.lead_ticks) for s in plan.cowos_lines],
                           "hbm": [(s.capacity.tolist(), s.lead_ticks) for s in plan.hbm_makers]}
        self.bom = (plan.dies_per_gpu.tolist(), plan.cowos_wafers_per_gpu.tolist(), plan.hbm_dies_per_gpu.tolist())
        self.shares = plan.shares.tolist()
        # per tick, the products the schedule uses within the die lead time (no other is ordered),
        # and the products that have left the mix for good by then (their dies are written off)
        lead = self.lead["dies"]
        if lead > 0:  # ticks k+1 .. k+lead
            used = np.lib.stride_tricks.sliding_window_view(plan.use_dies[1:n_ticks + lead] > 0, lead, axis=0)
            used = used.any(axis=2)
        else:  # only the buffer at tick k
            used = plan.use_dies[:n_ticks] > 0
        self.ordering = [np.nonzero(row)[0].tolist() for row in used[:n_ticks]]
        self.left_mix = [[i for i in range(n) if plan.leaves_mix_tick[i] <= k] for k in range(n_ticks)]
        self.add_process(self._ticks)

    def _expect_dies(self, k: int, product: int, dies: float) -> None:
        arrivals = self.dies_in[k]
        arrivals[product] = arrivals.get(product, 0.0) + dies
        self.on_order_dies[product] += dies

    def _ticks(self):
        env, tick_days = self.env, self.plan.tick_days
        for k in range(len(self.plan.tick_starts)):
            day = k * tick_days
            if day > env.now:
                yield env.timeout(day - env.now)
            self._arrive(k)
            self._assemble(k)
            self._order_dies(k)
            for key, stock in (("cowos", "cowos_wafers"), ("hbm", "hbm_dies")):
                self._order(k, key, stock)

    def _arrive(self, k: int) -> None:
        """Tick k's arrivals into the stocks; dies of products out of the mix for good written off."""
        stocks, received = self.stocks, self.received
        dies = stocks.dies
        for i, x in self.dies_in[k].items():
            dies[i] += x
            received.dies[i] += x
            self.on_order_dies[i] -= x
        for i in self.left_mix[k]:
            if dies[i] > 0:
                self.written_off_dies[i] += dies[i]
                dies[i] = 0.0
        for key, stock in (("cowos", "cowos_wafers"), ("hbm", "hbm_dies")):
            x = self.inputs_in[key][k]
            if x:
                setattr(stocks, stock, getattr(stocks, stock) + x)
                setattr(received, stock, getattr(received, stock) + x)
                self.on_order[key] -= x

    def _assemble(self, k: int) -> None:
        """Build what the stocks allow at the tick's mix and ship it."""
        stocks = self.stocks
        dies_per_gpu, cowos_per_gpu, hbm_per_gpu = self.bom
        dies = stocks.dies
        made = assemble(dies, stocks.cowos_wafers, stocks.hbm_dies, self.shares[k], dies_per_gpu, cowos_per_gpu,
                        hbm_per_gpu)
        if not any(made):
            return
        cowos_used = hbm_used = 0.0
        for i, m in enumerate(made):
            if m:
                dies[i] = max(dies[i] - m * dies_per_gpu[i], 0.0)
                self.produced_total[i] += m
                cowos_used += m * cowos_per_gpu[i]
                hbm_used += m * hbm_per_gpu[i]
        stocks.cowos_wafers = max(stocks.cowos_wafers - cowos_used, 0.0)
        stocks.hbm_dies = max(stocks.hbm_dies - hbm_used, 0.0)
        self.ship(made)

    def _order_dies(self, k: int) -> None:
        """Wafer starts for the dies each product needs (order-up-to), split over the fabs by their
        capacity, all products cut pro rata when the fabs cannot start them all."""
        end = k + 1 + self.lead["dies"]
        dies, on_order, cum, use = self.stocks.dies, self.on_order_dies, self.cum_dies, self.use_dies
        buffer = self.plan.buffer_ticks["dies"]
        need = {i: x for i in self.ordering[k]
                if (x := order_up_to(dies[i] + on_order[i], cum[end][i] - cum[k + 1][i], buffer * use[end - 1][i],
                                     math.inf)) > 0}
        if not need:
            return
        caps = [cap[k] for cap, _ in self.fab_caps]
        total_cap = sum(caps)
        if total_cap <= 0:
            return
        wafers = sum(caps[f] / total_cap * sum(x * self.wafers_per_die[f][i] for i, x in need.items())
                     for f in range(len(caps)))
        scale = min(1.0, total_cap / wafers) if wafers > 0 else 0.0
        for (_, lead), cap in zip(self.fab_caps, caps):
            part = cap / total_cap * scale
            if part <= 0:
                continue
            for i, x in need.items():
                if lead > 0:
                    self._expect_dies(k + lead, i, x * part)
                else:  # no cycle time: straight into stock
                    dies[i] += x * part
                    self.received.dies[i] += x * part

    def _order(self, k: int, key: str, stock: str) -> None:
        """Starts of a shared input (CoWoS wafers, HBM dies): order-up-to against the schedule's use,
        within the suppliers' capacity, split by capacity."""
        end = k + 1 + self.lead[key]
        want = (self.cum[key][end] - self.cum[key][k + 1]) + self.plan.buffer_ticks[key] * self.use[key][end - 1]
        need = order_up_to(getattr(self.stocks, stock) + self.on_order[key], want, 0.0, math.inf)
        if need <= 0:
            return
        suppliers = self.stage_caps[key]
        caps = [cap[k] for cap, _ in suppliers]
        total_cap = sum(caps)
        if total_cap <= 0:
            return
        started = min(need, total_cap)
        for (_, lead), cap in zip(suppliers, caps):
            part = started * cap / total_cap
            if lead > 0:
                self.inputs_in[key][k + lead] += part
                self.on_order[key] += part
            else:
                setattr(self.stocks, stock, getattr(self.stocks, stock) + part)
                setattr(self.received, stock, getattr(self.received, stock) + part)

    def probe(self, day: float, rows: list[Row]) -> None:
        """Each input's capacity in accelerators a month at the tick's mix, the stocks waiting and their
        weeks of cover (stock over this tick's planned weekly use)."""
        plan, stocks, kind = self.plan, self.stocks, self.kind
        k = min(int(day // plan.tick_days), len(plan.tick_starts) - 1)
        per_month = DAYS_PER_MONTH / plan.tick_days
        for source, capacity in plan.capacity_gpus.items():
            value = float(capacity[k]) * per_month
            if np.isfinite(value):  # an input no product needs has no limit to report
                rows.append((day, "supply", kind, f"capacity_gpus_per_month_{source}", value))
        rows.append((day, "supply", kind, "planned_gpus_per_month", float(plan.planned_gpus[k].sum()) * per_month))
        die_stock = sum(stocks.dies)
        rows.append((day, "supply", kind, "logic_die_stock", die_stock))
        rows.append((day, "supply", kind, "cowos_wafer_stock", stocks.cowos_wafers))
        rows.append((day, "supply", kind, "hbm_die_stock", stocks.hbm_dies))
        rows.append((day, "supply", kind, "dies_written_off_total", sum(self.written_off_dies)))
        weeks = plan.tick_days / DAYS_PER_WEEK
        for metric, stock, use in (("weeks_of_cover_dies", die_stock, float(plan.use_dies[k].sum())),
                                   ("weeks_of_cover_cowos", stocks.cowos_wafers, float(plan.use_cowos[k])),
                                   ("weeks_of_cover_hbm", stocks.hbm_dies, float(plan.use_hbm[k]))):
            if use > 0:
                rows.append((day, "supply", kind, metric, stock / (use / weeks)))
