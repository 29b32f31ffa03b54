"""Checks of a scenario's disruptions: names, dates, the effect each kind takes, and targets.

Returns the first problem as (key path, problem), like sim.config.references.check_references, so the
loader reports it as one line naming the file and the key path (e.g. disruptions.2.target).
"""
from __future__ import annotations

from sim.config.disruption_kinds import DURATION, EFFECT, EFFECT_FIELDS, SUPPLY_INPUT, names_target, plant_matches, split_link
from sim.config.errors import show
from sim.config.limits import MAX_EXPECTED_OCCURRENCES
from sim.config.schema import Disruption, Scenario


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _choices(names) -> str:
    names = list(names)
    return f"({', '.join(names)}; or all)" if names else "(none defined; or all)"


def check_disruptions(s: Scenario, topology_graph=None, targets: bool = True) -> tuple[tuple, str] | None:
    """The first problem with the scenario's disruptions as (key path, problem), or None.

    Checks: unique names; exactly one of start and rate_per_year; a start not before start_date;
    the effect field the kind needs and no other; duration_days where the kind needs or allows it;
    the target (a known fab, line, supplier, lab, plant type / site / plant, site, or a link "a-b"
    of the topology; or all). A fiber cut needs a topology.

    Whether a fiber cut's link exists is checked on `topology_graph` (the scenario's topology graph,
    or None to skip). targets=False skips the target checks (names, dates and effects only).
    """
    graph = topology_graph
    names: set[str] = set()
    years = ((s.end_date - s.start_date).days + 1) / 365.25
    expected = 0.0  # random occurrences over the horizon, on average, so far
    for i, d in enumerate(s.disruptions):
        at = ("disruptions", i)
        if d.name in names:
            return at + ("name",), f"duplicate disruption name {show(d.name)}"
        names.add(d.name)
        if d.start is not None and d.rate_per_year is not None:
            return at + ("rate_per_year",), "give start (scheduled) or rate_per_year (random), not both"
        if d.start is None and d.rate_per_year is None:
            return at, "give start (a date: scheduled) or rate_per_year (random)"
        if d.rate_per_year is not None:
            expected += d.rate_per_year * years
            if expected > MAX_EXPECTED_OCCURRENCES:
                return at + ("rate_per_year",), (
                    f"the random disruptions would occur about {expected:,.0f} times over the {years:.1f}-year "
                    f"horizon; at most {MAX_EXPECTED_OCCURRENCES:,} in all")
        if d.start is not None and d.start < s.start_date:
            return at + ("start",), f"is before start_date ({s.start_date})"
        need = EFFECT[d.kind]
        if need is not None and getattr(d, need) is None:
            return at + (need,), f"required for {_a(d.kind)}"
        for field in EFFECT_FIELDS:
            allowed = field == need or (d.kind == "fiber_cut" and field == "capacity_factor")
            if getattr(d, field) is not None and not allowed:
                effect = f"its effect is {need}" if need else "it takes a link down, or keeps capacity_factor of it"
                return at + (field,), f"not used by {_a(d.kind)} ({effect})"
        rule = DURATION[d.kind]
        if rule == "required" and d.duration_days is None:
            return at + ("duration_days",), f"required for {_a(d.kind)}"
        if rule == "unused" and d.duration_days is not None:
            return at + ("duration_days",), f"not used by {_a(d.kind)} (it happens once: its effect is {need})"
        problem = _check_target(s, d, graph) if targets else None
        if problem is not None:
            where, message = problem
            return at + where, message
    return None


def _check_target(s: Scenario, d: Disruption, graph) -> tuple[tuple, str] | None:
    kind, target = d.kind, d.target
    if kind == "fiber_cut":
        if s.topology is None:
            return ("kind",), "a fiber_cut needs a topology (the scenario names none)"
        if target == "all":
            return None
        site_node = {name: site.topology_site or name for name, site in s.sites.items()}
        known = set(site_node) | set(site_node.values()) | (set(graph.nodes) if graph is not None else set())
        pair = split_link(target, known)
        if pair is None:
            return ("target",), f"should be a link 'a-b' between two sites, or all (got {show(target)})"
        a, b = (site_node.get(x, x) for x in pair)
        if a == b:
            return ("target",), f"{show(target)} joins a site to itself"
        if graph is not None and not graph.has_edge(a, b):
            return ("target",), f"no link between {a} and {b} in topology {show(graph.graph.get('name', ''))}"
        return None
    if target == "all":
        return None
    if kind in SUPPLY_INPUT:
        pool, what = {"fab_outage": (s.logic_fabs, "logic fab"), "packaging_outage": (s.packaging_lines, "packaging line"),
                      "hbm_shortfall": (s.hbm_suppliers, "HBM supplier")}[kind]
        if target not in pool:
            return ("target",), f"unknown {what} {show(target)} {_choices(pool)}"
    elif kind == "equipment_shortfall":
        if target not in s.power_equipment:
            return ("target",), f"unknown power equipment {show(target)} {_choices(s.power_equipment)}"
    elif kind == "export_rule":
        if target not in s.labs:
            return ("target",), f"unknown lab {show(target)} {_choices(s.labs)}"
    elif kind in ("turbine_backlog", "interconnection_delay"):
        if target not in s.plant_types and not any(plant_matches(target, p) for p in s.power_plants):
            types = ", ".join(s.plant_types) or "none"
            return ("target",), f"matches no power plant: give a plant type ({types}), a site, a plant's name, or all"
    elif kind == "construction_delay":
        if not any(names_target(target, name) for name in s.sites):
            return ("target",), f"unknown site {show(target)} {_choices(s.sites)}"
    return None
