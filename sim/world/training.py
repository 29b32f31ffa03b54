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
from sim.physics.compute import binding_constraint, chinchilla_params, compute_optimal_flop, training_flop
from sim.physics.costs import amortized_hardware_usd, energy_mwh, facility_mw
from sim.physics.recovery import recovery, recovery_goodput, simulate_recovery
from sim.physics.sizing import outer_sync_of, plan_run, step_on
from sim.physics.units import BITS_PER_BYTE, SECONDS_PER_DAY, WATTS_PER_MEGAWATT
from sim.world.component import Component
from sim.world.compute_uses import ComputeUses
from sim.world.disruptions import FiberCut, cut_pieces, cut_topology
from sim.world.labs import Lab
from sim.world.run_record import RunRecord
from sim.world.posttraining import PostTrainingPolicy
from sim.world.products import Products
from sim.world.sites import Site


@dataclass(frozen=True)
class RunCosts:
    """What the runs' clusters cost: per product price x (1 + server overhead), and the hardware's life."""

    price_all_in_usd: list[float]
    hardware_life_days: float


class TrainingRuns(Component):
    """The training runs: one process each, and the record each leaves. Runs typed in the scenario
    start here; the run policy (sim/world/run_policy.py) launches more with `launch`.

    It sees the sites and labs (to take and release GPUs), the products' numbers, the topology the
    runs step on, the physics settings, one random stream per run (failures) and the fiber cuts.

    A run takes accelerators of every product free at its sites and splits each step's batch among
    them in proportion to their throughput, so no product waits for another (Jia et al., "Whale:
    Efficient Giant Model Training over Heterogeneous GPUs", USENIX ATC 2022: batch and layer shares
    by device capability). Its peak per GPU is then the throughput-weighted mean, sum(n_i peak_i) / N;
    `gpu_type` names the product that carries most of its throughput, `gpu_types` all of them.
    """

    kind = "run"

    def __init__(self, env: simpy.Environment, runs: list[TrainingRun], start_date: dt.date, horizon_day: float,
                 tick_days: float, products: Products, sites: dict[str, Site], labs: dict[str, Lab],
                 topology: Topology | None = None, site_node: dict[str, str] | None = None,
                 physics: TrainingPhysics | None = None, rngs: dict[str, np.random.Generator] | None = None,
                 fiber_cuts: list[FiberCut] | None = None, wait_limit_days: float = 0.0,
                 costs: RunCosts | None = None, uses: ComputeUses | None = None,
                 posttraining: PostTrainingPolicy | None = None):
        super().__init__(env, "training")
        self.costs = costs
        self.uses, self.posttraining = uses, posttraining  # the labs' other uses; post-training after a run
        self.start_date, self.horizon_day, self.tick_days = start_date, horizon_day, tick_days
        self.products, self.sites, self.labs = products, sites, labs
        self.topology, self.site_node, self.physics = topology, site_node if site_node is not None else {}, physics
        self.rngs = rngs or {}
        self.fiber_cuts = fiber_cuts or []
        self.wait_limit_days = wait_limit_days
        self.records: list[RunRecord] = []
        self.by_name: dict[str, RunRecord] = {}
        self.active: dict[str, dict[str, float]] = {}  # lab -> {run: H100e} of its runs training now
        self.processes: dict[str, simpy.Process] = {}  # the scenario's runs, by name
        self.lab_of = {run.name: run.lab for run in runs}
        self.dated = {run.name for run in runs if run.start is not None}  # not waiting for a threshold
        for run in runs:
            self.processes[run.name] = self.add_process(self._run, run)

    def largest_active_h100e(self, lab: str) -> float:
        """The H100e of the lab's largest run training now (0 if none)."""
        return max(self.active.get(lab, {}).values(), default=0.0)

    def launch(self, run: TrainingRun, rng: np.random.Generator, planned_by: str = "policy") -> simpy.Process:
        """Start a run now (the run policy's); the returned process ends when the run does."""
        self.rngs[run.name] = rng
        return self.env.process(self._run(run, planned_by))

    def installed_h100e(self, sites: list[Site]) -> float:
        h100e = self.products.h100e
        return sum(n * h100e[i] for s in sites for i, n in enumerate(s.fleet.installed))

    def _run(self, run: TrainingRun, planned_by: str = "scenario"):
        """Wait for the start (a date, or an installed-H100e threshold) and for the sites to be built,
        take GPUs, train, release."""
        env = self.env
        sites = [self.sites[n] for n in run.sites]
        lab = self.labs[run.lab]
        if run.start is not None:
            start_day = to_day(run.start, self.start_date)
            if start_day >= self.horizon_day:
                self.records.append(self._not_started(run, sites, lab, "after_horizon", planned_by))
                return
            if start_day > env.now:
                yield env.timeout(start_day - env.now)
        else:
            while self.installed_h100e(sites) < run.start_when_h100e_installed:
                if env.now + self.tick_days >= self.horizon_day:  # the next look would fall at or past the end
                    self.records.append(self._not_started(run, sites, lab, "never_started", planned_by))
                    return
                yield env.timeout(self.tick_days)
        # sites under construction or not yet powered: wait for them (up to the limit), then take what
        # there is, or move to the lab's other sites; construction is then what bound the run if a site
        # was not built when the run was due
        construction = not all(s.built for s in sites)
        waited = 0.0
        while not all(s.built and s.available_mw > 0 for s in sites) and waited < self.wait_limit_days:
            step = min(self.tick_days, self.wait_limit_days - waited)
            if env.now + step >= self.horizon_day:
                break
            yield env.timeout(step)
            waited += step
        if construction and not any(_free(s) for s in sites):
            sites = self._elsewhere(lab, sites) or sites
        uses = self.uses
        if uses is not None and planned_by == "scenario":  # a typed run (the record) takes its GPUs first
            uses.yield_all(run.lab)
        elif uses is not None:  # a policy run, after the uses that rank above training
            uses.before_training(run.lab)
        chosen = self._products_for(run, sites)
        days = min(run.duration_days, self.horizon_day - env.now)  # a run still going at the end counts until then
        record, taken = self._start(run, sites, lab, chosen, days, planned_by)
        if uses is not None and planned_by == "scenario":
            uses.resume(run.lab)
        elif uses is not None:
            uses.after_training(run.lab)
        if construction:
            record.binding_constraint = "construction"
        self.records.append(record)
        self.by_name[record.run] = record
        if record.gpus == 0:
            record.status, record.end = "no_gpus", record.start
            return
        factor = self.products.failure_rate_factor  # the run's per-GPU failure rate: its products' mean
        self.fill_outcome(record, run, [(s.name, n) for s, _, n in taken], days, start_day=env.now,
                          failure_rate_factor=sum(n * factor[i] for _, i, n in taken) / record.gpus if factor else 1.0)
        self.charge(record, taken, min(days, run.duration_days))
        self.active.setdefault(run.lab, {})[run.name] = record.h100e
        yield env.timeout(run.duration_days)
        del self.active[run.lab][run.name]
        for s, product, n in taken:
            s.fleet.release(product, n)
        if self.posttraining is not None and planned_by == "policy" and record.status == "completed":
            # before anything else sees the freed GPUs: the lab post-trains the model it just pre-trained
            self.posttraining.launch(self, record, sites)

    def charge(self, record: RunRecord, taken: list[tuple[Site, int, int]], days: float) -> None:
        """The run's cluster capex, its energy over the days it runs, and its amortized cost
        (sim/physics/costs.py): straight-line depreciation over the run plus energy at each site's
        supply mix."""
        it_w = self.products.it_w
        energy = [(s, energy_mwh(facility_mw([n], [it_w[i]], s.pue), days)) for s, i, n in taken]
        record.energy_mwh = sum(e for _, e in energy)
        if self.costs is None:
            return
        record.cluster_capex_usd = sum(n * self.costs.price_all_in_usd[i] for _, i, n in taken)
        record.amortized_cost_usd = (amortized_hardware_usd(record.cluster_capex_usd, days, self.costs.hardware_life_days)
                                     + sum(e * s.energy_price_usd_per_mwh for s, e in energy))
        if record.flop > 0:
            record.usd_per_flop = record.amortized_cost_usd / record.flop

    def _elsewhere(self, lab: Lab, sites: list[Site]) -> list[Site]:
        """The lab's other built sites with free accelerators that the topology connects (the one with
        the most free peak first, then each that stays connected to it); empty if none."""
        others = sorted((s for s in lab.sites if s not in sites and s.built and _free(s)),
                        key=lambda s: -sum(s.fleet.free(i) * self.products.peak_bf16[i] for i in range(len(self.products))))
        if not others or self.topology is None:
            return others
        chosen = [others[0]]
        for s in others[1:]:
            nodes = [self.site_node[x.name] for x in chosen + [s]]
            if self.topology.connected(list(dict.fromkeys(nodes))):
                chosen.append(s)
        return chosen

    def _products_for(self, run: TrainingRun, sites: list[Site]) -> list[int]:
        """The run's GPU types: the one it names, else `choose_products`."""
        if run.gpu_type:
            return [self.products.names.index(run.gpu_type)]
        return choose_products(sites, self.products, run.precision, run.gpu_share, self.env.now)

    def _start(self, run: TrainingRun, sites: list[Site], lab: Lab, chosen: list[int], days: float,
               planned_by: str) -> tuple["RunRecord", list[tuple[Site, int, int]]]:
        """Take the run's share of the free GPUs of the chosen products at its sites; its record so far.
        The peak per GPU is the slowest chosen product's (a pooled synchronous job)."""
        products, now = self.products, self.env.now
        pacing = chosen[0]  # the fastest: power alone is counted in it
        chips, power = size_alone(run, chosen, pacing, sites, lab)
        taken = []
        for s in sites:
            for i in chosen:
                n = int(run.gpu_share * s.fleet.free(i))
                if n > 0:
                    s.fleet.take(i, n)
                    taken.append((s, i, n))
        gpus = sum(n for _, _, n in taken)
        used = [i for i in chosen if any(p == i for _, p, _ in taken)] or [pacing]
        flop_s = {i: sum(n for _, p, n in taken if p == i) * products.peak(i, run.precision) for i in used}
        main = max(used, key=lambda i: (flop_s[i], i))
        peak = sum(flop_s.values()) / gpus if gpus and len(used) > 1 else products.peak(main, run.precision)
        record = RunRecord(
            run=run.name, lab=run.lab, start=to_date(now, self.start_date),
            end=to_date(now + run.duration_days, self.start_date), gpus=gpus, gpu_type=products.names[main],
            sites=";".join(s.name for s in sites), flop=0.0, mfu=run.utilization or 0.0,
            binding_constraint=binding_constraint(chips, power),
            status="completed" if days >= run.duration_days else "running_at_end", duration_days=run.duration_days,
            h100e=sum(n * products.h100e[i] for _, i, n in taken), peak_flop_s=peak,
            precision=run.precision, chips_alone_gpus=chips, power_alone_gpus=power,
            planned_by=planned_by, gpu_types=";".join(products.names[i] for i in used),
        )
        return record, taken

    def _not_started(self, run: TrainingRun, sites: list[Site], lab: Lab, status: str,
                     planned_by: str = "scenario") -> "RunRecord":
        """A run that did not start: its date lies past the horizon, or its threshold was never reached."""
        chosen = self._products_for(run, sites)
        pacing = chosen[0]
        chips, power = size_alone(run, chosen, pacing, sites, lab)
        return RunRecord(
            run=run.name, lab=run.lab, start=None, end=None, gpus=0, gpu_type=self.products.names[pacing],
            sites=";".join(run.sites), flop=0.0, mfu=run.utilization or 0.0,
            binding_constraint=binding_constraint(chips, power), status=status,
            duration_days=run.duration_days, h100e=0.0, peak_flop_s=0.0, precision=run.precision,
            chips_alone_gpus=chips, power_alone_gpus=power, planned_by=planned_by,
            gpu_types=";".join(self.products.names[i] for i in chosen),
        )

    def fill_outcome(self, record: RunRecord, run: TrainingRun, taken: list[tuple[str, int]], days: float,
                     start_day: float, failure_rate_factor: float = 1.0) -> None:
        """Fill in what the run achieves over `days`: MFU, goodput, FLOP and what bound it.

        With a topology, MFU comes from the step time of the best parallel plan over the run's sites
        and the model is sized under the data and latency walls (sim/physics/sizing.py); failures are
        sampled from the run's own random stream and cost restarts and lost work (Daly 2006).
        achieved FLOP = GPUs x peak x MFU x goodput x time, never above the wall's compute-optimal FLOP.
        Binding: data or latency when a wall caps the model (or the latency floor sets the step);
        reliability when failures, checkpoints and spares lose more than the parallel plan does (1 -
        goodput > 1 - compute / step time); network when exposed communication is at least half the
        step; duration when the simulation ends before the run; otherwise chips or power, whichever
        allowed fewer GPUs.

        Fiber cuts (self.fiber_cuts) overlapping [start_day, start_day + days): for each overlap the same
        model and batch are re-planned on the topology without the cut links; the overlap runs at that
        MFU (a fixed `utilization` is scaled by the re-planned / planned MFU), or makes no progress when
        the run's sites are no longer connected. FLOP sums the pieces; `mfu` is then the time-weighted
        mean and `disrupted_days` / `stalled_days` count the days slowed / stopped.
        """
        gpus, peak, flop_cap = record.gpus, record.peak_flop_s, math.inf
        mfu = run.utilization
        sync, nodes = None, []
        if self.topology is not None and self.physics is not None:
            physics = self.physics
            held: dict[str, int] = {}  # the run's GPUs at each topology site, in the order taken
            for name, n in taken:
                if n > 0:
                    held[self.site_node[name]] = held.get(self.site_node[name], 0) + n
            nodes = list(held)
            network = run_network(self.topology, nodes, [held[n] for n in nodes])
            sync = outer_sync_of(run.sync)
            # checkpoints and restarts scale with the job (sim/physics/recovery.py); the model is sized at the
            # expected goodput of a first guess at its size (the size at kernel efficiency, or the given one)
            fabric = network.fabric
            scale = dict(nvlink_domain_gpus=fabric.nvlink_domain_gpus, rate_factor=failure_rate_factor,
                         peer_bytes_s_per_gpu=fabric.scale_out_bandwidth_bit_s_per_gpu / BITS_PER_BYTE)
            guess = run.model_params or chinchilla_params(gpus * peak * physics.kernel_efficiency
                                                          * run.duration_days * SECONDS_PER_DAY)
            plan = plan_run(gpus, peak, run.duration_days, network, physics, run.model_params, self._hbm_bytes(record),
                            sync if len(nodes) > 1 else None,
                            goodput=recovery_goodput(recovery(gpus, guess, physics, **scale)),
                            extra_tokens=self.uses.extra_tokens(run.lab) if self.uses is not None else 0.0)
            step = plan.step
            mfu = step.mfu if mfu is None else mfu
            record.step_time_s, record.comm_fraction, record.params = step.step_time_s, step.comm_fraction, plan.params
            if plan.limited_by != "compute":
                flop_cap = compute_optimal_flop(plan.params)  # C = 6 N D at D = 20 N (Epoch App. E)
            rec = recovery(gpus, plan.params, physics, min_interval_s=step.step_time_s
                           if 0 < step.step_time_s < math.inf else 1.0, **scale)
            outcome, record.goodput = simulate_recovery(self.rngs[run.name], days * SECONDS_PER_DAY, rec)
            record.interruptions = outcome.interruptions
            if plan.limited_by != "compute" or step.step_time_s <= step.latency_floor_s:
                record.binding_constraint = plan.limited_by if plan.limited_by != "compute" else "latency"
            elif record.goodput < step.compute_s / step.step_time_s:  # failures lose more than the parallel plan
                record.binding_constraint = "reliability"
            elif step.comm_fraction >= 0.5:
                record.binding_constraint = "network"
            if self.fiber_cuts and len(nodes) > 1:
                mfu = self._through_fiber_cuts(record, mfu, step, plan, nodes, [held[n] for n in nodes], start_day, days)
        record.mfu = mfu
        record.flop = min(training_flop(gpus, peak, mfu * record.goodput, days), flop_cap)
        if sync is not None and len(nodes) > 1:  # compute-equivalent: DiLoCo's tokens against synchronous ones
            record.flop *= sync.token_efficiency
        if days < run.duration_days and record.binding_constraint in ("chips", "power", "construction"):
            record.binding_constraint = "duration"


    def _hbm_bytes(self, record: RunRecord) -> float:
        """HBM per GPU of the run's pooled products: the smallest, which every model shard must fit."""
        if not self.products.hbm_bytes:
            return math.inf
        index = {name: i for i, name in enumerate(self.products.names)}
        return min(self.products.hbm_bytes[index[name]] for name in record.gpu_types.split(";"))

    def _through_fiber_cuts(self, record: RunRecord, mfu: float, step, plan, nodes: list[str], weights: list[int],
                            start_day: float, days: float) -> float:
        """The run's time-weighted MFU over [start_day, start_day + days) with the fiber cuts in it
        (stalled pieces count as 0); sets record.disrupted_days and record.stalled_days."""
        pieces = cut_pieces(self.fiber_cuts, start_day, start_day + days)
        if all(not cuts for _, cuts in pieces):
            return mfu
        base = run_network(self.topology, nodes, weights)
        seen: dict[tuple, float | None] = {}  # cuts in effect -> MFU (None: stalled)
        total = 0.0
        for length, cuts in pieces:
            if cuts not in seen:
                topology = cut_topology(self.topology, cuts) if cuts else self.topology
                if not topology.connected(nodes):
                    seen[cuts] = None
                else:
                    network = run_network(topology, nodes, weights)
                    if network == base:
                        seen[cuts] = mfu
                    else:
                        cut_step = step_on(network, plan.params, plan.batch_tokens, record.gpus, record.peak_flop_s,
                                           self.physics, self._hbm_bytes(record))
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


