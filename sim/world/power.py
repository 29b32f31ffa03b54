"""Power plants and grid interconnections coming online at sites, in blocks.

A Plant hands its firm MW to its site in `phases` equal blocks, the first on its online day
(sim/config/plants.py says what a plant's firm MW and online day are) and the rest
`phase_interval_days` apart. A plant that needs power equipment (gas turbines, transformers: its
type's `equipment`) orders it from the makers' order book at its construction start
(sim/world/equipment.py) and cannot come online before the last order is filled plus its type's
`install_days`; the lab's view of when its blocks arrive moves with the order book. A policy
project through an interconnection queue may never complete (its type's `completion_probability`,
drawn when it starts): on the day it was due the lab learns it will not come, and its blocks leave
the lab's plans.
"""
from __future__ import annotations

from dataclasses import dataclass

import simpy

from sim.world.component import Component
from sim.world.equipment import EquipmentMaker
from sim.world.sites import Site


@dataclass(frozen=True)
class PlantEconomics:
    """What a plant's energy costs and emits, per MWh delivered."""

    usd_per_mwh: float = 0.0
    t_per_mwh: float = 0.0
    plant_type: str = ""
    region: str = ""


class Plant(Component):
    """A power plant (or a grid interconnection, or leased capacity) feeding one site."""

    kind = "plant"

    def __init__(self, env: simpy.Environment, name: str, site: Site, firm_mw: float, online_day: float,
                 phases: int = 1, phase_interval_days: float = 0.0, economics: PlantEconomics = PlantEconomics(),
                 equipment: list[tuple[EquipmentMaker, float]] | None = None, install_days: float = 0.0,
                 start_day: float = -1.0, completes: bool = True):
        super().__init__(env, name)
        self.site, self.firm_mw, self.economics = site, firm_mw, economics
        self.online_day = online_day  # as planned, before any wait for equipment
        self.start_day = start_day
        self.first_online_day: float | None = None  # when its first block came online
        self.failed = False
        self.interval = phase_interval_days
        self.blocks = [(online_day + k * phase_interval_days, firm_mw / phases) for k in range(phases)]
        site.planned_power.extend(self.blocks)
        orders = [(maker, mw) for maker, mw in (equipment or []) if mw > 0] if start_day >= 0 else []
        if not completes:
            self.add_process(self._fail)
        elif orders:
            if start_day <= env.now:  # ordered now: the lab plans on the order book's date at once
                self._shift(max(maker.expected_fill_day(mw, env.now) for maker, mw in orders) + install_days)
            self.add_process(self._wait_for_equipment, orders, install_days)
        else:
            due = [block for block in self.blocks if block[0] > 0]
            for day, mw in self.blocks:
                if day <= 0:
                    self._online(mw, day)
            if due:
                self.add_process(self._come_online, due)

    def _online(self, mw: float, day: float | None = None) -> None:
        if self.first_online_day is None:
            self.first_online_day = self.env.now if day is None else day
        e = self.economics
        self.site.add_power(mw, e.usd_per_mwh, e.t_per_mwh, (e.plant_type, e.region))

    def _come_online(self, blocks: list[tuple[float, float]]):
        for day, mw in blocks:
            if day > self.env.now:
                yield self.env.timeout(day - self.env.now)
            self._online(mw)

    def _shift(self, first_day: float) -> None:
        """Move the blocks so the first comes on `first_day` (never earlier than planned)."""
        first_day = max(first_day, self.online_day)
        new = [(first_day + k * self.interval, mw) for k, (_, mw) in enumerate(self.blocks)]
        if new != self.blocks:
            self.site.replan_power(self.blocks, new)
            self.blocks = new

    def _wait_for_equipment(self, orders: list[tuple[EquipmentMaker, float]], install_days: float):
        env = self.env
        if self.start_day > env.now:
            yield env.timeout(self.start_day - env.now)
        # the order book says when the equipment should come: the lab plans on that
        self._shift(max(maker.expected_fill_day(mw, env.now) for maker, mw in orders) + install_days)
        yield env.all_of([maker.order(mw, self.name) for maker, mw in orders])
        self._shift(env.now + install_days)
        yield from self._come_online(list(self.blocks))

    def _fail(self):
        """An interconnection request that never completes: known on the day it was due."""
        if self.online_day > self.env.now:
            yield self.env.timeout(self.online_day - self.env.now)
        self.failed = True
        self.site.replan_power(self.blocks, [])
        self.blocks = []
