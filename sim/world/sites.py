"""Datacenter sites: built on a date, fed by power plants, filled with GPUs up to their power.

A site can host GPUs only once built, and only while facility power covers them:
available MW = min(facility MW, firm MW online from the site's plants); each GPU draws its
all-in IT watts x PUE (Epoch 2030 report: 700 W x 1.96 x 1.2 ~ 1,700 W for an H100).
GPUs are tracked in cohorts (one per install batch) so that each retires at the end of its own
service life, and so that a refresh removes the oldest first.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import simpy


class Cohort:
    """GPUs of one product installed together; `count` is how many are still in service."""

    __slots__ = ("count",)

    def __init__(self, count: int):
        self.count = count


@dataclass
class SiteState:
    """One site's counts: built or not, firm MW online, GPUs installed / busy by product index."""

    name: str
    lab: str
    facility_mw: float
    pue: float
    it_w_per_gpu: list[float]  # by product index
    built: bool = False
    firm_mw_online: float = 0.0
    installed: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)  # held by running training runs
    retire_pending: list[int] = field(default_factory=list)  # past service life, freed when a run ends
    drawn_mw: float = 0.0  # facility MW drawn by installed GPUs (kept in step with `installed`)
    changed: bool = True  # power, construction or GPUs changed since the lab last looked
    cohorts: list[deque] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.it_w_per_gpu)
        self.installed = self.installed or [0] * n
        self.busy = self.busy or [0] * n
        self.retire_pending = self.retire_pending or [0] * n
        self.cohorts = self.cohorts or [deque() for _ in range(n)]
        self._mw_per_gpu = [w * self.pue / 1e6 for w in self.it_w_per_gpu]

    @property
    def available_mw(self) -> float:
        """Power the site can deliver to IT load now: built facility capped by firm supply."""
        return min(self.facility_mw, self.firm_mw_online) if self.built else 0.0

    def mark_built(self) -> None:
        self.built, self.changed = True, True

    def add_power(self, firm_mw: float) -> None:
        self.firm_mw_online += firm_mw
        self.changed = True

    def room_for(self, product: int) -> int:
        """How many more GPUs of a product fit in the spare power (hardware.gpus_within_power,
        with the per-GPU MW cached: this runs on every install pass)."""
        spare_mw = (min(self.facility_mw, self.firm_mw_online) if self.built else 0.0) - self.drawn_mw
        return int(spare_mw / self._mw_per_gpu[product] + 1e-9) if spare_mw > 0 else 0

    def install(self, product: int, count: int) -> Cohort:
        self.installed[product] += count
        self.drawn_mw += count * self._mw_per_gpu[product]
        cohort = Cohort(count)
        self.cohorts[product].append(cohort)
        return cohort

    def free(self, product: int) -> int:
        return self.installed[product] - self.busy[product]

    def retire(self, product: int, cohort: Cohort) -> int:
        """A cohort reaches the end of its service life; busy GPUs retire when their run ends."""
        count, cohort.count = cohort.count, 0
        now = min(count, self.free(product))
        self._remove(product, now)
        self.retire_pending[product] += count - now
        self._drop_empty(product)
        return now

    def evict(self, product: int, count: int) -> int:
        """Take free GPUs out early (a refresh), oldest cohorts first."""
        count = min(count, self.free(product) - self.retire_pending[product])
        if count <= 0:
            return 0
        left = count
        for cohort in self.cohorts[product]:
            take = min(left, cohort.count)
            cohort.count -= take
            left -= take
            if left == 0:
                break
        self._remove(product, count)
        self._drop_empty(product)
        return count

    def release(self, product: int, count: int) -> int:
        """A run hands GPUs back; any that passed their service life meanwhile retire now."""
        self.busy[product] -= count
        late = min(self.retire_pending[product], self.free(product))
        self._remove(product, late)
        self.retire_pending[product] -= late
        self.changed = True
        return late

    def _remove(self, product: int, count: int) -> None:
        if count:
            self.installed[product] -= count
            self.drawn_mw = max(self.drawn_mw - count * self._mw_per_gpu[product], 0.0)
            self.changed = True

    def _drop_empty(self, product: int) -> None:
        queue = self.cohorts[product]
        while queue and queue[0].count == 0:
            queue.popleft()


def construction_process(env: simpy.Environment, site: SiteState, built_day: float):
    """The site becomes usable on its completion day (construction start + duration)."""
    if built_day > env.now:
        yield env.timeout(built_day - env.now)
    site.mark_built()
