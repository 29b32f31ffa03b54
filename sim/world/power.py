"""Power plants and grid interconnections coming online at sites: each Plant hands its firm MW to
its site on its online day (sim/config/plants.py says what a plant's firm MW and online day are).
"""
from __future__ import annotations

import simpy

from sim.world.component import Component
from sim.world.sites import Site


class Plant(Component):
    """A power plant feeding one site: its firm MW reach the site on its online day."""

    kind = "plant"

    def __init__(self, env: simpy.Environment, name: str, site: Site, firm_mw: float, online_day: float):
        super().__init__(env, name)
        self.site, self.firm_mw, self.online_day = site, firm_mw, online_day
        site.planned_power.append((online_day, firm_mw))
        if online_day <= 0:
            site.add_power(firm_mw)
        else:
            self.add_process(self._come_online)

    def _come_online(self):
        if self.online_day > self.env.now:
            yield self.env.timeout(self.online_day - self.env.now)
        self.site.add_power(self.firm_mw)
