"""A lab's money: a capital budget that accrues over time and the capex drawn on it.

The budget accrues at `labs.NAME.budget.usd_per_year` (a ramp over dates; public capex guidance in
the scenario's comments) from `initial_usd` on the start date. Accelerators are paid when ordered,
datacenter halls and plants when their construction starts, leases a year at a time when signed.
What is not yet spent carries over; nothing is borrowed: an order or project that the budget cannot
cover waits (the purchase policy takes fewer accelerators, the procurement policy defers a project).
"""
from __future__ import annotations

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

    @property
    def limited(self) -> bool:
        return self.ramp is not None

    def accrued_usd(self, day: float) -> float:
        """Budget accrued from the start date to `day`: the yearly rate integrated exactly."""
        if self.ramp is None:
            return math.inf
        return self.initial_usd + ramp_integral(self.ramp, 0.0, day) / DAYS_PER_YEAR

    def paid_by(self, day: float, categories: tuple[str, ...] = CATEGORIES) -> float:
        """Paid by `day`: what was paid at once, and each build's share of its time elapsed."""
        total = sum(self.paid_usd[c] for c in categories)
        for start, end, usd, category in self.builds:
            if category in categories and day > start:
                total += usd if day >= end else usd * (day - start) / (end - start)
        return total

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
