"""Power plants and grid interconnections coming online at sites.

A plant delivers firm MW (nameplate x firm fraction) from its online day: construction start (or,
for a grid interconnection, the request date) plus its lead time (the queue wait). Lead times and
firm fractions default from the scenario's plant types (sources beside each type in the scenario).
"""
from __future__ import annotations

import simpy

from sim.config.schedule import to_day
from sim.config.schema import PowerPlant, Scenario
from sim.world.component import Component
from sim.world.sites import Site


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
    """Firm MW online at a site on a day (pure; the Plant component does the same over time)."""
    return sum(
        plant_firm_mw(s, p) for p in s.power_plants if p.site == site and plant_online_day(s, p) <= day
    )


class Plant(Component):
    """A power plant feeding one site: its firm MW reach the site on its online day."""

    kind = "plant"

    def __init__(self, env: simpy.Environment, name: str, site: Site, firm_mw: float, online_day: float):
        super().__init__(env, name)
        self.site, self.firm_mw, self.online_day = site, firm_mw, online_day
        if online_day <= 0:
            site.add_power(firm_mw)
        else:
            self.add_process(self._come_online)

    def _come_online(self):
        if self.online_day > self.env.now:
            yield self.env.timeout(self.online_day - self.env.now)
        self.site.add_power(self.firm_mw)
