"""Probes: what the world records, sampled at every month start and at the end of the horizon.

The Recorder is the one sampling process. At each sample day it asks each component for its rows
(supply, labs, sites, disruptions record their own; ProductProbe and WorldProbe record totals over
all of them) and the FrontierProbe for the month's frontier. Probes read the world; they never change
it. Rows are (day, entity, kind, metric, value); every (kind, metric) is in sim/metrics.py. The
output tables are built from these rows alone (sim/outputs/tables.py).
"""
from __future__ import annotations

import bisect
from operator import mul
from typing import Callable

import simpy

from sim.config.schema import Frontier, Scenario
from sim.network.topology import Topology
from sim.physics.frontier import CONSTRAINTS, lab_frontier, lab_frontier_on_network
from sim.network.spans import run_network
from sim.physics.sizing import frontier_walls, outer_sync_of
from sim.physics.units import WATTS_PER_MEGAWATT
from sim.physics.walls import data_wall_flop
from sim.world.allocator import Allocator
from sim.world.component import Component, Row
from sim.world.labs import Lab
from sim.world.products import Products
from sim.world.run_policy import CampusPlanner
from sim.world.sites import Site

# a frontier row: (day, constraint, max_flop, h100e, lab, binding_constraint)
FrontierRow = tuple[float, str, float, float, str, str]


class Recorder(Component):
    """Samples every probe at the given days, and once more at the end of the horizon."""

    kind = "probe"

    def __init__(self, env: simpy.Environment, sample_days: list[float], horizon_day: float,
                 probes: list[Component], samplers: list[Callable[[float], None]] = ()):
        super().__init__(env, "recorder")
        self.probes, self.samplers = probes, list(samplers)
        self.rows: list[Row] = []
        self.sample_days: list[float] = []
        self.add_process(self._sample_all, sample_days, horizon_day)

    def sample(self, day: float) -> None:
        self.sample_days.append(day)
        for component in self.probes:
            component.probe(day, self.rows)
        for sampler in self.samplers:
            sampler(day)

    def _sample_all(self, days: list[float], horizon_day: float):
        """At every sample day, then just before the simulation stops (dated the end date)."""
        env = self.env
        for day in days:
            if day > env.now:
                yield env.timeout(day - env.now)
            self.sample(day)
        end_day = horizon_day - 1.0  # the end date itself
        if days and end_day <= days[-1]:
            return
        last = horizon_day - 1e-9
        if last > env.now:
            yield env.timeout(last - env.now)
        self.sample(end_day)


class ProductProbe(Component):
    """Per GPU type, over all labs and sites: made, delivered, installed."""

    kind = "product"

    def __init__(self, env: simpy.Environment, products: Products, allocator: Allocator, labs: list[Lab],
                 sites: list[Site]):
        super().__init__(env, "products")
        self.products, self.allocator, self.labs, self.sites = products, allocator, labs, sites

    def probe(self, day: float, rows: list[Row]) -> None:
        installed = installed_by_product(self.sites, len(self.products))
        delivered = column_sums([lab.delivered_total for lab in self.labs], len(self.products))
        produced, kind = self.allocator.produced_total, self.kind
        for i, name in enumerate(self.products.names):
            rows.append((day, name, kind, "produced_gpus_total", produced[i]))
            rows.append((day, name, kind, "delivered_gpus_total", delivered[i]))
            rows.append((day, name, kind, "installed_gpus", installed[i]))


