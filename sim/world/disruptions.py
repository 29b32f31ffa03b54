"""Disruptions: scheduled or random events with a target, an effect and a duration.

Kinds:

| kind                 | target                                   | effect                        | window          |
|----------------------|------------------------------------------|-------------------------------|-----------------|
| fab_outage           | a logic fab, or all                      | capacity_factor (capacity left)| duration_days  |
| packaging_outage     | a packaging line, or all                 | capacity_factor               | duration_days   |
| hbm_shortfall        | an HBM supplier, or all                  | capacity_factor               | duration_days   |
| export_rule          | a lab, or all                            | share_factor (x its share)    | optional: to end|
| turbine_backlog      | a plant type, site or plant, or all      | lead_time_factor (x lead time)| optional: to end|
| interconnection_delay| a plant type, site or plant, or all      | delay_days                    | instant         |
| construction_delay   | a site, or all                           | delay_days                    | instant         |
| fiber_cut            | a link "a-b" of the topology, or all     | capacity_factor (default 0: down) | duration_days |
| equipment_shortfall  | a power equipment type, or all           | capacity_factor (output left) | optional: to end|

How the world applies them (sim/world/assembly.py):
- outages and shortfalls multiply the wafers / stacks *started* in each tick by the capacity left
  (the share of the tick inside the window counts), so an outage reaches assembly after the cycle
  time and lingers for one cycle after it ends (`supply_capacity_factor`, used by plan_supply);
- an export rule multiplies a lab's share of output for GPUs made inside its window; what the lab
  does not get goes to other buyers (`share_changes`, used by the Allocator);
- a turbine backlog multiplies the lead time of matching plants whose construction starts inside its
  window; an interconnection delay pushes back matching plants not yet online on its day; a
  construction delay pushes back sites not yet built on its day (`plant_online_days`,
  `site_built_days`: applied before the processes are created);
- an equipment shortfall multiplies a power equipment maker's output inside its window, so every
  order behind it in the book waits longer (`equipment_capacity_factor`, used by sim/world/equipment.py);
- a fiber cut takes a WAN link down (or leaves `capacity_factor` of its bandwidth): a run whose
  window overlaps it is re-planned for the overlap on the graph without the link, and stalls when its
  sites are no longer connected (`fiber_cuts`, used by the training runs).

Random disruptions arrive as a Poisson process at `rate_per_year` over [start_date, end_date], each
lasting its duration. Their draws come from a stream of their own (sim/world/streams.py), so the run
streams, and every result of a scenario without disruptions, are the same as without this module.
A target naming a site or a plant also matches the parts `sim compare` splits it into (`name@node`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sim.config.disruption_kinds import (EFFECT_FIELDS, INSTANT, SUPPLY_INPUT, names_target, plant_matches,
                                         split_link)
from sim.config.plants import plant_lead_time_days, plant_online_day
from sim.config.schedule import DAYS_PER_YEAR, to_date, to_day
from sim.config.schema import Disruption, Scenario
from sim.world.component import Component, Row


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a disruption: its spec, first day and end day (exclusive; simulated days).

    end_day is inf for a window lasting through the end date, and equals start_day for the
    instantaneous kinds (delays).
    """

    index: int  # position in scenario.disruptions
    spec: Disruption
    start_day: float
    end_day: float

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def target(self) -> str:
        return self.spec.target

    def active(self, day: float) -> bool:
        return self.start_day <= day < self.end_day

    def record(self, start: dt.date) -> dict:
        """As written to summary.json: name, kind, target, start, end (null: through the end date)."""
        end = None if math.isinf(self.end_day) else to_date(self.end_day, start).isoformat()
        effect = {f: getattr(self.spec, f) for f in EFFECT_FIELDS if getattr(self.spec, f) is not None}
        return {"name": self.name, "kind": self.kind, "target": self.target,
                "start": to_date(self.start_day, start).isoformat(), "end": end, **effect}


# --- occurrences -----------------------------------------------------------------------------------

