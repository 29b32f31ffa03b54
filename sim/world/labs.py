"""Labs: the buyers. Each receives its GPUs from the allocator, holds what it cannot power in
inventory, and each tick installs GPUs into its sites as power allows (newest first, optionally
replacing older, less efficient GPUs when power binds).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import mul
from typing import Callable

import numpy as np
import simpy

from sim.config.schedule import DAYS_PER_MONTH
from sim.world.component import Component, Row
from sim.world.fleet import USES, Cohort, Fleet, Refresh, ServiceLife
from sim.world.money import Budget
from sim.world.sites import Site


@dataclass
class Purchasing:
    """A lab's purchase policy: it orders output only for the power it expects to have energized at
    delivery (its sites' build dates and plants' online days), times (1 + power_buffer), plus the
    power of old GPUs a refresh may replace, less what it already draws, holds and has in transit;
    and at most `max_h100e_per_year` H100e a calendar year. Newest products first.

    Why: frontier labs sign for accelerators against datacenter capacity they have contracted
    (OpenAI-Oracle Stargate, Meta's Hyperion and Prometheus, xAI Colossus were announced as
    GPU-and-site packages); buying chips that sit unpowered is capital idle for years. The buffer
    and cap are scenario inputs (`labs.NAME.purchasing`). With a budget (`labs.NAME.budget`) it also
    takes only what the budget left can pay for, at price x (1 + server overhead), newest first."""

    lead_days: float  # delivery lead time: the order is for the power expected on arrival
    power_buffer: float
    mw_per_gpu: list[float]  # facility MW per GPU at the lab's mean PUE
    newest_rank: list[int]  # product -> its rank, newest first
    buys: list[bool]  # product -> of a family the lab buys
    available_day: list[float]
    max_h100e_per_year: float = math.inf
    budget: Budget | None = None  # money: accelerators are paid when ordered
    price_all_in_usd: list[float] = field(default_factory=list)  # product -> price x (1 + server overhead)
    year_of: Callable[[float], int] = lambda day: int(day // 365.25)
    spent: dict[int, float] = field(default_factory=dict)  # calendar year -> H100e ordered

    def budget_left(self, day: float) -> float:
        return self.max_h100e_per_year - self.spent.get(self.year_of(day), 0.0)

    def spend(self, day: float, h100e: float) -> None:
        year = self.year_of(day)
        self.spent[year] = self.spent.get(year, 0.0) + h100e

    def newest_on_sale(self, newest_first: list[int], day: float) -> list[int]:
        """The newest product of the lab's families on sale by `day` (what a refresh would install)."""
        return [p for p in newest_first if self.buys[p] and self.available_day[p] <= day][:1]