class WorldProbe(Component):
    """Totals over everything modelled, in H100-equivalents, GPUs and MW, and the world power balance:
    the modelled sites' draw plus that of other buyers' accelerators (installed as bought, retired at
    the service life, at `other_buyers_pue`)."""

    kind = "world"

    def __init__(self, env: simpy.Environment, products: Products, allocator: Allocator, labs: list[Lab],
                 sites: list[Site], service_life_days: float, other_buyers_pue: float):
        super().__init__(env, "world")
        self.h100e, self.it_w = list(products.h100e), list(products.it_w)
        self.allocator, self.labs, self.sites = allocator, labs, sites
        self.service_life_days, self.other_buyers_pue = service_life_days, other_buyers_pue
        self.other_buyers_log: list[tuple[float, list[int]]] = []  # (sample day, cumulative other buyers' output)
        self._energy_at_sample = 0.0

    def _other_buyers_in_service(self, day: float) -> list[int]:
        """Other buyers' accelerators in service: what they got in the last service life, at the
        resolution of the samples. Their sites are not modelled: they are taken to install what they
        buy at once, with power."""
        total = self.allocator.other_buyers_total
        log = self.other_buyers_log
        log.append((day, total))
        cut = bisect.bisect_right(log, day - self.service_life_days, key=lambda entry: entry[0])
        if cut == 0:
            return total
        # each lab's entitlement is floored on its own, so one unit of output can tip two labs'
        # floors and the other buyers' cumulative dip by a GPU or so: never below none in service
        return [max(0, a - b) for a, b in zip(total, log[cut - 1][1])]

    def probe(self, day: float, rows: list[Row]) -> None:
        h100e, alloc, sites, kind = self.h100e, self.allocator, self.sites, self.kind
        n = len(h100e)
        installed = installed_by_product(sites, n)
        delivered = column_sums([lab.delivered_total for lab in self.labs], n)
        inventory = column_sums([lab.inventory for lab in self.labs], n)
        in_transit = column_sums(alloc.in_transit, n)
        rows.append((day, "world", kind, "produced_h100e_total", dot(alloc.produced_total, h100e)))
        rows.append((day, "world", kind, "delivered_h100e_total", dot(delivered, h100e)))
        rows.append((day, "world", kind, "other_buyers_h100e_total", dot(alloc.other_buyers_total, h100e)))
        rows.append((day, "world", kind, "in_transit_h100e", dot(in_transit, h100e)))
        rows.append((day, "world", kind, "installed_gpus", sum(installed)))
        rows.append((day, "world", kind, "installed_h100e", dot(installed, h100e)))
        rows.append((day, "world", kind, "inventory_h100e", dot(inventory, h100e)))
        rows.append((day, "world", kind, "power_online_mw", sum(s.firm_mw_online for s in sites)))
        rows.append((day, "world", kind, "power_available_mw", sum(s.available_mw for s in sites)))
        drawn_mw = sum(s.fleet.drawn_mw for s in sites)
        rows.append((day, "world", kind, "power_drawn_mw", drawn_mw))
        # the world power balance: output the modelled labs did not take still draws power somewhere
        others = self._other_buyers_in_service(day)
        others_mw = dot(others, self.it_w) * self.other_buyers_pue / WATTS_PER_MEGAWATT
        rows.append((day, "world", kind, "other_buyers_installed_h100e", dot(others, h100e)))
        rows.append((day, "world", kind, "other_buyers_power_mw", others_mw))
        rows.append((day, "world", kind, "ai_power_demand_mw", drawn_mw + others_mw))
        energy = sum(s.fleet.energy_mwh() for s in sites)
        rows.append((day, "world", kind, "energy_mwh", energy - self._energy_at_sample))
        self._energy_at_sample = energy
        rows.append((day, "world", kind, "emissions_tco2_total", sum(s.emissions_t_total for s in sites)))
        self._by_source(day, rows, sites)
        budgets = [lab.budget for lab in self.labs if lab.budget is not None]
        if budgets:
            rows.append((day, "world", kind, "capex_usd_total", sum(b.capex_usd_total(day) for b in budgets)))


    @staticmethod
    def _by_source(day: float, rows: list[Row], sites: list[Site]) -> None:
        """Energy drawn and CO2 emitted at the modelled sites since the start date, by plant type
        (entity: the type, kind plant_type) and by region (kind region); grid power counts as `grid`."""
        by_type: dict[str, list[float]] = {}
        by_region: dict[str, list[float]] = {}
        for site in sites:
            for (plant_type, region), (energy, emitted) in site.energy_by_source.items():
                for table, key in ((by_type, plant_type or "unknown"), (by_region, region or "unknown")):
                    totals = table.setdefault(key, [0.0, 0.0])
                    totals[0] += energy
                    totals[1] += emitted
        for kind, table in (("plant_type", by_type), ("region", by_region)):
            for name in sorted(table):
                rows.append((day, name, kind, "energy_mwh_total", table[name][0]))
                rows.append((day, name, kind, "emissions_tco2_total", table[name][1]))


