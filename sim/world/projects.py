"""Building projects: datacenter sites and the plants feeding them, typed in the scenario or started
by a lab's procurement policy, each with its record for buildout.csv and its capex.

`Projects` makes the Site and Plant components and the records, charges a project's capex to its lab's
budget over its build, from its start to its last hall or block (projects started by the start date are
sunk: recorded, not charged), and
tells the rest of the world about a site started during the run (its lab, the training runs, the
probes). Capex: halls at `costs.datacenter_capex_usd_per_mw` per facility MW (none for leased
capacity, whose lease pays for the hall), plants at their type's `capex_usd_per_mw` per nameplate MW.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import simpy

from sim.world.component import Component
from sim.world.equipment import EquipmentMaker
from sim.world.money import Budget
from sim.world.power import Plant, PlantEconomics
from sim.world.sites import Site


@dataclass
class BuildoutRecord:
    """One row of buildout.csv (days are simulated days; the table turns them into dates)."""

    name: str
    lab: str
    kind: str  # "site" or "plant"
    type: str  # a site: "datacenter" or "leased"; a plant: its plant type
    region: str
    mw: float  # a site: facility MW; a plant: nameplate MW
    start_day: float
    planned_by: str  # "scenario" or "policy"
    capex_usd: float
    component: Component | None = None  # the Site or Plant, read for its online day at the end
    hall_index: int = 0  # a site project: the plan index of its first hall at the site

    @property
    def online_day(self) -> float | None:
        """First block (hall or plant block) online; None if never (within the run, or failed)."""
        c = self.component
        if isinstance(c, Plant):
            return c.first_online_day
        if isinstance(c, Site):
            return c.hall_done.get(self.hall_index)
        return None


@dataclass(frozen=True)
class PlantOrder:
    """A plant as a project needs it: its type's numbers already resolved."""

    name: str
    type: str
    nameplate_mw: float
    firm_mw: float
    online_day: float
    start_day: float
    phases: int
    phase_interval_days: float
    economics: PlantEconomics
    equipment: list[tuple[EquipmentMaker, float]]
    install_days: float
    capex_usd: float
    completes: bool = True


class Projects(Component):
    """Makes sites and plants, keeps their records, charges budgets, announces new sites."""

    kind = "projects"

    def __init__(self, env: simpy.Environment, budgets: dict[str, Budget], datacenter_usd_per_mw: float):
        super().__init__(env, "projects")
        self.budgets, self.datacenter_usd_per_mw = budgets, datacenter_usd_per_mw
        self.records: list[BuildoutRecord] = []
        self.sites: list[Site] = []
        self.plants: list[Plant] = []
        self.on_new_site: list[Callable[[Site, str], None]] = []  # (site, topology node), for sites started in the run

    def site_capex_usd(self, facility_mw: float, leased: bool) -> float:
        return 0.0 if leased else facility_mw * self.datacenter_usd_per_mw

    def add_site(self, site: Site, region: str, start_day: float, planned_by: str, leased: bool = False,
                 node: str | None = None, name: str | None = None) -> Site:
        """A new site and its first halls (`node`: its topology site, when it starts during the run)."""
        site.region = region
        self._record_halls(site, name or site.name, 0, site.facility_mw_planned, start_day, planned_by, leased,
                           site.facility_plan[-1][0])
        self.sites.append(site)
        if node is not None:
            for announce in self.on_new_site:
                announce(site, node)
        return site

    def add_halls(self, site: Site, name: str, start_day: float, first_day: float, facility_mw: float,
                  phases: int, interval_days: float, planned_by: str, leased: bool = False) -> None:
        """More halls at a site (a campus the procurement policy grows), as one project."""
        index = site.plan_halls(first_day, facility_mw, phases, interval_days)
        self._record_halls(site, name, index, facility_mw, start_day, planned_by, leased,
                           first_day + (phases - 1) * interval_days)

    def _record_halls(self, site: Site, name: str, index: int, facility_mw: float, start_day: float,
                      planned_by: str, leased: bool, last_day: float) -> None:
        capex = self.site_capex_usd(facility_mw, leased)
        self.records.append(BuildoutRecord(name, site.lab, "site", "leased" if leased else "datacenter",
                                           site.region or "", facility_mw, start_day, planned_by, capex, site, index))
        self._charge(site.lab, capex, "datacenters", start_day, last_day)

    def add_plant(self, order: PlantOrder, site: Site, region: str, planned_by: str) -> Plant:
        plant = Plant(self.env, order.name, site, order.firm_mw, order.online_day, order.phases,
                      order.phase_interval_days, order.economics, order.equipment, order.install_days,
                      order.start_day, order.completes)
        self.records.append(BuildoutRecord(order.name, site.lab, "plant", order.type, region, order.nameplate_mw,
                                           order.start_day, planned_by, order.capex_usd, plant))
        self._charge(site.lab, order.capex_usd, "plants", order.start_day, plant.blocks[-1][0] if plant.blocks else order.start_day)
        self.plants.append(plant)
        return plant

    def _charge(self, lab: str, usd: float, category: str, start_day: float, end_day: float) -> None:
        """Pay a project's capex over its build; one started by the start date is sunk (not charged)."""
        budget = self.budgets.get(lab)
        if budget is None or usd <= 0 or start_day <= 0:
            return
        budget.commit_build(usd, category, start_day, end_day)
