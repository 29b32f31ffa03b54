"""Labs: the buyers. Each receives its share of GPU output after a delivery lead time, holds what
it cannot power in inventory, and installs GPUs into its sites as power allows (newest first).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import simpy

from sim.world.sites import Cohort, SiteState


def entitlement(share: float, cumulative: int, base_entitled: float = 0.0, base_cumulative: int = 0) -> int:
    """A buyer's whole-GPU entitlement of a cumulative output: floor(share x total).

    Working on cumulative totals keeps rounding from drifting: over time each buyer receives its
    share to within one GPU per product, and never more than was made. When the share has changed,
    `base_entitled` (fractional GPUs) was owed on the `base_cumulative` made before the change.
    """
    return int(base_entitled + share * (cumulative - base_cumulative) + 1e-9)


@dataclass
class LabState:
    name: str
    sites: list[SiteState]
    inventory: list[int]  # delivered, not yet installed, by product
    initial_total: list[int] = field(default_factory=list)  # installed on the start date
    delivered_total: list[int] = field(default_factory=list)  # received from the allocator since
    retired_total: list[int] = field(default_factory=list)
    dirty: bool = True  # a product that might fit arrived since the last install pass
    blocked: set[int] = field(default_factory=set)  # products that found no room in the last pass

    def __post_init__(self) -> None:
        n = len(self.inventory)
        self.initial_total = self.initial_total or [0] * n
        self.delivered_total = self.delivered_total or [0] * n
        self.retired_total = self.retired_total or [0] * n

    def receive(self, counts: list[int]) -> None:
        for i, n in enumerate(counts):
            if n:
                self.inventory[i] += n
                self.delivered_total[i] += n
                if i not in self.blocked:
                    self.dirty = True

    def install(self, newest_first: list[int], refresh: "Refresh | None" = None) -> list[tuple[SiteState, int, "Cohort"]]:
        """Move inventory into sites with spare power, newest products first.

        With a refresh rule, a product that does enough more FLOP per watt than an installed one
        takes the older GPUs' power (oldest first); those are retired early. Returns the new
        (site, product, cohort) batches. Skipped when neither the sites nor the set of products
        waiting have changed: the outcome would be the same.
        """
        if not (self.dirty or any(site.changed for site in self.sites)):
            return []
        self.dirty = False
        refreshed = False
        batches = []
        for product in newest_first:
            wanted = self.inventory[product]
            if wanted == 0:
                continue
            # spare power anywhere first; only then replace older GPUs
            for site in self.sites:
                count = min(wanted, site.room_for(product))
                if count > 0:
                    batches.append((site, product, site.install(product, count)))
                    wanted -= count
                    if wanted == 0:
                        break
            if wanted and refresh is not None and refresh.replaceable[product]:
                for site in self.sites:
                    retired_before = sum(self.retired_total)
                    count = min(wanted, refresh.make_room(site, product, wanted, self.retired_total))
                    refreshed = refreshed or sum(self.retired_total) > retired_before
                    if count > 0:
                        batches.append((site, product, site.install(product, count)))
                        wanted -= count
                        if wanted == 0:
                            break
            self.inventory[product] = wanted
        for site in self.sites:
            site.changed = False
        # until a site changes, more of these products cannot fit either; but power freed by a
        # refresh may fit products handled earlier in this pass, so look again next time
        self.blocked = {p for p, count in enumerate(self.inventory) if count > 0}
        self.dirty = refreshed
        return batches

    def installed(self) -> list[int]:
        return [sum(s.installed[i] for s in self.sites) for i in range(len(self.inventory))]


class Refresh:
    """Replace installed GPUs with ones doing at least `min_gain` x their FLOP per watt.

    When power, not chips, binds, a lab gets more compute from a site by swapping old GPUs for
    new ones than by leaving the new ones in a warehouse (Epoch 2030: FLOP/W x1.28 per year).
    """

    def __init__(self, flop_per_w: list[float], min_gain: float):
        self.flop_per_w, self.min_gain = flop_per_w, min_gain
        least_efficient_first = sorted(range(len(flop_per_w)), key=lambda i: (flop_per_w[i], i))
        # for each product, the installed products it may replace, least efficient first
        self.replaceable = [
            [old for old in least_efficient_first if flop_per_w[new] >= min_gain * flop_per_w[old] and old != new]
            for new in range(len(flop_per_w))
        ]

    def make_room(self, site: SiteState, product: int, wanted: int, retired_total: list[int]) -> int:
        """Evict older, less efficient free GPUs to fit up to `wanted` more of `product`.

        Evicted GPUs count as retired. Returns the extra room made, in GPUs of `product`.
        """
        candidates = [old for old in self.replaceable[product] if site.free(old) > site.retire_pending[old]]
        if not candidates:
            return 0
        before = site.room_for(product)
        need_w = wanted * site.it_w_per_gpu[product]
        for old in candidates:
            if need_w <= 0:
                break
            evicted = site.evict(old, math.ceil(need_w / site.it_w_per_gpu[old]))
            retired_total[old] += evicted
            need_w -= evicted * site.it_w_per_gpu[old]
        return site.room_for(product) - before


class Allocator:
    """Splits each batch of output among labs (and other buyers) and ships it with a lead time.

    A lab's share may change over time (an export rule, sim/disruptions.py): `share_changes[lab]` is
    a list of (day, share from that day on), in day order. A lab is owed floor(E) whole GPUs of each
    product, E = the sum over share segments of share x output made in the segment: E is kept as the
    value when the current segment began plus share x output made since. So counts stay whole and
    exact (shipped = floor(E) <= output; the rest goes to other buyers), a cut is not charged against
    output made before it, and with no changes E = share x cumulative output, as `entitlement`.
    """

    def __init__(self, env: simpy.Environment, labs: list[LabState], shares: list[float], lead_days: list[float],
                 n_products: int, share_changes: list[list[tuple[float, float]]] | None = None):
        self.env, self.labs, self.shares, self.lead_days = env, labs, list(shares), lead_days
        self.n = n_products
        self.produced_total = [0] * n_products
        self.shipped = [[0] * n_products for _ in labs]  # cumulative, by lab
        self.in_transit = [[0] * n_products for _ in labs]
        self.share_changes = [list(c) for c in share_changes] if share_changes else [[] for _ in labs]
        # where each lab's current share segment began: output made by then and the lab's entitlement
        # (fractional GPUs) on it
        self.segment_produced = [[0] * n_products for _ in labs]
        self.segment_entitled = [[0.0] * n_products for _ in labs]

    @property
    def other_buyers_total(self) -> list[int]:
        """Output that went to buyers outside the modelled labs."""
        return [self.produced_total[i] - sum(row[i] for row in self.shipped) for i in range(self.n)]

    def _update_shares(self) -> None:
        """Start a new segment for each lab whose share changed by now (before this batch is counted)."""
        now = self.env.now
        for lab_index, changes in enumerate(self.share_changes):
            while changes and changes[0][0] <= now:
                share, base_made, base_entitled = (self.shares[lab_index], self.segment_produced[lab_index],
                                                   self.segment_entitled[lab_index])
                self.segment_entitled[lab_index] = [
                    base_entitled[i] + share * (self.produced_total[i] - base_made[i]) for i in range(self.n)]
                self.segment_produced[lab_index] = self.produced_total[:]
                _, self.shares[lab_index] = changes.pop(0)

    def ship(self, made: list[int]) -> None:
        self._update_shares()
        products = [i for i in range(self.n) if made[i]]
        for i in products:
            self.produced_total[i] += made[i]
        for lab_index, share in enumerate(self.shares):
            shipped = self.shipped[lab_index]
            base_made, base_entitled = self.segment_produced[lab_index], self.segment_entitled[lab_index]
            batch = [0] * self.n
            for i in products:
                owed = entitlement(share, self.produced_total[i], base_entitled[i], base_made[i]) - shipped[i]
                if owed > 0:
                    batch[i] = owed
                    shipped[i] += owed
            if any(batch):
                transit = self.in_transit[lab_index]
                for i in products:
                    transit[i] += batch[i]
                arrival = self.env.timeout(self.lead_days[lab_index], value=(lab_index, batch))
                arrival.callbacks.append(self._deliver)

    def _deliver(self, arrival: simpy.Event) -> None:
        lab_index, batch = arrival.value
        transit = self.in_transit[lab_index]
        for i, count in enumerate(batch):
            transit[i] -= count
        self.labs[lab_index].receive(batch)


def installer_process(
    env: simpy.Environment, lab: LabState, tick_starts: list[float], newest_first: list[int],
    refresh: Refresh | None, on_install: Callable[[SiteState, int, Cohort], None],
):
    """Each tick: install what the lab's inventory and its sites' spare power allow."""
    for day in tick_starts:
        if day > env.now:
            yield env.timeout(day - env.now)
        for site, product, cohort in lab.install(newest_first, refresh):
            on_install(site, product, cohort)
