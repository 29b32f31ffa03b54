"""Datacenter sites: built in phases, fed by power plants, filled with GPUs up to their power.

A site can host GPUs only once its first hall is built, and only while facility power covers them:
available MW = min(facility MW built so far, firm MW online from the site's plants). Halls finish in
`phases` equal blocks `phase_interval_days` apart (Stargate Abilene: 200 MW in 2025, 1.2 GW by
mid-2026, press 2025), as plants come online in blocks. Each GPU draws its all-in IT
watts x PUE (Sevilla et al., "Can AI Scaling Continue Through 2030?", Epoch AI 2024: 700 W x 1.96
server overhead x 1.2 PUE ~ 1,700 W for an H100). The GPUs themselves are the site's `fleet`
(sim/world/fleet.py). The site counts the energy its fleet draws, and prices it and its carbon at the
mix of the plants feeding it (firm-MW weighted; grid power at its region's price and intensity).
"""
from __future__ import annotations

import bisect
import itertools

import simpy

from sim.world.component import Component, Row
from sim.world.fleet import Fleet


class Site(Component):
    """One site: halls built so far, firm MW online, its fleet of GPUs, and the energy it has drawn."""

    kind = "site"

    def __init__(self, env: simpy.Environment, name: str, lab: str, facility_mw: float, pue: float,
                 it_w_per_gpu: list[float], built_day: float = 0.0, phases: int = 1,
                 phase_interval_days: float = 0.0, planned_by: str = "scenario",
                 peak_flop_s: list[float] | None = None):
        super().__init__(env, name)
        self.lab, self.pue, self.planned_by = lab, pue, planned_by
        self.region: str | None = None  # its power region (set by sim/world/projects.py)
        self.fleet = Fleet(it_w_per_gpu, pue, clock=lambda: env.now, peak_flop_s=peak_flop_s)
        self.built = False
        self.facility_mw = 0.0  # built so far
        self.firm_mw_online = 0.0
        self.built_day = built_day  # the first hall
        self.facility_plan: list[tuple[float, float]] = []  # (day, facility MW) of each hall, in plan order
        self.hall_done: dict[int, float] = {}  # plan index -> the day that hall was finished
        self.planned_power: list[tuple[float, float]] = []  # (online day, firm MW) of its plants
        self._steps: tuple[list[float], list[float]] | None = None  # planned_power as a step function
        self._hall_steps: tuple[list[float], list[float]] = ([], [])
        self.power_changed = True  # power or construction changed since the lab last looked
        # the supply mix, firm-MW weighted: (MW, $/MWh x MW, tCO2/MWh x MW) of what is online
        self._mix_mw = self._mix_price = self._mix_carbon = 0.0
        self._energy_at_sample = self._energy_priced = 0.0
        self.energy_cost_usd_total = 0.0
        self.emissions_t_total = 0.0
        self._sources: dict[tuple[str, str], tuple[float, float]] = {}  # (type, region) -> (firm MW, tCO2/MWh)
        self.energy_by_source: dict[tuple[str, str], tuple[float, float]] = {}  # (type, region) -> (MWh, tCO2)
        self.plan_halls(built_day, facility_mw, phases, phase_interval_days)

    @property
    def facility_mw_planned(self) -> float:
        return sum(mw for _, mw in self.facility_plan)

    def plan_halls(self, first_day: float, facility_mw: float, phases: int = 1, interval_days: float = 0.0) -> int:
        """Plan `phases` equal halls of `facility_mw` in all, the first on `first_day` (a campus grows
        by a project's halls); returns the plan index of the first."""
        first = len(self.facility_plan)
        blocks = [(first + k, first_day + k * interval_days, facility_mw / phases) for k in range(phases)]
        self.facility_plan.extend((day, mw) for _, day, mw in blocks)
        planned = sorted(self.facility_plan)
        self._hall_steps = ([d for d, _ in planned], list(itertools.accumulate(mw for _, mw in planned)))
        self.built_day = min(self.built_day, first_day) if first else first_day
        for index, day, mw in blocks:
            if day <= 0:
                self.add_hall(mw, index, day)
        due = [(index, day, mw) for index, day, mw in blocks if day > 0]
        if due:
            self.add_process(self._construction, due)
        return first

    @property
    def available_mw(self) -> float:
        """Power the site can deliver to IT load now: built halls capped by firm supply."""
        return min(self.facility_mw, self.firm_mw_online) if self.built else 0.0

    @property
    def energy_price_usd_per_mwh(self) -> float:
        """The price of the energy the site draws now: its supply mix, firm-MW weighted."""
        return self._mix_price / self._mix_mw if self._mix_mw > 0 else 0.0

    @property
    def changed(self) -> bool:
        """Anything a lab's install pass depends on changed since it last looked."""
        return self.power_changed or self.fleet.changed

    def seen(self) -> None:
        self.power_changed = self.fleet.changed = False

    def add_hall(self, mw: float, index: int, day: float | None = None) -> None:
        """Hall `index` of the plan is finished (on `day`, before the start date for start-date halls)."""
        self.hall_done[index] = self.env.now if day is None else day
        self.facility_mw += mw
        self.built, self.power_changed = True, True

    def add_power(self, firm_mw: float, usd_per_mwh: float = 0.0, t_per_mwh: float = 0.0,
                  source: tuple[str, str] = ("", "")) -> None:
        """Firm MW come online from a source (plant type, region), delivering energy at this price and
        carbon intensity."""
        self.price_energy()
        self.firm_mw_online += firm_mw
        self._mix_mw += firm_mw
        self._mix_price += firm_mw * usd_per_mwh
        self._mix_carbon += firm_mw * t_per_mwh
        mw, _ = self._sources.get(source, (0.0, t_per_mwh))
        self._sources[source] = (mw + firm_mw, t_per_mwh)
        self.power_changed = True

    def replan_power(self, old: list[tuple[float, float]], new: list[tuple[float, float]]) -> None:
        """A plant's expected blocks moved (equipment late, a project that failed): the lab's view of
        the power to come changes with them."""
        for entry in old:
            self.planned_power.remove(entry)
        self.planned_power.extend(new)
        self._steps = None

    def expected_mw(self, day: float) -> float:
        """The power the site will deliver on `day`, from its halls' dates and its plants' expected
        online days (known to the lab: plants and sites are scheduled projects)."""
        if self.built_day > day:
            return 0.0
        if self._steps is None or len(self._steps[0]) != len(self.planned_power):
            planned = sorted(self.planned_power)
            self._steps = ([d for d, _ in planned], list(itertools.accumulate(mw for _, mw in planned)))
        days, cumulative = self._steps
        k = bisect.bisect_right(days, day)
        hall_days, halls = self._hall_steps
        h = bisect.bisect_right(hall_days, day)
        return min(halls[h - 1] if h else 0.0, cumulative[k - 1]) if k else 0.0

    def room_for(self, product: int) -> int:
        """How many more GPUs of a product fit in the site's spare power."""
        return self.fleet.room_for(product, self.available_mw)

    def price_energy(self) -> None:
        """Bring the energy cost and emissions up to now: price the energy drawn since the last look at the mix online over that time."""
        energy = self.fleet.energy_mwh()
        delta, self._energy_priced = energy - self._energy_priced, energy
        if delta > 0 and self._mix_mw > 0:
            self.energy_cost_usd_total += delta * self._mix_price / self._mix_mw
            self.emissions_t_total += delta * self._mix_carbon / self._mix_mw
            for source, (mw, t_per_mwh) in self._sources.items():  # each source's share of the energy
                share = delta * mw / self._mix_mw
                energy, emitted = self.energy_by_source.get(source, (0.0, 0.0))
                self.energy_by_source[source] = (energy + share, emitted + share * t_per_mwh)

    def _construction(self, halls: list[tuple[int, float, float]]):
        """Each hall becomes usable on its completion day."""
        for index, day, mw in halls:
            if day > self.env.now:
                yield self.env.timeout(day - self.env.now)
            self.add_hall(mw, index)

    def probe(self, day: float, rows: list[Row]) -> None:
        fleet, name, kind = self.fleet, self.name, self.kind
        self.price_energy()
        energy = fleet.energy_mwh()
        rows.append((day, name, kind, "built", int(self.built)))
        rows.append((day, name, kind, "facility_mw", self.facility_mw))
        rows.append((day, name, kind, "power_online_mw", self.firm_mw_online))
        rows.append((day, name, kind, "power_available_mw", self.available_mw))
        rows.append((day, name, kind, "power_drawn_mw", fleet.drawn_mw))
        rows.append((day, name, kind, "installed_gpus", sum(fleet.installed)))
        rows.append((day, name, kind, "busy_gpus", sum(fleet.busy)))
        rows.append((day, name, kind, "energy_mwh", energy - self._energy_at_sample))
        rows.append((day, name, kind, "energy_mwh_total", energy))
        rows.append((day, name, kind, "energy_cost_usd_total", self.energy_cost_usd_total))
        rows.append((day, name, kind, "emissions_tco2_total", self.emissions_t_total))
        self._energy_at_sample = energy
