"""The allocator: splits each batch of GPU output among the labs (and other buyers) and ships it.

A lab is owed a whole-GPU share of cumulative output, floor(share x total): working on cumulative
totals keeps rounding from drifting, so over time each lab receives its share to within one GPU per
product and never more than was made. What the labs are not owed goes to buyers outside the model.
Shipments arrive after the lab's delivery lead time.
"""
from __future__ import annotations

from collections import deque

import simpy

from sim.world.component import Component
from sim.world.labs import Lab


def entitlement(share: float, cumulative: int, base_entitled: float = 0.0, base_cumulative: int = 0) -> int:
    """A buyer's whole-GPU entitlement of a cumulative output: floor(share x total).

    When the share has changed, `base_entitled` (fractional GPUs) was owed on the `base_cumulative`
    made before the change.
    """
    return int(base_entitled + share * (cumulative - base_cumulative) + 1e-9)


class Allocator(Component):
    """Ships each batch of output to the labs by share; a batch reaches its lab after the lab's lead
    time (`deliver_due`, called by the install pass each tick).

    A lab buys a share of each product's output, the share it buys of the product's family. That
    share may be cut for a while (an export rule, sim/world/disruptions.py): `share_changes[lab]` is a
    list of (day, factor on the lab's shares from that day on), in day order. A lab is owed floor(E) whole GPUs of
    each product, E = the sum over share segments of share x output made in the segment: E is kept as
    the value when the current segment began plus share x output made since. So counts stay whole and
    exact (shipped = floor(E) <= output; the rest goes to other buyers), a cut is not charged against
    output made before it, and with no changes E = share x cumulative output, as `entitlement`.
    """

    kind = "allocator"

    def __init__(self, env: simpy.Environment, labs: list[Lab], shares: list[list[float]], lead_days: list[float],
                 n_products: int, share_changes: list[list[tuple[float, float]]] | None = None):
        super().__init__(env, "allocator")
        self.labs, self.lead_days = labs, lead_days
        self.base_shares = [list(row) for row in shares]  # lab -> product -> share (by the product's family)
        self.factors = [1.0] * len(labs)  # lab -> factor from export rules in effect
        self.n = n_products
        self.produced_total = [0] * n_products
        self.shipped = [[0] * n_products for _ in labs]  # cumulative, by lab
        self.declined = [[0] * n_products for _ in labs]  # owed but not ordered (went to other buyers)
        self.in_transit = [[0] * n_products for _ in labs]
        self.share_changes = [list(c) for c in share_changes] if share_changes else [[] for _ in labs]
        # where each lab's current share segment began: output made by then and the lab's entitlement
        # (fractional GPUs) on it
        self.segment_produced = [[0] * n_products for _ in labs]
        self.segment_entitled = [[0.0] * n_products for _ in labs]
        self.pending: list[deque[tuple[float, list[int]]]] = [deque() for _ in labs]  # (arrival day, batch)

    def share(self, lab_index: int, product: int) -> float:
        """The lab's share of a product's output now."""
        return self.base_shares[lab_index][product] * self.factors[lab_index]

    @property
    def other_buyers_total(self) -> list[int]:
        """Output that went to buyers outside the modelled labs."""
        return [self.produced_total[i] - sum(row[i] for row in self.shipped) for i in range(self.n)]

    def _update_shares(self) -> None:
        """Start a new segment for each lab whose share changed by now (before this batch is counted)."""
        now = self.env.now
        for lab_index, changes in enumerate(self.share_changes):
            while changes and changes[0][0] <= now:
                base_made, base_entitled = self.segment_produced[lab_index], self.segment_entitled[lab_index]
                self.segment_entitled[lab_index] = [
                    base_entitled[i] + self.share(lab_index, i) * (self.produced_total[i] - base_made[i])
                    for i in range(self.n)]
                self.segment_produced[lab_index] = self.produced_total[:]
                _, self.factors[lab_index] = changes.pop(0)

    def ship(self, made: list[int]) -> None:
        """Count a batch of output and send each lab what it is now owed."""
        self._update_shares()
        products = [i for i in range(self.n) if made[i]]
        for i in products:
            self.produced_total[i] += made[i]
        for lab_index, base_shares in enumerate(self.base_shares):
            bought = [i for i in products if base_shares[i] > 0]  # the families this lab buys
            if not bought:
                continue
            shipped = self.shipped[lab_index]
            base_made, base_entitled = self.segment_produced[lab_index], self.segment_entitled[lab_index]
            factor, declined = self.factors[lab_index], self.declined[lab_index]
            owed = {}
            for i in bought:
                count = (entitlement(base_shares[i] * factor, self.produced_total[i], base_entitled[i], base_made[i])
                         - shipped[i] - declined[i])
                if count > 0:
                    owed[i] = count
            if not owed:
                continue
            taken = self.labs[lab_index].order(owed, self.env.now, self.in_transit[lab_index])
            batch = [0] * self.n
            for i, count in owed.items():
                got = taken.get(i, 0)
                batch[i] = got
                shipped[i] += got
                declined[i] += count - got
            if any(batch):
                transit = self.in_transit[lab_index]
                for i in bought:
                    transit[i] += batch[i]
                self.pending[lab_index].append((self.env.now + self.lead_days[lab_index], batch))

    def deliver_due(self, now: float) -> None:
        """Hand each lab the batches whose lead time has passed by `now` (called each tick before the
        labs install: a batch arriving between ticks would wait for the next install pass anyway)."""
        for lab_index, pending in enumerate(self.pending):
            transit = self.in_transit[lab_index]
            while pending and pending[0][0] <= now + 1e-9:
                _, batch = pending.popleft()
                for i, count in enumerate(batch):
                    transit[i] -= count
                self.labs[lab_index].receive(batch)
