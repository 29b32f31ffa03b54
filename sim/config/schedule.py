"""Time in the simulation: calendar dates <-> simulated days, and capacity ramps over time.

Simulated time is days since the scenario's start date, one clock for every process. A ramp is a
capacity known at a few dates (e.g. TSMC CoWoS wafers per month at each year end, sim/data/supply.csv),
interpolated linearly between them, held flat before the first point and grown at a constant
annual factor after the last one.
"""
from __future__ import annotations

import math

import datetime as dt
from dataclasses import dataclass

import numpy as np

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12  # 30.4375: converts "per month" capacities to per-day rates


def to_day(date: dt.date, start: dt.date) -> float:
    """Simulated day of a calendar date (may be negative for dates before the start)."""
    return float((date - start).days)


def to_date(day: float, start: dt.date) -> dt.date:
    """Calendar date of a simulated day (floored to whole days)."""
    return start + dt.timedelta(days=int(np.floor(day)))


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First day of every calendar month from the start's month through the end date."""
    out, year, month = [], start.year, start.month
    while dt.date(year, month, 1) <= end:
        out.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


@dataclass(frozen=True)
class Ramp:
    """A value over simulated days: linear between points, flat before, geometric growth after."""

    days: tuple[float, ...]
    values: tuple[float, ...]
    growth_per_year_after: float = 1.0

    def at(self, day: float | np.ndarray) -> float | np.ndarray:
        """The value at one day or an array of days."""
        days = np.asarray(day, dtype=float)
        out = np.interp(days, self.days, self.values)
        if self.growth_per_year_after != 1.0:
            after = days > self.days[-1]
            years = np.where(after, days - self.days[-1], 0.0) / DAYS_PER_YEAR
            out = np.where(after, self.values[-1] * self.growth_per_year_after**years, out)
        return float(out) if np.ndim(out) == 0 else out

    def mean_over(self, starts: np.ndarray, length_days: float) -> np.ndarray:
        """Mean value over [start, start + length) for each start (trapezoid on 8 sub-steps).

        Used to turn a wafers-per-month ramp into the amount produced in one tick without
        evaluating the ramp inside the event loop.
        """
        offsets = np.linspace(0.0, length_days, 9)
        grid = self.at(np.asarray(starts, dtype=float)[:, None] + offsets[None, :])
        return np.trapezoid(grid, offsets, axis=1) / length_days if length_days > 0 else grid[:, 0]


def ramp_integral(ramp: Ramp, a: float, b: float) -> float:
    """The integral of a ramp's value over days [a, b], exact: flat before the first point,
    trapezoids between points, geometric growth after the last (value x g^(t / year): its integral is
    value x year / ln g x (g^(t1 / year) - g^(t0 / year)))."""
    if b <= a:
        return 0.0
    days, values = ramp.days, ramp.values
    total = 0.0
    if a < days[0]:  # flat before the first point
        total += values[0] * (min(b, days[0]) - a)
    for k in range(len(days) - 1):  # linear between points
        lo, hi = max(a, days[k]), min(b, days[k + 1])
        if hi > lo:
            slope = (values[k + 1] - values[k]) / (days[k + 1] - days[k])
            total += (values[k] + slope * (0.5 * (lo + hi) - days[k])) * (hi - lo)
    if b > days[-1]:  # after the last point
        lo = max(a, days[-1])
        g = ramp.growth_per_year_after
        if g == 1.0:
            total += values[-1] * (b - lo)
        else:
            rate = math.log(g) / DAYS_PER_YEAR
            total += values[-1] / rate * (math.exp(rate * (b - days[-1])) - math.exp(rate * (lo - days[-1])))
    return total


def constant_ramp(value: float) -> Ramp:
    return Ramp(days=(0.0,), values=(float(value),))
