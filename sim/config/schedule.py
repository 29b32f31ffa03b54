"""Time in the simulation: calendar dates <-> simulated days, and capacity ramps over time.

Simulated time is days since the scenario's start date, one clock for every process. A ramp is a
capacity known at a few dates (e.g. TSMC CoWoS wafers per month at each year end, sim/data/supply.csv),
interpolated linearly between them, held flat before the first point and grown at a constant
annual factor after the last one.
"""
from __future__ import annotations

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


def constant_ramp(value: float) -> Ramp:
    return Ramp(days=(0.0,), values=(float(value),))
