"""Datacenter sites: built on a date, fed by power plants, filled with GPUs up to their power.

A site can host GPUs only once built, and only while facility power covers them:
available MW = min(facility MW, firm MW online from the site's plants); each GPU draws its all-in IT
watts x PUE (Sevilla et al., "Can AI Scaling Continue Through 2030?", Epoch AI 2024: 700 W x 1.96
server overhead x 1.2 PUE ~ 1,700 W for an H100). The GPUs themselves are the site's `fleet`
(sim/world/fleet.py).
"""
from __future__ import annotations

import bisect
import itertools

import simpy

from sim.world.component import Component, Row
from sim.world.fleet import Fleet


class Site(Component):
    """One site: built or not, firm MW online, and its fleet of GPUs."""

    kind = "site"

    def __init__(self, env: simpy.Environment, name: str, lab: str, facility_mw: float, pue: float,
                 it_w_per_gpu: list[float], built_day: float = 0.0):
        super().__init__(env, name)
        self.lab, self.facility_mw, self.pue = lab, facility_mw, pue
        self.fleet = Fleet(it_w_per_gpu, pue)
        self.built = False
        self.firm_mw_online = 0.0
        self.built_day = built_day
        self.planned_power: list[tuple[float, float]] = []  # (online day, firm MW) of its plants
        self._steps: tuple[list[float], list[float]] | None = None  # planned_power as a step function
        self.power_changed = True  # power or construction changed since the lab last looked
        if built_day <= 0:
            self.mark_built()
        else:
            self.add_process(self._construction, built_day)

    @property
    def available_mw(self) -> float:
        """Power the site can deliver to IT load now: built facility capped by firm supply."""
        return min(self.facility_mw, self.firm_mw_online) if self.built else 0.0

    @property
    def changed(self) -> bool:
        """Anything a lab's install pass depends on changed since it last looked."""
        return self.power_changed or self.fleet.changed

    def seen(self) -> None:
        self.power_changed = self.fleet.changed = False

    def mark_built(self) -> None:
        self.built, self.power_changed = True, True

    def add_power(self, firm_mw: float) -> None:
        self.firm_mw_online += firm_mw
        self.power_changed = True

    def expected_mw(self, day: float) -> float:
        """The power the site will deliver on `day`, from its build date and its plants' online days
        (known to the lab: plants and sites are scheduled projects)."""
        if self.built_day > day:
            return 0.0
        if self._steps is None or len(self._steps[0]) != len(self.planned_power):
            planned = sorted(self.planned_power)
            self._steps = ([d for d, _ in planned], list(itertools.accumulate(mw for _, mw in planned)))
        days, cumulative = self._steps
        k = bisect.bisect_right(days, day)
        return min(self.facility_mw, cumulative[k - 1]) if k else 0.0

    def room_for(self, product: int) -> int:
        """How many more GPUs of a product fit in the site's spare power."""
        return self.fleet.room_for(product, self.available_mw)

    def _construction(self, built_day: float):
        """The site becomes usable on its completion day (construction start + duration)."""
        if built_day > self.env.now:
            yield self.env.timeout(built_day - self.env.now)
        self.mark_built()

    def probe(self, day: float, rows: list[Row]) -> None:
        fleet, name, kind = self.fleet, self.name, self.kind
        rows.append((day, name, kind, "built", int(self.built)))
        rows.append((day, name, kind, "power_online_mw", self.firm_mw_online))
        rows.append((day, name, kind, "power_available_mw", self.available_mw))
        rows.append((day, name, kind, "power_drawn_mw", fleet.drawn_mw))
        rows.append((day, name, kind, "installed_gpus", sum(fleet.installed)))
        rows.append((day, name, kind, "busy_gpus", sum(fleet.busy)))