def dot(counts, weights) -> float:
    """sum(count x weight): short vectors, faster in plain Python than through numpy."""
    return float(sum(map(mul, counts, weights)))


def column_sums(rows: list[list], n: int) -> list:
    """Per product, the sum over rows (labs, sites); zeros with no rows."""
    return [sum(column) for column in zip(*rows)] if rows else [0] * n


def installed_by_product(sites: list[Site], n_products: int) -> list[int]:
    return column_sums([s.fleet.installed for s in sites], n_products)


class FrontierProbe(Component):
    """Each month, the largest run any lab could start under each constraint alone and all combined,
    and which binds (the frontier.csv rows).

    Chips alone, power alone and combined come from each lab's GPUs and powered sites on the day
    (sim/physics/frontier.py). With a topology and training physics (a `planner`), each is sized as
    runs are: GPUs x peak x MFU x expected goodput x duration on the lab's network, over the campuses
    a run would span (`CampusPlanner`); otherwise at the flat `frontier.utilization`. The network,
    latency and data walls depend only on the topology and are computed once, when the probe is built.
    """

    kind = "frontier"

    def __init__(self, env: simpy.Environment, settings: Frontier, products: Products, labs: list[Lab],
                 walls: dict[str, dict[str, float]], buys: dict[str, list[bool]] | None = None,
                 planner: CampusPlanner | None = None, site_node: dict[str, str] | None = None,
                 data_tokens: Callable[[str], float] | None = None,
                 reserved: Callable[[Site], list[int]] | None = None):
        super().__init__(env, "frontier")
        self.data_tokens = data_tokens  # lab -> its effective token stock now (with its synthetic data)
        self.reserved = reserved  # site -> GPUs by product its lab's uses hold ahead of training
        self.settings, self.products, self.labs, self.walls = settings, products, labs, walls
        # per lab, the products of the families it buys (default: all)
        self.buys = buys or {lab.name: [True] * len(products) for lab in labs}
        self.peak = tuple(products.peak(i, settings.precision) for i in range(len(products)))
        self.it_w = tuple(products.it_w)
        self.planner, self.site_node = planner, site_node if site_node is not None else {}
        self.rows: list[FrontierRow] = []

    def _run_flop_s(self, counts: dict[str, list[float]], campuses: list[str] | None = None) -> tuple[float, list[str]]:
        """A run's expected effective FLOP/s on `counts` (GPUs by product at each campus) and its campuses:
        those the planner chooses, or the given ones."""
        duration = self.settings.duration_days
        if campuses is None:
            campuses, flop_s = self.planner.choose(counts, duration)
            return flop_s, campuses
        return self.planner.flop_s(counts, campuses, duration), campuses

    def _lab_points(self, lab: Lab, on_sale: tuple[bool, ...]):
        """The lab's chips, power and combined points and which of the two binds: with the physics of
        runs, or at the flat utilization without a planner (or for a lab without sites). GPUs the lab's
        monthly uses hold ahead of training (`reserved`: experiments, synthetic data, inference served
        first) and the power they draw are not the run's to take."""
        f, products = self.settings, self.products
        installed, power = [], []
        for site in lab.sites:
            fleet = site.fleet
            held = self.reserved(site) if self.reserved is not None else None
            if held is None or not any(held):
                installed.append(fleet.installed)
                power.append((site.available_mw, site.pue))
            else:
                installed.append([n - r for n, r in zip(fleet.installed, held)])
                power.append((site.available_mw - sum(map(mul, held, fleet.mw_per_gpu)), site.pue))
        if self.planner is not None and lab.sites:
            node = self.site_node
            return lab_frontier_on_network(
                site_installed=installed,
                site_campus=[node.get(site.name, site.name) for site in lab.sites], inventory=lab.inventory,
                site_power=power, on_sale=on_sale,
                peak_flop_s=self.peak, it_w=self.it_w, h100e=products.h100e, gpu_share=f.gpu_share,
                duration_days=f.duration_days, run_flop_s=self._run_flop_s,
            )
        return lab_frontier(
            installed=column_sums(installed, len(products)), inventory=lab.inventory,
            site_power=power, on_sale=on_sale,
            peak_flop_s=self.peak, it_w=self.it_w, h100e=products.h100e,
            gpu_share=f.gpu_share, utilization=f.utilization, duration_days=f.duration_days,
        )

    def sample(self, day: float) -> None:
        products, walls = self.products, self.walls
        on_sale = [available <= day for available in products.available_day]
        best: dict[str, tuple] = {}
        for lab in self.labs:
            points, binds = self._lab_points(lab, tuple(a and b for a, b in zip(on_sale, self.buys[lab.name])))
            lab_walls = walls.get(lab.name, {})
            if self.data_tokens is not None and "data" in lab_walls:  # the data wall follows the lab's stock
                lab_walls = {**lab_walls, "data": data_wall_flop(self.data_tokens(lab.name))}
            alone = {c: points[c].flop for c in ("chips", "power")} | lab_walls
            binds = min(alone, key=lambda c: (alone[c], c != binds))
            for c in CONSTRAINTS:
                if c not in best or points[c].flop > best[c][0]:
                    best[c] = (points[c].flop, points[c].h100e, lab.name, binds)
            for c, flop in lab_walls.items():
                if c not in best or flop > best[c][0]:
                    best[c] = (flop, float("nan"), lab.name, binds)
        binding = best["combined"][3]
        self.rows.extend((day, c, *best[c][:3], binding) for c in best)


