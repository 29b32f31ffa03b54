"""A lab's money: a capital budget that accrues over time and the capex drawn on it.

The budget accrues at `labs.NAME.budget.usd_per_year` (a ramp over dates; public capex guidance in
the scenario's comments) from `initial_usd` on the start date. Accelerators are paid when ordered,
datacenter halls and plants when their construction starts, leases a year at a time when signed.
What is not yet spent carries over; nothing is borrowed: an order or project that the budget cannot
cover waits (the purchase policy takes fewer accelerators, the procurement policy defers a project).
"""
from __future__ import annotations

import bisect
import math

from sim.config.schedule import DAYS_PER_YEAR, Ramp, ramp_integral


class Budget:
    """Accrued budget minus what was paid, by category (accelerators, datacenters, plants, leases).

    Accelerators and leases are paid when bought or signed; a hall or plant is paid in equal parts
    over its build, from its start to its (planned) completion."""

    CATEGORIES = ("accelerators", "datacenters", "plants", "leases")

    def __init__(self, usd_per_year: Ramp | None, initial_usd: float = 0.0):
        self.ramp, self.initial_usd = usd_per_year, initial_usd
        self.paid_usd = dict.fromkeys(self.CATEGORIES, 0.0)  # paid at once
        self.builds: list[tuple[float, float, float, str]] = []  # (start day, end day, USD, category) paid over time
        self._accrued: dict[float, float] = {}  # day -> accrued by then
        self._version = 0  # bumped by every build added, to redraw the payment curve
        self._curve: tuple = (-1,)  # (version, breakpoint days, paid by each, rate after each): the builds' payments

    @property
    def limited(self) -> bool:
        return self.ramp is not None

    def accrued_usd(self, day: float) -> float:
        """Budget accrued from the start date to `day`: the yearly rate integrated exactly."""
        if self.ramp is None:
            return math.inf
        if day not in self._accrued:
            if len(self._accrued) > 4096:
                self._accrued.clear()
            self._accrued[day] = self.initial_usd + ramp_integral(self.ramp, 0.0, day) / DAYS_PER_YEAR
        return self._accrued[day]

    def paid_by(self, day: float, categories: tuple[str, ...] = CATEGORIES) -> float:
        """Paid by `day`: what was paid at once, and each build's share of its time elapsed (builds are
        halls and plants: counted in every set of categories that holds both)."""
        total = sum(self.paid_usd[c] for c in categories)
        if not self.builds:
            return total
        if self._curve[0] != self._version:
            self._curve = (self._version, *_payment_curve(self.builds))
        _, days, paid, slope = self._curve
        k = bisect.bisect_right(days, day) - 1
        return total + (paid[k] + slope[k] * (day - days[k]) if k >= 0 else 0.0)

    def capex_usd_total(self, day: float) -> float:
        return self.paid_by(day, ("accelerators", "datacenters", "plants"))

    def left_usd(self, day: float) -> float:
        """Cash on hand on `day`: accrued less paid (builds paid as they go). A new project needs its
        whole capex on hand when it starts (sim/world/procurement.py)."""
        return self.accrued_usd(day) - self.paid_by(day)

    def spend(self, usd: float, category: str) -> None:
        self.paid_usd[category] += usd

    def commit_build(self, usd: float, category: str, start_day: float, end_day: float) -> None:
        """A hall or plant started: paid in equal parts from `start_day` to `end_day`."""
        if end_day <= start_day:
            self.spend(usd, category)
        else:
            self.builds.append((start_day, end_day, usd, category))
            self._version += 1


def _payment_curve(builds: list[tuple[float, float, float, str]]) -> tuple[list[float], list[float], list[float]]:
    """The builds' payments as a piecewise-linear curve: breakpoint days, paid by each, and the rate
    (USD a day) after each. Each build pays usd / (end - start) a day from its start to its end."""
    changes: dict[float, float] = {}
    for start, end, usd, _ in builds:
        rate = usd / (end - start)
        changes[start] = changes.get(start, 0.0) + rate
        changes[end] = changes.get(end, 0.0) - rate
    days = sorted(changes)
    paid, slope = [], []
    total, rate, last = 0.0, 0.0, days[0]
    for day in days:
        total += rate * (day - last)
        rate += changes[day]
        paid.append(total)
        slope.append(max(rate, 0.0) if abs(rate) > 1e-9 * max(abs(r) for r in changes.values()) else 0.0)
        last = day
    return days, paid, slope
