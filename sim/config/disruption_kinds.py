"""The disruption kinds: what each targets, the effect field it takes, its window; and how a target
names things. Shared by the scenario checks (sim/config/disruption_checks.py) and the world, which
applies them (sim/world/disruptions.py).
"""
from __future__ import annotations

from sim.config.schema import PowerPlant

SUPPLY_INPUT = {"fab_outage": "logic", "packaging_outage": "cowos", "hbm_shortfall": "hbm"}
EFFECT_FIELDS = ("capacity_factor", "share_factor", "lead_time_factor", "delay_days")
# the effect field each kind needs (None: optional capacity_factor, fiber cut only)
EFFECT = {
    "fab_outage": "capacity_factor", "packaging_outage": "capacity_factor", "hbm_shortfall": "capacity_factor",
    "export_rule": "share_factor", "turbine_backlog": "lead_time_factor",
    "interconnection_delay": "delay_days", "construction_delay": "delay_days", "fiber_cut": None,
    "equipment_shortfall": "capacity_factor",
}
DURATION = {  # duration_days: required, optional (default: through the end date) or unused (instant)
    "fab_outage": "required", "packaging_outage": "required", "hbm_shortfall": "required", "fiber_cut": "required",
    "export_rule": "optional", "turbine_backlog": "optional", "equipment_shortfall": "optional",
    "interconnection_delay": "unused", "construction_delay": "unused",
}
INSTANT = {"interconnection_delay", "construction_delay"}


def names_target(target: str, name: str) -> bool:
    """A target names `name`, or the part of it on one topology site (`name@node`, sim compare)."""
    return target == "all" or name == target or name.startswith(target + "@")


def plant_matches(target: str, plant: PowerPlant) -> bool:
    return target == plant.type or names_target(target, plant.name) or names_target(target, plant.site)


def split_link(target: str, names) -> tuple[str, str] | None:
    """"a-b" -> (a, b) where both are in `names` (names may themselves contain '-'); else None."""
    names = set(names)
    for i, ch in enumerate(target):
        if ch == "-" and target[:i] in names and target[i + 1:] in names:
            return target[:i], target[i + 1:]
    return None