def _free(site: Site) -> int:
    return sum(site.fleet.free(i) for i in range(len(site.fleet.installed)))


# A product joins a run only if its peak is at least this share of the fastest product's: every GPU
# adds data-parallel ranks to each all-reduce and failures to the job (the job's failure rate grows
# with its GPU count, Kokolis et al. 2024), so a generation-old GPU at a few times lower peak costs
# the job more than it adds; it is left to other work (inference, experiments). Assumption (a
# quarter: about two generations of FLOP/s growth at 1.44x a year, Epoch 2030).
MIN_PEAK_RATIO = 0.25


def choose_products(sites: list[Site], products: Products, precision: str, share: float = 1.0,
                    day: float = 0.0) -> list[int]:
    """The products a run takes: every product with free GPUs at its sites whose peak is at least
    MIN_PEAK_RATIO of the fastest one's, fastest first (the batch is split by throughput, so each adds
    its FLOP/s). With nothing free, the fastest product on sale by `day` (the run will find no GPUs)."""
    free = [sum(s.fleet.free(i) for s in sites) for i in range(len(products))]
    order = sorted((i for i in range(len(products)) if int(share * free[i]) > 0),
                   key=lambda i: (-products.peak(i, precision), i))
    if order:
        fastest = products.peak(order[0], precision)
        order = [i for i in order if products.peak(i, precision) >= MIN_PEAK_RATIO * fastest]
    on_sale = [i for i in range(len(products)) if products.available_day[i] <= day] or list(range(len(products)))
    return order or [max(on_sale, key=lambda i: (products.peak(i, precision), i))]


def size_alone(run: TrainingRun, chosen: list[int], pacing: int, sites: list[Site], lab: Lab) -> tuple[int, int]:
    """GPUs the run could take if only chips limited it, and if only power did.

    Chips alone: the lab's free installed GPUs of the chosen products in these sites plus its
    inventory of them. Power alone: the sites' available power not drawn by other products or other
    runs, in GPUs of `pacing` (the fastest chosen product).
    """
    free = sum(s.fleet.free(i) for s in sites for i in chosen)
    chips = int(run.gpu_share * (free + sum(lab.inventory[i] for i in chosen)))
    power = 0
    for s in sites:
        fleet = s.fleet
        free_mw = sum(fleet.free(i) * fleet.it_w_per_gpu[i] for i in chosen) * s.pue / WATTS_PER_MEGAWATT
        power += gpus_within_power(s.available_mw - (fleet.drawn_mw - free_mw), fleet.it_w_per_gpu[pacing], s.pue)
    return chips, int(run.gpu_share * power)
