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

import simpy

from sim.physics.units import WATTS_PER_MEGAWATT


class Cohort:
    """GPUs of one product installed together; `count` is how many are still in service."""

    __slots__ = ("count",)

    def __init__(self, count: int):
        self.count = count


class Fleet:
    """The GPUs at one site, by product: installed, busy (held by runs), waiting to retire, retired.

    `drawn_mw` (facility MW of the installed GPUs: all-in IT watts x PUE) is kept in step with
    `installed`. `changed` is set whenever GPUs leave (retired, evicted, released by a run), so the
    lab knows to look again; arrivals happen in the lab's own install pass.
    Cohorts retire when their ServiceLife says so.
    """

    def __init__(self, it_w_per_gpu: list[float], pue: float):
        n = len(it_w_per_gpu)
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

    def free(self, product: int) -> int:
        return self.installed[product] - self.busy[product]

    def room_for(self, product: int, available_mw: float) -> int:
        """How many more GPUs of a product fit in the power not drawn yet (hardware.gpus_within_power,
        with the per-GPU MW cached: this runs on every install pass)."""
        spare_mw = available_mw - self.drawn_mw
        return int(spare_mw / self.mw_per_gpu[product] + 1e-9) if spare_mw > 0 else 0

    def install(self, product: int, count: int) -> Cohort:
        """Put a cohort in service (its retirement is set by ServiceLife.start)."""
        self.installed[product] += count
        self.version += 1
        self.drawn_mw += count * self.mw_per_gpu[product]
        cohort = Cohort(count)
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

    def evict(self, product: int, count: int) -> int:
        """Take free GPUs out early (a refresh), oldest cohorts first; they count as retired."""
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

    def take(self, product: int, count: int) -> None:
        """A run holds `count` free GPUs."""
        self.busy[product] += count
        self.version += 1

    def release(self, product: int, count: int) -> int:
        """A run hands GPUs back; any that passed their service life meanwhile retire now."""
        self.busy[product] -= count
        self.version += 1
        late = min(self.retire_pending[product], self.free(product))
        self._remove(product, late)
        self.retire_pending[product] -= late
        self.changed = True
        return late

    def _remove(self, product: int, count: int) -> None:
        if count:
            self.installed[product] -= count
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
    """Replace installed GPUs with ones doing at least `min_gain` x their FLOP per watt.

    When power, not chips, binds, a lab gets more compute from a site by swapping old GPUs for new
    ones than by leaving the new ones in a warehouse (Sevilla et al., "Can AI Scaling Continue Through
    2030?", Epoch AI 2024: FLOP per watt grows ~1.28x a year).
    """

    def __init__(self, flop_per_w: list[float], min_gain: float):
        self.flop_per_w, self.min_gain = flop_per_w, min_gain
        self.none_at: dict[tuple[int, int], int] = {}  # (fleet id, product) -> fleet version with nothing to replace
        least_efficient_first = sorted(range(len(flop_per_w)), key=lambda i: (flop_per_w[i], i))
        # for each product, the installed products it may replace, least efficient first
        self.replaceable = [
            [old for old in least_efficient_first if flop_per_w[new] >= min_gain * flop_per_w[old] and old != new]
            for new in range(len(flop_per_w))
        ]

    def make_room(self, fleet: Fleet, available_mw: float, product: int, wanted: int) -> tuple[int, int]:
        """Evict older, less efficient free GPUs to fit up to `wanted` more of `product`.

        Returns (extra room made, in GPUs of `product`; GPUs evicted).
        """
        key = (id(fleet), product)
        if self.none_at.get(key) == fleet.version:  # nothing changed since nothing could be replaced
            return 0, 0
        installed, busy, pending = fleet.installed, fleet.busy, fleet.retire_pending
        candidates = [old for old in self.replaceable[product] if installed[old] - busy[old] > pending[old]]
        if not candidates:
            self.none_at[key] = fleet.version
            return 0, 0
        before = fleet.room_for(product, available_mw)
        need_w = wanted * fleet.it_w_per_gpu[product]
        evicted_total = 0
        for old in candidates:
            if need_w <= 0:
                break
            evicted = fleet.evict(old, math.ceil(need_w / fleet.it_w_per_gpu[old]))
            evicted_total += evicted
            need_w -= evicted * fleet.it_w_per_gpu[old]
        return fleet.room_for(product, available_mw) - before, evicted_total
