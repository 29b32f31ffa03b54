"""Chip supply, planned against the bottleneck: logic fabs, CoWoS packaging lines and HBM makers feed
accelerator assembly.

Stages and their units:
  logic fabs     -> good dies of each product (wafers x Poisson-yield good dies per wafer)
  CoWoS lines    -> yielded interposer wafers (a product takes 1 / packages_per_cowos_wafer of one)
  HBM makers     -> good DRAM core dies (TSV wafers x good dies per wafer); a product's HBM takes
                    hbm_stacks x hbm_stack_height of them (8-high, 12-high: taller stacks cost wafers)
Assembly builds accelerators from the three stocks by bill of materials at the product mix
(`assemble`); the scarcest input limits output and what is left is carried over.

Planning (material requirements planning with an order-up-to rule; the plan is built before the run
in sim/world/supply_plan.py):
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
from typing import Callable

import numpy as np
import simpy

from sim.config.schedule import DAYS_PER_MONTH
from sim.world.component import Component, Row
from sim.world.supply_plan import DAYS_PER_WEEK, SupplyPlan


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