class Lab(Component):
    """A lab's GPUs: delivered, waiting in inventory, installed at its sites, retired."""

    kind = "lab"

    def __init__(self, env: simpy.Environment, name: str, sites: list[Site], n_products: int,
                 h100e: list[float] | None = None, service_life: ServiceLife | None = None,
                 purchasing: "Purchasing | None" = None, budget: Budget | None = None):
        super().__init__(env, name)
        self.budget = budget  # its money (also its purchase policy's), None: not modelled
        self.sites, self.service_life, self.purchasing = sites, service_life, purchasing
        self.refreshable_mw = 0.0  # MW of installed GPUs a refresh may replace (set at each review)
        self.h100e = np.array(h100e if h100e is not None else [1.0] * n_products, dtype=float)
        self.h100e_list = self.h100e.tolist()
        self.inventory = [0] * n_products  # delivered, not yet installed, by product
        self.initial_total = [0] * n_products  # installed on the start date
        self.delivered_total = [0] * n_products  # received from the allocator since
        self.dirty = True  # a product that might fit arrived since the last install pass
        self.blocked: set[int] = set()  # products that found no room in the last pass
        self._energy_at_sample = 0.0
        self._ledger_at_sample = [0.0] * (len(USES) + 2)  # available, the uses, idle: at the last sample

    @property
    def retired_total(self) -> list[int]:
        """GPUs retired at the lab's sites, by product."""
        return [sum(s.fleet.retired_total[i] for s in self.sites) for i in range(len(self.inventory))]

    def installed(self) -> list[int]:
        """GPUs installed at the lab's sites, by product."""
        if not self.sites:
            return [0] * len(self.inventory)
        return [sum(column) for column in zip(*(s.fleet.installed for s in self.sites))]

    def install_initial(self, site: Site, product: int, count: int) -> Cohort:
        """GPUs in service on the start date (the scenario's `initial_gpus`); the caller starts their
        service life with the rest of the start-date fleet."""
        self.initial_total[product] += count
        return site.fleet.install(product, count, self.env.now)

    def order(self, owed: dict[int, int], now: float, in_transit: list[int]) -> dict[int, int]:
        """What the lab takes of the output it is owed (product -> GPUs): everything, or with a purchase
        policy only what it can power on delivery (see `Purchasing`). The rest goes to other buyers."""
        policy = self.purchasing
        if policy is None:
            return owed
        sites = self.sites
        arrival = now + policy.lead_days
        room_mw = (sum(site.expected_mw(arrival) for site in sites) * (1.0 + policy.power_buffer)
                   + self.refreshable_mw - sum(site.fleet.drawn_mw for site in sites)
                   - sum(map(mul, self.inventory, policy.mw_per_gpu)) - sum(map(mul, in_transit, policy.mw_per_gpu)))
        capped = policy.max_h100e_per_year != math.inf
        budget_h100e = policy.budget_left(now) if capped else math.inf
        money = policy.budget if policy.budget is not None and policy.budget.limited else None
        usd_left = money.left_usd(now) if money is not None else math.inf
        taken = {}
        for i in sorted(owed, key=policy.newest_rank.__getitem__):
            count = min(owed[i], max(0, int(room_mw / policy.mw_per_gpu[i])))
            if capped:
                count = min(count, max(0, int(budget_h100e / self.h100e_list[i])))
            price = policy.price_all_in_usd[i] if policy.price_all_in_usd else 0.0
            if money is not None and price > 0:
                count = min(count, max(0, int(usd_left / price)))
            if count > 0:
                taken[i] = count
                room_mw -= count * policy.mw_per_gpu[i]
                if capped:
                    budget_h100e -= count * self.h100e_list[i]
                    policy.spend(now, count * self.h100e_list[i])
                if policy.budget is not None and price > 0:
                    usd_left -= count * price
                    policy.budget.spend(count * price, "accelerators")
        return taken

    def receive(self, counts: list[int]) -> None:
        for i, n in enumerate(counts):
            if n:
                self.inventory[i] += n
                self.delivered_total[i] += n
                if i not in self.blocked:
                    self.dirty = True

    def install(self, newest_first: list[int], refresh: Refresh | None = None) -> list[tuple[Site, int, int]]:
        """Move inventory into sites with spare power, newest products first.

        With a refresh rule, a product that does enough more FLOP per watt than an installed one
        takes the older GPUs' power (oldest first); those are retired early. Returns the
        (site, product, count) batches installed. Skipped when neither the sites nor the set of
        products waiting have changed and no refresh review is due: the outcome would be the same.
        """
        # a refresh review (monthly) may make room for products that found none since
        review = refresh is not None and bool(self.blocked)
        if not (self.dirty or review or any(site.changed for site in self.sites)):
            return []
        self.dirty = False
        refreshed = False
        batches: list[tuple[Site, int, int]] = []
        cohorts: list = []
        inventory = self.inventory
        # power available does not change during a pass; what is drawn does
        powered = [(site, site.fleet, site.available_mw) for site in self.sites]
        for product in newest_first:
            wanted = inventory[product]
            if wanted == 0:
                continue
            # spare power anywhere first; only then replace older GPUs
            for site, fleet, available_mw in powered:
                count = min(wanted, fleet.room_for(product, available_mw))
                if count > 0:
                    wanted -= _install(site, fleet, product, count, cohorts, batches, self.env.now)
                    if wanted == 0:
                        break
            if wanted and refresh is not None and refresh.replaceable[product]:
                for site, fleet, available_mw in powered:
                    room, evicted = refresh.make_room(fleet, available_mw, product, wanted, self.env.now)
                    refreshed = refreshed or evicted > 0
                    count = min(wanted, room)
                    if count > 0:
                        wanted -= _install(site, fleet, product, count, cohorts, batches, self.env.now)
                        if wanted == 0:
                            break
            inventory[product] = wanted
        if self.service_life is not None:
            self.service_life.start(cohorts)
        for site in self.sites:
            site.seen()
        # until a site changes or the next refresh review, more of these products cannot fit either;
        # but power freed by a refresh may fit products handled earlier in this pass, so look again
        self.blocked = {p for p, count in enumerate(self.inventory) if count > 0}
        self.dirty = refreshed
        return batches

    def probe(self, day: float, rows: list[Row]) -> None:
        name, kind, sites, h100e = self.name, self.kind, self.sites, self.h100e_list
        installed = self.installed()
        rows.append((day, name, kind, "delivered_h100e_total", sum(map(mul, self.delivered_total, h100e))))
        rows.append((day, name, kind, "inventory_gpus", sum(self.inventory)))
        rows.append((day, name, kind, "inventory_h100e", sum(map(mul, self.inventory, h100e))))
        rows.append((day, name, kind, "installed_gpus", sum(installed)))
        rows.append((day, name, kind, "installed_h100e", sum(map(mul, installed, h100e))))
        rows.append((day, name, kind, "retired_gpus_total", sum(sum(s.fleet.retired_total) for s in sites)))
        rows.append((day, name, kind, "power_available_mw", sum(s.available_mw for s in sites)))
        rows.append((day, name, kind, "power_drawn_mw", sum(s.fleet.drawn_mw for s in sites)))
        rows.append((day, name, kind, "power_expected_mw", sum(s.expected_mw(day) for s in sites)))
        for s in sites:
            s.price_energy()
        energy = sum(s.fleet.energy_mwh() for s in sites)
        rows.append((day, name, kind, "energy_mwh", energy - self._energy_at_sample))
        self._energy_at_sample = energy
        rows.append((day, name, kind, "energy_cost_usd_total", sum(s.energy_cost_usd_total for s in sites)))
        rows.append((day, name, kind, "emissions_tco2_total", sum(s.emissions_t_total for s in sites)))
        self._probe_ledger(day, rows)
        budget = self.budget
        if budget is not None:
            rows.append((day, name, kind, "capex_usd_total", budget.capex_usd_total(day)))
            if budget.limited:
                rows.append((day, name, kind, "budget_usd_remaining", budget.left_usd(day)))


    def _probe_ledger(self, day: float, rows: list[Row]) -> None:
        """The compute ledger since the last sample: peak FLOP/s x seconds installed (`flop_available`),
        held by each use (`flop_pretraining`, ...) and idle; the uses and idle sum to what was available."""
        totals = [0.0] * (len(USES) + 2)
        for site in self.sites:
            available, uses, idle = site.fleet.flop_time()
            totals[0] += available
            for u, flop in enumerate(uses, start=1):
                totals[u] += flop
            totals[-1] += idle
        name, kind, last = self.name, self.kind, self._ledger_at_sample
        for metric, total, before in zip(LEDGER_METRICS, totals, last):
            rows.append((day, name, kind, metric, total - before))
        self._ledger_at_sample = totals


