"""Training runs: at start a run takes the installed, powered, free GPUs of its sites, holds them
for its duration and achieves GPUs x peak FLOP/s x MFU x goodput x time.

MFU is the run's fixed `utilization` or, with a topology, derived from the step time of its network
(sim/physics/sizing.py); goodput comes from failures and checkpoints (sim/physics/reliability.py).
Each run is one process of the TrainingRuns component, and leaves one RunRecord (a row of runs.csv).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import math

import numpy as np
import simpy

from sim.config.schedule import to_date, to_day
from sim.config.schema import TrainingPhysics, TrainingRun
from sim.network.spans import run_network
from sim.network.topology import Topology
from sim.physics.hardware import gpus_within_power
from sim.physics.compute import binding_constraint, compute_optimal_flop, training_flop
from sim.physics.reliability import daly_interval_s, failure_rate_per_gpu_day, job_mttf_s, simulate_failures
from sim.physics.sizing import plan_run, step_on
from sim.physics.units import SECONDS_PER_DAY, WATTS_PER_MEGAWATT
from sim.world.component import Component
from sim.world.disruptions import FiberCut, cut_pieces, cut_topology
from sim.world.labs import Lab
from sim.world.products import Products
from sim.world.sites import Site


@dataclass
class RunRecord:
    """One row of runs.csv."""

    run: str
    lab: str
    start: dt.date | None
    end: dt.date | None
    gpus: int
    gpu_type: str
    sites: str
    flop: float
    mfu: float
    binding_constraint: str
    status: str
    duration_days: float
    h100e: float
    peak_flop_s: float
    precision: str
    chips_alone_gpus: int
    power_alone_gpus: int
    goodput: float = 1.0
    interruptions: int = 0
    step_time_s: float = float("nan")
    comm_fraction: float = float("nan")
    params: float = float("nan")
    disrupted_days: float = 0.0  # days of the run a fiber cut slowed (re-planned) or stalled it
    stalled_days: float = 0.0  # of those, days its sites were cut off from each other: no progress


class TrainingRuns(Component):
    """The scenario's training runs: one process each, and the record each leaves.

    It sees the sites and labs (to take and release GPUs), the products' numbers, the topology the
    runs step on, the physics settings, one random stream per run (failures) and the fiber cuts.
    """

    kind = "run"

    def __init__(self, env: simpy.Environment, runs: list[TrainingRun], start_date: dt.date, horizon_day: float,
                 tick_days: float, products: Products, sites: dict[str, Site], labs: dict[str, Lab],
                 topology: Topology | None = None, site_node: dict[str, str] | None = None,
                 physics: TrainingPhysics | None = None, rngs: dict[str, np.random.Generator] | None = None,
                 fiber_cuts: list[FiberCut] | None = None):
        super().__init__(env, "training")
        self.start_date, self.horizon_day, self.tick_days = start_date, horizon_day, tick_days
        self.products, self.sites, self.labs = products, sites, labs
        self.topology, self.site_node, self.physics = topology, site_node or {}, physics
        self.rngs = rngs or {}
        self.fiber_cuts = fiber_cuts or []
        self.records: list[RunRecord] = []
        for run in runs:
            self.add_process(self._run, run)

    def installed_h100e(self, sites: list[Site]) -> float:
        h100e = self.products.h100e
        return sum(n * h100e[i] for s in sites for i, n in enumerate(s.fleet.installed))

    def _run(self, run: TrainingRun):
        """Wait for the start (a date, or an installed-H100e threshold), take GPUs, train, release."""
        env = self.env
        sites = [self.sites[n] for n in run.sites]
        lab = self.labs[run.lab]
        if run.start is not None:
            start_day = to_day(run.start, self.start_date)
            if start_day >= self.horizon_day:
                self.records.append(self._not_started(run, sites, lab, "after_horizon"))
                return
            if start_day > env.now:
                yield env.timeout(start_day - env.now)
        else:
            while self.installed_h100e(sites) < run.start_when_h100e_installed:
                if env.now + self.tick_days >= self.horizon_day:  # the next look would fall at or past the end
                    self.records.append(self._not_started(run, sites, lab, "never_started"))
                    return
                yield env.timeout(self.tick_days)
        product = self._product_for(run, sites)
        days = min(run.duration_days, self.horizon_day - env.now)  # a run still going at the end counts until then
        record, taken = self._start(run, sites, lab, product, days)
        self.records.append(record)
        if record.gpus == 0:
            record.status, record.end = "no_gpus", record.start
            return
        self.fill_outcome(record, run, [(s.name, n) for s, n in taken], days, start_day=env.now)
        yield env.timeout(run.duration_days)
        for s, n in taken:
            s.fleet.release(product, n)

    def _product_for(self, run: TrainingRun, sites: list[Site]) -> int:
        """The run's GPU type: the one it names, else the one with the most free peak FLOP/s."""
        if run.gpu_type:
            return self.products.names.index(run.gpu_type)
        return choose_product(sites, self.products, run.precision)

    def _start(self, run: TrainingRun, sites: list[Site], lab: Lab, product: int,
               days: float) -> tuple["RunRecord", list[tuple[Site, int]]]:
        """Take the run's share of the free GPUs of `product` at its sites; its record so far."""
        products, now = self.products, self.env.now
        chips, power = size_alone(run, product, sites, lab)
        taken = []
        for s in sites:
            n = int(run.gpu_share * s.fleet.free(product))
            s.fleet.take(product, n)
            taken.append((s, n))
        gpus = sum(n for _, n in taken)
        record = RunRecord(
            run=run.name, lab=run.lab, start=to_date(now, self.start_date),
            end=to_date(now + run.duration_days, self.start_date), gpus=gpus, gpu_type=products.names[product],
            sites=";".join(run.sites), flop=0.0, mfu=run.utilization or 0.0,
            binding_constraint=binding_constraint(chips, power),
            status="completed" if days >= run.duration_days else "running_at_end", duration_days=run.duration_days,
            h100e=gpus * products.h100e[product], peak_flop_s=products.peak(product, run.precision),
            precision=run.precision, chips_alone_gpus=chips, power_alone_gpus=power,
        )
        return record, taken

    def _not_started(self, run: TrainingRun, sites: list[Site], lab: Lab, status: str) -> "RunRecord":
        """A run that did not start: its date lies past the horizon, or its threshold was never reached."""
        product = self._product_for(run, sites)
        chips, power = size_alone(run, product, sites, lab)
        return RunRecord(
            run=run.name, lab=run.lab, start=None, end=None, gpus=0, gpu_type=self.products.names[product],
            sites=";".join(run.sites), flop=0.0, mfu=run.utilization or 0.0,
            binding_constraint=binding_constraint(chips, power), status=status,
            duration_days=run.duration_days, h100e=0.0, peak_flop_s=0.0, precision=run.precision,
            chips_alone_gpus=chips, power_alone_gpus=power,
        )

    def fill_outcome(self, record: RunRecord, run: TrainingRun, taken: list[tuple[str, int]], days: float,
                     start_day: float) -> None:
        """Fill in what the run achieves over `days`: MFU, goodput, FLOP and what bound it.

        With a topology, MFU comes from the step time of the best parallel plan over the run's sites
        and the model is sized under the data and latency walls (sim/physics/sizing.py); failures are
        sampled from the run's own random stream and cost restarts and lost work (Daly 2006).
        achieved FLOP = GPUs x peak x MFU x goodput x time, never above the wall's compute-optimal FLOP.
        Binding: data or latency when a wall caps the model (or the latency floor sets the step);
        network when exposed communication is at least half the step; duration when the simulation
        ends before the run; otherwise chips or power, whichever allowed fewer GPUs.

        Fiber cuts (self.fiber_cuts) overlapping [start_day, start_day + days): for each overlap the same
        model and batch are re-planned on the topology without the cut links; the overlap runs at that
        MFU (a fixed `utilization` is scaled by the re-planned / planned MFU), or makes no progress when
        the run's sites are no longer connected. FLOP sums the pieces; `mfu` is then the time-weighted
        mean and `disrupted_days` / `stalled_days` count the days slowed / stopped.
        """
        gpus, peak, flop_cap = record.gpus, record.peak_flop_s, math.inf
        mfu = run.utilization
        if self.topology is not None and self.physics is not None:
            physics = self.physics
            nodes = list(dict.fromkeys(self.site_node[name] for name, n in taken if n > 0))
            network = run_network(self.topology, nodes)
            plan = plan_run(gpus, peak, run.duration_days, network, physics, run.model_params)
            step = plan.step
            mfu = step.mfu if mfu is None else mfu
            record.step_time_s, record.comm_fraction, record.params = step.step_time_s, step.comm_fraction, plan.params
            if plan.limited_by != "compute":
                flop_cap = compute_optimal_flop(plan.params)  # C = 6 N D at D = 20 N (Epoch App. E)
            mttf_s = job_mttf_s(gpus, failure_rate_per_gpu_day(physics.failure_rate_quantile))
            interval_s = daly_interval_s(physics.checkpoint_write_s, mttf_s)
            outcome = simulate_failures(self.rngs[run.name], days * SECONDS_PER_DAY, mttf_s, interval_s,
                                        physics.checkpoint_write_s, physics.restart_s)
            record.goodput = outcome.useful_s / (days * SECONDS_PER_DAY) if days > 0 else 1.0
            record.interruptions = outcome.interruptions
            if plan.limited_by != "compute" or step.step_time_s <= step.latency_floor_s:
                record.binding_constraint = plan.limited_by if plan.limited_by != "compute" else "latency"
            elif step.comm_fraction >= 0.5:
                record.binding_constraint = "network"
            if self.fiber_cuts and len(nodes) > 1:
                mfu = self._through_fiber_cuts(record, mfu, step, plan, nodes, start_day, days)
        record.mfu = mfu
        record.flop = min(training_flop(gpus, peak, mfu * record.goodput, days), flop_cap)
        if days < run.duration_days and record.binding_constraint in ("chips", "power"):
            record.binding_constraint = "duration"


    def _through_fiber_cuts(self, record: RunRecord, mfu: float, step, plan, nodes: list[str], start_day: float,
                            days: float) -> float:
        """The run's time-weighted MFU over [start_day, start_day + days) with the fiber cuts in it
        (stalled pieces count as 0); sets record.disrupted_days and record.stalled_days."""
        pieces = cut_pieces(self.fiber_cuts, start_day, start_day + days)
        if all(not cuts for _, cuts in pieces):
            return mfu
        base = run_network(self.topology, nodes)
        seen: dict[tuple, float | None] = {}  # cuts in effect -> MFU (None: stalled)
        total = 0.0
        for length, cuts in pieces:
            if cuts not in seen:
                topology = cut_topology(self.topology, cuts) if cuts else self.topology
                if not topology.connected(nodes):
                    seen[cuts] = None
                else:
                    network = run_network(topology, nodes)
                    if network == base:
                        seen[cuts] = mfu
                    else:
                        cut_step = step_on(network, plan.params, plan.batch_tokens, record.gpus, record.peak_flop_s,
                                           self.physics)
                        seen[cuts] = cut_step.mfu if mfu == step.mfu else mfu * cut_step.mfu / step.mfu
            piece_mfu = seen[cuts]
            if piece_mfu is None:
                record.stalled_days += length
                record.disrupted_days += length
            elif cuts and piece_mfu != mfu:
                record.disrupted_days += length
                total += piece_mfu * length
            else:
                total += mfu * length
        if record.disrupted_days == 0:
            return mfu
        return total / days


def choose_product(sites: list[Site], products: Products, precision: str) -> int:
    """The product whose free installed GPUs in the sites give the most peak FLOP/s."""
    totals = [sum(s.fleet.free(i) for s in sites) * products.peak(i, precision) for i in range(len(products))]
    return max(range(len(totals)), key=lambda i: (totals[i], i))


def size_alone(run: TrainingRun, product: int, sites: list[Site], lab: Lab) -> tuple[int, int]:
    """GPUs the run could take if only chips limited it, and if only power did.

    Chips alone: the lab's free installed GPUs of the product in these sites plus its inventory.
    Power alone: the sites' available power not drawn by other products or other runs, in GPUs.
    """
    free = sum(s.fleet.free(product) for s in sites)
    chips = int(run.gpu_share * (free + lab.inventory[product]))
    power = 0
    for s in sites:
        fleet = s.fleet
        other_mw = fleet.drawn_mw - fleet.free(product) * fleet.it_w_per_gpu[product] * s.pue / WATTS_PER_MEGAWATT
        power += gpus_within_power(s.available_mw - other_mw, fleet.it_w_per_gpu[product], s.pue)
    return chips, int(run.gpu_share * power)