def occurrences(s: Scenario, rng: np.random.Generator) -> list[Occurrence]:
    """Every occurrence over the horizon, in time order (ties: scenario order).

    A scheduled disruption occurs once, on its start date. A random one occurs N ~ Poisson(rate x
    years) times over [start_date, end_date], on days drawn uniformly (whole days): a Poisson process.
    Each random disruption draws from its own child of `rng` (Generator.spawn, by its position), so
    changing one disruption's rate does not move the others' days. Deterministic for a given rng.
    """
    # the scenario's disruptions were checked when it was loaded (sim.config.disruption_checks); effects
    # skip targets they do not find (`sim compare` renames sites)
    horizon = to_day(s.end_date, s.start_date) + 1.0  # through the end of the last day
    children = rng.spawn(len(s.disruptions)) if s.disruptions else []
    out = []
    for i, (d, child) in enumerate(zip(s.disruptions, children)):
        if d.start is not None:
            days = [to_day(d.start, s.start_date)]
        else:
            n = int(child.poisson(d.rate_per_year * horizon / DAYS_PER_YEAR))
            days = np.floor(np.sort(child.uniform(0.0, horizon, n))).tolist()
        for day in days:
            if d.kind in INSTANT:
                end = day
            elif d.duration_days is None:
                end = math.inf
            else:
                end = day + d.duration_days
            out.append(Occurrence(i, d, float(day), float(end)))
    return sorted(out, key=lambda o: (o.start_day, o.index))


# --- supply ------------------------------------------------------------------------------------------

def capacity_factors(occs: list[Occurrence], source: str, name: str, start_days: np.ndarray,
                     tick_days: float) -> np.ndarray:
    """Capacity left for work started in each tick [day, day + tick) of one input.

    source: "logic" (a fab), "cowos" (a packaging line) or "hbm" (an HBM supplier). An occurrence
    covering a share c of a tick with capacity left f scales it by 1 - c (1 - f); overlapping
    occurrences multiply.
    """
    days = np.asarray(start_days, dtype=float)
    out = np.ones(len(days))
    for o in occs:
        if SUPPLY_INPUT.get(o.kind) != source or not names_target(o.target, name):
            continue
        covered = np.clip(np.minimum(days + tick_days, o.end_day) - np.maximum(days, o.start_day), 0.0, tick_days)
        out *= 1.0 - covered / tick_days * (1.0 - o.spec.capacity_factor)
    return out


def supply_capacity_factor(occs: list[Occurrence], tick_days: float) -> Callable[[str, str, np.ndarray], np.ndarray] | None:
    """The `capacity_factor(source, name, start_days)` callable plan_supply takes; None if no
    occurrence touches supply (plan_supply then does exactly what it does without disruptions)."""
    relevant = [o for o in occs if o.kind in SUPPLY_INPUT]
    if not relevant:
        return None

    def factor(source: str, name: str, start_days: np.ndarray) -> np.ndarray:
        return capacity_factors(relevant, source, name, start_days, tick_days)
    return factor


def equipment_capacity_factor(occs: list[Occurrence], equipment: str) -> Callable[[float], float]:
    """day -> share of an equipment type's output left: the product of every shortfall in effect."""
    relevant = [o for o in occs if o.kind == "equipment_shortfall" and names_target(o.target, equipment)]

    def factor(day: float) -> float:
        return math.prod(o.spec.capacity_factor for o in relevant if o.active(day))
    return factor


# --- allocation --------------------------------------------------------------------------------------

def share_changes(s: Scenario, occs: list[Occurrence]) -> dict[str, list[tuple[float, float]]]:
    """Per lab with an export rule: (day, factor on the lab's shares from that day on) at each window
    start and end: inside a window, the product of the share_factor of every rule in effect."""
    out = {}
    for lab, spec in s.labs.items():
        rules = [o for o in occs if o.kind == "export_rule" and names_target(o.target, lab)]
        if not rules:
            continue
        days = sorted({o.start_day for o in rules} | {o.end_day for o in rules if math.isfinite(o.end_day)})
        out[lab] = [(day, math.prod(o.spec.share_factor for o in rules if o.active(day))) for day in days]
    return out


# --- power and construction --------------------------------------------------------------------------

def plant_online_days(s: Scenario, occs: list[Occurrence]) -> list[float]:
    """Each plant's online day (scenario order) after turbine backlogs and interconnection delays.

    Turbine backlog: a matching plant whose construction starts inside the window has its lead time
    x lead_time_factor. Interconnection delay: a matching plant not yet online on the day it occurs
    comes online delay_days later (delays add up, in time order).
    """
    backlogs = [o for o in occs if o.kind == "turbine_backlog"]
    delays = [o for o in occs if o.kind == "interconnection_delay"]
    out = []
    for plant in s.power_plants:
        begin = to_day(plant.construction_start, s.start_date)
        factor = math.prod(o.spec.lead_time_factor for o in backlogs
                           if plant_matches(o.target, plant) and o.active(begin))
        online = plant_online_day(s, plant) if factor == 1.0 else begin + plant_lead_time_days(s, plant) * factor
        for o in delays:
            if plant_matches(o.target, plant) and online > o.start_day:
                online += o.spec.delay_days
        out.append(online)
    return out