LEDGER_METRICS = ("flop_available", *(f"flop_{use}" for use in USES), "flop_idle")
"""The compute ledger's timeseries metrics, per lab and sample interval (a month)."""


def _install(site: Site, fleet: Fleet, product: int, count: int, cohorts: list, batches: list, day: float) -> int:
    """Install `count` GPUs of a product at a site and record the cohort and the batch."""
    cohorts.append((fleet, product, fleet.install(product, count, day)))
    batches.append((site, product, count))
    return count


class InstallPass(Component):
    """Each tick: deliveries due reach the labs, then every lab installs what its sites' spare power
    allows. One process for all labs (in scenario order) rather than one per lab: the same order, a
    fraction of the events. Refresh decisions (replacing installed GPUs) are taken once a month, on
    the first tick of each month: a fleet decision, reviewed monthly like the probes, not weekly."""

    kind = "labs"

    def __init__(self, env: simpy.Environment, labs: list[Lab], tick_starts: list[float], newest_first: list[int],
                 refresh: Refresh | None, deliver_due: Callable[[float], None]):
        super().__init__(env, "install_pass")
        self.labs, self.newest_first, self.refresh, self.deliver_due = labs, newest_first, refresh, deliver_due
        self.observers: list[Callable[[list[str]], None]] = []  # told after each pass which labs installed
        self.add_process(self._ticks, tick_starts)

    def _ticks(self, tick_starts: list[float]):
        env = self.env
        next_review = 0.0
        for day in tick_starts:
            if day > env.now:
                yield env.timeout(day - env.now)
            self.deliver_due(env.now)
            refresh = None
            if self.refresh is not None and day >= next_review:
                refresh, next_review = self.refresh, next_review + DAYS_PER_MONTH
            installed_at = []
            for lab in self.labs:
                if lab.install(self.newest_first, refresh):
                    installed_at.append(lab.name)
                if refresh is not None and lab.purchasing is not None:  # what the next orders may replace
                    newest = lab.purchasing.newest_on_sale(self.newest_first, day)
                    lab.refreshable_mw = sum(refresh.replaceable_mw(site.fleet, newest, day) for site in lab.sites)
            for observer in self.observers:
                observer(installed_at)