def frontier_planner(s: Scenario, products: Products, topology: Topology | None) -> CampusPlanner | None:
    """What sizes the frontier's runs as runs are sized: with a topology and training physics, a
    `CampusPlanner` at the frontier's precision, synchronising across sites as the run policy's runs do
    (`run_policy.sync`); None otherwise (the frontier then uses its flat `utilization`)."""
    if topology is None or s.training is None:
        return None
    peak = [products.peak(i, s.frontier.precision) for i in range(len(products))]
    sync = outer_sync_of(s.run_policy.sync) if s.run_policy is not None else None
    return CampusPlanner(topology, s.training, peak, products.hbm_bytes, sync,
                         failure_rate_factor=products.failure_rate_factor)


def lab_walls(s: Scenario, products: Products, topology: Topology | None,
              site_node: dict[str, str]) -> dict[str, dict[str, float]]:
    """Each lab's network, latency and data walls for the frontier's run, on its topology."""
    if topology is None or s.training is None:
        return {}
    best_peak = max(products.peak(i, s.frontier.precision) for i in range(len(products)))
    walls = {}
    for lab in s.labs:
        nodes = list(dict.fromkeys(site_node[n] for n, site in s.sites.items() if site.lab == lab))
        if nodes and topology.connected(nodes):
            sync = outer_sync_of(s.run_policy.sync) if s.run_policy is not None else None
            walls[lab] = frontier_walls(run_network(topology, nodes), best_peak, s.frontier.duration_days, s.training,
                                        sync)
    return walls
