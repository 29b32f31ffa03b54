"""A GPU cohort's whole life at a site: installed, held by runs, retired at the end of its service
life (or early, by a refresh), counted as numbers.

GPUs installed together form a cohort; each cohort retires `life_days` after its install (a 5-year
server life in the baseline), oldest first when a refresh replaces them. A GPU held by a running
training run retires when the run releases it. Everything here is counts by product index: a batch
of 40,000 GPUs is one Cohort and one retirement event.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Callable

import simpy

from sim.physics.costs import HOURS_PER_DAY
from sim.physics.units import SECONDS_PER_DAY, WATTS_PER_MEGAWATT

USES = ("pretraining", "posttraining", "synthetic_data", "experiments", "inference")
"""What a lab's installed GPUs do (the compute ledger's uses; what none of them holds is idle)."""
PRETRAINING, POSTTRAINING, SYNTHETIC_DATA, EXPERIMENTS, INFERENCE = range(len(USES))


class Cohort:
    """GPUs of one product installed together on `day`; `count` is how many are still in service."""

    __slots__ = ("count", "day")

    def __init__(self, count: int, day: float = 0.0):
        self.count, self.day = count, day


class Fleet:
    """The GPUs at one site, by product: installed, busy (held by runs), waiting to retire, retired.

    `drawn_mw` (facility MW of the installed GPUs: all-in IT watts x PUE) is kept in step with
    `installed`. Busy GPUs are held for one of the `USES`; with the products' peak FLOP/s given, the
    fleet integrates installed and held peak FLOP/s over time exactly (they only change when GPUs
    arrive, leave, are taken or released): the compute ledger (`flop_time`). `changed` is set whenever GPUs leave (retired, evicted, released by a run), so the
    lab knows to look again; arrivals happen in the lab's own install pass.
    Cohorts retire when their ServiceLife says so.
    """

    def __init__(self, it_w_per_gpu: list[float], pue: float, clock: "Callable[[], float] | None" = None,
                 peak_flop_s: list[float] | None = None):
        n = len(it_w_per_gpu)
        self.peak_flop_s = list(peak_flop_s) if peak_flop_s is not None else [0.0] * n  # dense BF16, per GPU
        self.busy_by_use = [[0] * n for _ in USES]
        self.installed_flop_s = 0.0  # peak FLOP/s installed now
        self.held_flop_s = [0.0] * len(USES)  # peak FLOP/s held now, by use
        self.available_flop = 0.0  # peak FLOP/s x seconds installed since the start date
        self.use_flop = [0.0] * len(USES)  # peak FLOP/s x seconds held, by use, since the start date
        self.idle_flop = 0.0  # peak FLOP/s x seconds of installed GPUs no use held (counted on its own)
        self.clock = clock  # the simulated day now, to count the energy drawn (None: not counted)
        self._energy_mwh, self._energy_day = 0.0, 0.0
        self.it_w_per_gpu, self.pue = it_w_per_gpu, pue
        self.mw_per_gpu = [w * pue / WATTS_PER_MEGAWATT for w in it_w_per_gpu]
        self.installed = [0] * n
        self.busy = [0] * n
        self.retire_pending = [0] * n  # past service life, freed when their run ends
        self.retired_total = [0] * n  # by age, by a refresh, or on release after their life ended
        self.drawn_mw = 0.0
        self.changed = True
        self.version = 0  # bumped by every change to installed, busy or retire_pending
        self.cohorts: list[deque[Cohort]] = [deque() for _ in range(n)]

    def _accrue(self) -> None:
        """Count the energy drawn since the last change, at the draw before this change."""
        if self.clock is not None:
            now = self.clock()
            days = now - self._energy_day
            if days:
                self._energy_mwh += self.drawn_mw * days * HOURS_PER_DAY
                seconds = days * SECONDS_PER_DAY
                self.available_flop += self.installed_flop_s * seconds
                use_flop, held = self.use_flop, self.held_flop_s
                for u in range(len(USES)):
                    if held[u]:
                        use_flop[u] += held[u] * seconds
                if self.installed_flop_s:
                    self.idle_flop += seconds * sum(
                        (n - b) * p for n, b, p in zip(self.installed, self.busy, self.peak_flop_s) if n > b)
            self._energy_day = now

    def flop_time(self) -> tuple[float, list[float], float]:
        """Peak FLOP/s x seconds installed, held by each use, and idle (free GPUs) since the start date:
        the compute ledger, integrated exactly up to now. Idle is counted from the free GPUs, not as the
        difference, so available = uses + idle checks the bookkeeping."""
        self._accrue()
        return self.available_flop, list(self.use_flop), self.idle_flop

    def energy_mwh(self) -> float:
        """Energy drawn since the start date: the facility draw integrated exactly over time (it only
        changes when GPUs arrive or leave). Installed GPUs are taken to draw their all-in power."""
        self._accrue()
        return self._energy_mwh

    def free(self, product: int) -> int:
        return self.installed[product] - self.busy[product]

    def room_for(self, product: int, available_mw: float) -> int:
        """How many more GPUs of a product fit in the power not drawn yet (hardware.gpus_within_power,
        with the per-GPU MW cached: this runs on every install pass)."""
        spare_mw = available_mw - self.drawn_mw
        return int(spare_mw / self.mw_per_gpu[product] + 1e-9) if spare_mw > 0 else 0

    def install(self, product: int, count: int, day: float = 0.0) -> Cohort:
        """Put a cohort in service on `day` (its retirement is set by ServiceLife.start)."""
        self._accrue()
        self.installed[product] += count
        self.installed_flop_s += count * self.peak_flop_s[product]
        self.version += 1
        self.drawn_mw += count * self.mw_per_gpu[product]
        cohort = Cohort(count, day)
        self.cohorts[product].append(cohort)
        return cohort

    def retire(self, product: int, cohort: Cohort) -> int:
        """A cohort reaches the end of its service life; busy GPUs retire when their run ends."""
        count, cohort.count = cohort.count, 0
        now = min(count, self.free(product))
        self._remove(product, now)
        self.retire_pending[product] += count - now
        self.version += 1
        self._drop_empty(product)
        return now

    def installed_by(self, product: int, day: float) -> int:
        """GPUs of a product in cohorts installed on or before `day` (the oldest come first)."""
        total = 0
        for cohort in self.cohorts[product]:
            if cohort.day > day:
                break
            total += cohort.count
        return total

    def evict(self, product: int, count: int, installed_by: float = math.inf) -> int:
        """Take free GPUs out early (a refresh), oldest cohorts first, only from cohorts installed on or
        before `installed_by`; they count as retired."""
        count = min(count, self.free(product) - self.retire_pending[product])
        if installed_by != math.inf:
            count = min(count, self.installed_by(product, installed_by))
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

    def take(self, product: int, count: int, use: int = PRETRAINING) -> None:
        """A run (or another `use`) holds `count` free GPUs."""
        self._accrue()
        self.busy[product] += count
        self.busy_by_use[use][product] += count
        self.held_flop_s[use] += count * self.peak_flop_s[product]
        self.version += 1

    def release(self, product: int, count: int, use: int = PRETRAINING) -> int:
        """A run (or another `use`) hands GPUs back; any that passed their service life meanwhile
        retire now."""
        self._accrue()
        self.busy[product] -= count
        self.busy_by_use[use][product] -= count
        self.held_flop_s[use] = max(self.held_flop_s[use] - count * self.peak_flop_s[product], 0.0)
        self.version += 1
        late = min(self.retire_pending[product], self.free(product))
        self._remove(product, late)
        self.retire_pending[product] -= late
        self.changed = True
        return late

    def _remove(self, product: int, count: int) -> None:
        if count:
            self._accrue()
            self.installed[product] -= count
            self.installed_flop_s = max(self.installed_flop_s - count * self.peak_flop_s[product], 0.0)
            self.retired_total[product] += count
            self.version += 1
            self.drawn_mw = max(self.drawn_mw - count * self.mw_per_gpu[product], 0.0)
            self.changed = True

    def _drop_empty(self, product: int) -> None:
        queue = self.cohorts[product]
        while queue and queue[0].count == 0:
            queue.popleft()


class ServiceLife:
    """Retires cohorts `life_days` after their install: one SimPy event for the cohorts installed
    together (one install pass, or the start-date fleet), retiring them in install order.

    The same as one event per cohort: the cohorts of a pass are installed with no other event
    scheduled in between, so their retirements would fall next to one another in SimPy's queue.
    """

    def __init__(self, env: simpy.Environment, life_days: float):
        self.env, self.life_days = env, life_days

    def start(self, cohorts: list[tuple[Fleet, int, Cohort]]) -> None:
        """The service life of these (fleet, product, cohort), installed now, begins."""
        if cohorts:
            end_of_life = self.env.timeout(self.life_days, value=cohorts)
            end_of_life.callbacks.append(self._retire)

    @staticmethod
    def _retire(end_of_life: simpy.Event) -> None:
        for fleet, product, cohort in end_of_life.value:
            fleet.retire(product, cohort)


class Refresh:
    """Replace installed GPUs with ones doing at least `min_gain` x their FLOP per watt, and only GPUs
    at least `min_age_days` old.

    When power, not chips, binds, a lab gets more compute from a site by swapping old GPUs for new
    ones than by leaving the new ones in a warehouse (Sevilla et al., "Can AI Scaling Continue Through
    2030?", Epoch AI 2024: FLOP per watt grows ~1.28x a year). The minimum age keeps a lab from
    discarding GPUs it bought a year ago: hyperscalers depreciate servers over 5-6 years (Amazon,
    Microsoft, Alphabet 10-K filings 2023-2024), so a swap before ~3 years writes off most of a GPU's
    value (the baseline's 1,095 days is an assumption in that light).
    """

    def __init__(self, flop_per_w: list[float], min_gain: float, min_age_days: float = 0.0):
        self.flop_per_w, self.min_gain, self.min_age_days = flop_per_w, min_gain, min_age_days
        self.none_at: dict[tuple[int, int], tuple[int, float]] = {}  # (fleet, product) -> (version, day) with nothing to replace
        least_efficient_first = sorted(range(len(flop_per_w)), key=lambda i: (flop_per_w[i], i))
        # for each product, the installed products it may replace, least efficient first
        self.replaceable = [
            [old for old in least_efficient_first if flop_per_w[new] >= min_gain * flop_per_w[old] and old != new]
            for new in range(len(flop_per_w))
        ]

    def make_room(self, fleet: Fleet, available_mw: float, product: int, wanted: int,
                  now: float = 0.0) -> tuple[int, int]:
        """Evict older, less efficient free GPUs (old enough) to fit up to `wanted` more of `product`.

        Returns (extra room made, in GPUs of `product`; GPUs evicted).
        """
        key = (id(fleet), product)
        cutoff = now - self.min_age_days
        seen = self.none_at.get(key)
        # nothing changed since nothing could be replaced (and, with an age limit, no cohort came of age)
        if seen is not None and seen[0] == fleet.version and (self.min_age_days == 0 or seen[1] == cutoff):
            return 0, 0
        installed, busy, pending = fleet.installed, fleet.busy, fleet.retire_pending
        candidates = [old for old in self.replaceable[product] if installed[old] - busy[old] > pending[old]
                      and (self.min_age_days == 0 or fleet.installed_by(old, cutoff) > 0)]
        if not candidates:
            self.none_at[key] = (fleet.version, cutoff)
            return 0, 0
        before = fleet.room_for(product, available_mw)
        need_w = wanted * fleet.it_w_per_gpu[product]
        evicted_total = 0
        for old in candidates:
            if need_w <= 0:
                break
            evicted = fleet.evict(old, math.ceil(need_w / fleet.it_w_per_gpu[old]),
                                  cutoff if self.min_age_days else math.inf)
            evicted_total += evicted
            need_w -= evicted * fleet.it_w_per_gpu[old]
        return fleet.room_for(product, available_mw) - before, evicted_total

    def replaceable_mw(self, fleet: Fleet, products: list[int], now: float) -> float:
        """Facility MW of the free GPUs at a fleet that one of `products` may replace now."""
        cutoff = now - self.min_age_days
        olds = {old for new in products for old in self.replaceable[new]}
        mw = 0.0
        for old in olds:
            free = fleet.installed[old] - fleet.busy[old] - fleet.retire_pending[old]
            if free > 0:
                if self.min_age_days:
                    free = min(free, fleet.installed_by(old, cutoff))
                mw += free * fleet.mw_per_gpu[old]
        return mw
