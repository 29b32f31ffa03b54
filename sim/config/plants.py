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


def plant_blocks(s: Scenario, plant: PowerPlant, online_day: float | None = None) -> list[tuple[float, float]]:
    """(day, firm MW) of each block a plant brings online: `phases` equal blocks from its online day."""
    first = plant_online_day(s, plant) if online_day is None else online_day
    mw = plant_firm_mw(s, plant) / plant.phases
    return [(first + k * plant.phase_interval_days, mw) for k in range(plant.phases)]


def firm_mw_online(s: Scenario, site: str, day: float) -> float:
    """Firm MW online at a site on a day (the world's Plant components do the same over time)."""
    return sum(mw for p in s.power_plants if p.site == site for d, mw in plant_blocks(s, p) if d <= day)


def facility_mw_built(s: Scenario, site: str, day: float) -> float:
    """Facility MW of a site's halls finished by a day (phases equal blocks)."""
    spec = s.sites[site]
    first = to_day(spec.construction_start, s.start_date) + spec.construction_days
    return sum(spec.facility_mw / spec.phases for k in range(spec.phases) if first + k * spec.phase_interval_days <= day)


def energy_terms(s: Scenario, plant_type: str, region: str | None) -> tuple[float, float]:
    """($/MWh, tCO2/MWh) of the energy a plant of this type delivers in a region: the type's own
    (fuel and O&M, its combustion), else the region's grid price and intensity (0 without a region)."""
    spec = s.plant_types[plant_type]
    grid = s.regions.get(region) if region is not None else None
    price = spec.energy_price_usd_per_mwh if spec.energy_price_usd_per_mwh is not None else (
        grid.energy_price_usd_per_mwh if grid else 0.0)
    carbon = spec.carbon_t_per_mwh if spec.carbon_t_per_mwh is not None else (grid.grid_carbon_t_per_mwh if grid else 0.0)
    return price, carbon
