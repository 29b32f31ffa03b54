"""What a scenario's power plants deliver, and when: pure arithmetic on the scenario.

A plant delivers firm MW (nameplate x firm fraction) from its online day: construction start (or,
for a grid interconnection, the request date) plus its lead time (the queue wait). Lead times and
firm fractions default from the scenario's plant types (sources beside each type in the scenario).
Used by the scenario checks (power online on the start date), the world's Plant components and the
disruptions that delay plants.
"""
from __future__ import annotations

from sim.config.schedule import to_day
from sim.config.schema import PowerPlant, Scenario


def plant_lead_time_days(s: Scenario, plant: PowerPlant) -> float:
    return plant.lead_time_days if plant.lead_time_days is not None else s.plant_types[plant.type].lead_time_days


def plant_firm_mw(s: Scenario, plant: PowerPlant) -> float:
    """Firm MW a plant adds: nameplate x firm fraction (plant's own, else its type's)."""
    fraction = plant.firm_fraction if plant.firm_fraction is not None else s.plant_types[plant.type].firm_fraction
    return plant.capacity_mw * fraction


def plant_online_day(s: Scenario, plant: PowerPlant) -> float:
    """Simulated day the plant starts delivering: construction start + lead time."""
    return to_day(plant.construction_start, s.start_date) + plant_lead_time_days(s, plant)


def firm_mw_online(s: Scenario, site: str, day: float) -> float:
    """Firm MW online at a site on a day (the world's Plant components do the same over time)."""
    return sum(
        plant_firm_mw(s, p) for p in s.power_plants if p.site == site and plant_online_day(s, p) <= day
    )