def site_built_days(s: Scenario, occs: list[Occurrence]) -> dict[str, float]:
    """Each site's completion day after construction delays: a matching site not yet built on the
    day a delay occurs is finished delay_days later (delays add up, in time order)."""
    delays = [o for o in occs if o.kind == "construction_delay"]
    out = {}
    for name, site in s.sites.items():
        built = to_day(site.construction_start, s.start_date) + site.construction_days
        for o in delays:
            if names_target(o.target, name) and built > o.start_day:
                built += o.spec.delay_days
        out[name] = built
    return out


# --- network -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FiberCut:
    """A WAN cut as a run sees it: from start_day to end_day, these topology edges keep `factor` of
    their bandwidth (0: down)."""

    start_day: float
    end_day: float
    edges: tuple[tuple[str, str], ...]
    factor: float


def fiber_cuts(occs: list[Occurrence], topology, site_node: dict[str, str]) -> list[FiberCut]:
    """The fiber cuts on a loaded topology. A link end may be a scenario site or a topology site; a
    link the topology lacks (e.g. the scenario placed on another topology by `sim compare`) is
    not cut."""
    cuts = [o for o in occs if o.kind == "fiber_cut"]
    if not cuts or topology is None:
        return []
    graph = topology.graph
    out = []
    for o in cuts:
        factor = o.spec.capacity_factor if o.spec.capacity_factor is not None else 0.0
        if o.target == "all":
            edges = tuple(graph.edges)
        else:
            names = set(site_node) | set(graph.nodes)
            pair = split_link(o.target, names)
            if pair is None:
                continue
            a, b = (site_node.get(x, x) for x in pair)
            if not graph.has_edge(a, b):
                continue
            edges = ((a, b),)
        out.append(FiberCut(o.start_day, o.end_day, edges, factor))
    return out


def cut_pieces(cuts: list[FiberCut], begin: float, end: float) -> list[tuple[float, tuple[FiberCut, ...]]]:
    """[begin, end) split where cuts start or end: (length in days, cuts in effect) per piece."""
    inside = [c for c in cuts if c.start_day < end and c.end_day > begin]
    if not inside:
        return [(end - begin, ())] if end > begin else []
    points = sorted({begin, end} | {c.start_day for c in inside if begin < c.start_day < end}
                    | {c.end_day for c in inside if begin < c.end_day < end})
    pieces = []
    for a, b in zip(points, points[1:]):
        pieces.append((b - a, tuple(c for c in inside if c.start_day <= a < c.end_day)))
    return pieces


def cut_topology(topology, cuts: tuple[FiberCut, ...]):
    """A copy of the topology whose graph lacks the cut links (or has their bandwidth scaled)."""
    graph = topology.graph.copy()
    factors: dict[frozenset, float] = {}
    for c in cuts:
        for u, v in c.edges:
            key = frozenset((u, v))
            factors[key] = factors.get(key, 1.0) * c.factor
    for key, factor in factors.items():
        u, v = tuple(key)
        if not graph.has_edge(u, v):
            continue
        if factor <= 0:
            graph.remove_edge(u, v)
        else:
            graph.edges[u, v]["bandwidth_bit_s"] = graph.edges[u, v]["bandwidth_bit_s"] * factor
    return dataclasses.replace(topology, graph=graph)


# --- the component ------------------------------------------------------------------------------------

class Disruptions(Component):
    """The scenario's disruptions as they occurred in this simulation: what the other components were
    built from, and a probe of which were in effect on each sample day."""

    kind = "disruption"

    def __init__(self, env, s: Scenario, rng: np.random.Generator):
        super().__init__(env, "disruptions")
        self.scenario = s
        self.occurrences = occurrences(s, rng)
        self._windowed = [(i, d.name) for i, d in enumerate(s.disruptions) if d.kind not in INSTANT]

    def records(self) -> list[dict]:
        """Every occurrence as summary.json lists it, in time order."""
        return [o.record(self.scenario.start_date) for o in self.occurrences]

    def probe(self, day: float, rows: list[Row]) -> None:
        """`disruption_active`: occurrences in effect, for every disruption with a window (delays are
        instantaneous and have none)."""
        for i, name in self._windowed:
            rows.append((day, name, self.kind, "disruption_active",
                         sum(1 for o in self.occurrences if o.index == i and o.active(day))))
