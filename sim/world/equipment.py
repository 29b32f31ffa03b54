"""Power equipment as production: gas turbines and large power transformers made by manufacturers
with a yearly output, sold through one order book shared with buyers outside the modelled labs.

Each month a maker produces `capacity_mw_per_year` x the month's share of a year (times any
`equipment_shortfall` in effect) and fills orders first come, first served: the other buyers'
backlog on the start date first, then every order in the order it was placed (other buyers' orders
arrive at `other_orders_mw_per_year`). A plant that needs equipment orders it at its construction
start and cannot come online before its last order is filled plus its type's `install_days`.

Why an order book, not a longer lead time: gas turbines were sold out, not slow. GE Vernova's
backlog and slot reservations reached ~80 GW by end-2025 against a world output of 60-70 GW a year
while ~110 GW a year was being ordered (Wood Mackenzie 2025), so a new order waits behind everything
before it, and a shortfall in output delays every order behind it.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np
import simpy

from sim.config.schedule import DAYS_PER_YEAR, Ramp, ramp_integral
from sim.world.component import Component, Row


class Order:
    """An order for `mw` of equipment: `filled` succeeds on the day its last MW is made."""

    __slots__ = ("mw", "left_mw", "filled", "buyer")

    def __init__(self, mw: float, filled: simpy.Event | None, buyer: str):
        self.mw, self.left_mw, self.filled, self.buyer = mw, mw, filled, buyer


class EquipmentMaker(Component):
    """One equipment type's makers, as one: output per tick and a first-come, first-served book."""

    kind = "equipment"

    def __init__(self, env: simpy.Environment, name: str, capacity: Ramp, other_orders: Ramp, backlog_mw: float,
                 tick_starts: list[float], tick_days: float, capacity_factor: Callable[[float], float]):
        super().__init__(env, name)
        self.capacity, self.other_orders, self.capacity_factor = capacity, other_orders, capacity_factor
        self.book: deque[Order] = deque()
        if backlog_mw > 0:
            self.book.append(Order(backlog_mw, None, "other buyers"))
        self.backlog_mw = backlog_mw
        self.delivered_mw_total = 0.0
        self.delivered_to_labs_mw_total = 0.0
        self._delivered_at_last_sample = 0.0
        self._fill_days: dict[tuple[float, float, float], float] = {}  # (backlog, MW, day) -> fill day
        # planned output and other buyers' orders per tick, evaluated once, not in the event loop
        starts = np.asarray(tick_starts, dtype=float)
        per_tick = tick_days / DAYS_PER_YEAR
        self._plan = list(zip(tick_starts, np.atleast_1d(capacity.at(starts) * per_tick).tolist(),
                              np.atleast_1d(other_orders.at(starts) * per_tick).tolist()))
        self.add_process(self._make)

    def order(self, mw: float, buyer: str) -> simpy.Event:
        """Place an order; the event succeeds when it is filled (at once for nothing)."""
        filled = self.env.event()
        if mw <= 0:
            return filled.succeed()
        self.book.append(Order(mw, filled, buyer))
        self.backlog_mw += mw
        return filled

    def expected_fill_day(self, mw: float, now: float) -> float:
        """When an order of `mw` placed now would be filled, if output follows the plan from here on
        (other buyers' later orders queue behind it; shortfalls are not foreseen): the day the
        planned output from now covers the backlog and the order, found by bisection on the exact
        integral of the output (at most a century ahead)."""
        key = (self.backlog_mw, mw, now)
        if key in self._fill_days:
            return self._fill_days[key]
        if len(self._fill_days) > 1000:
            self._fill_days.clear()
        need = (self.backlog_mw + mw) * DAYS_PER_YEAR
        lo, hi = now, now + 100 * DAYS_PER_YEAR
        if ramp_integral(self.capacity, now, hi) < need:
            self._fill_days[key] = hi
            return hi
        for _ in range(22):  # to under a day
            mid = 0.5 * (lo + hi)
            if ramp_integral(self.capacity, now, mid) >= need:
                hi = mid
            else:
                lo = mid
        self._fill_days[key] = hi
        return hi

    def _make(self):
        env = self.env
        for day, planned_mw, others_mw in self._plan:
            if day > env.now:
                yield env.timeout(day - env.now)
            if others_mw > 0:
                self.book.append(Order(others_mw, None, "other buyers"))
                self.backlog_mw += others_mw
            self._fill(planned_mw * self.capacity_factor(day))

    def _fill(self, made_mw: float) -> None:
        book = self.book
        while made_mw > 0 and book:
            order = book[0]
            used = min(made_mw, order.left_mw)
            order.left_mw -= used
            made_mw -= used
            self.backlog_mw -= used
            self.delivered_mw_total += used
            if order.filled is not None:
                self.delivered_to_labs_mw_total += used
            if order.left_mw <= 1e-9:
                book.popleft()
                if order.filled is not None:
                    order.filled.succeed()
        self.backlog_mw = max(self.backlog_mw, 0.0)

    def probe(self, day: float, rows: list[Row]) -> None:
        name, kind = self.name, self.kind
        rows.append((day, name, kind, "backlog_mw", self.backlog_mw))
        rows.append((day, name, kind, "delivered_mw", self.delivered_mw_total - self._delivered_at_last_sample))
        rows.append((day, name, kind, "delivered_mw_total", self.delivered_mw_total))
        rows.append((day, name, kind, "delivered_to_labs_mw_total", self.delivered_to_labs_mw_total))
        self._delivered_at_last_sample = self.delivered_mw_total
