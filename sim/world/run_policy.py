"""The run policy: each lab launches its frontier pre-training runs itself instead of following a list.

A lab (of `run_policy.labs`, default every lab with sites) launches its first policy run on
`first_start`, or when its runs typed in the scenario have ended if that is later. Its next run launches when the
previous one ends, or earlier once the accelerators free at its sites (what a new run could use) add
up to `relaunch_growth_factor` x its largest run training now: a new cluster that size is worth a
new run, while the earlier run keeps its own accelerators to the end. The first policy run waits for
the lab's runs typed in the scenario to end. It reacts to events: a run ending, or an install pass;
it never polls.

The run:
  sites     the lab's campuses (topology sites) a run on their free accelerators is fastest on: the one
            with the most free peak FLOP/s, then, largest first, each other one connected to it whose
            joining raises the run's expected effective FLOP/s (GPUs x peak x MFU x goodput on the
            network over them, the GPUs split in proportion to what each holds; `CampusPlanner`), with their built
            sites holding accelerators; and sites due to be finished within `run_wait_limit_days` that
            the topology connects to them, which the run waits for (its label is then `construction`;
            the planner knows a site's finish date, delays included). Without a topology (no physics)
            every built site with accelerators free joins;
  GPUs      `gpu_share` of the free accelerators there, pooled across products (sim/world/training.py);
  duration  min(max_duration_days, duration_days_at_first_start x growth^years since first_start).

Evidence behind the baseline's parameters (scenarios/baseline.yaml cites each): frontier runs have
lengthened ~1.4x a year since 2020 toward a ~9-month cap (Epoch AI, "The length of frontier training
runs", 2025; Epoch 2030 uses 60 / 180 / 270 days); ~80% of a lab's compute trains (Epoch 2030); labs
release a frontier model every 6-12 months, i.e. when their compute has grown 2-4x at ~4x a year
(Epoch AI, "Training compute of frontier AI models grows by 4-5x per year", 2024).
"""
from __future__ import annotations

import datetime as dt

import simpy

from sim.config.schedule import DAYS_PER_YEAR, to_date, to_day
from sim.config.schema import RunPolicySpec, TrainingRun
from sim.network.spans import run_network
from sim.network.topology import Topology
from sim.physics.fabric import Network
from sim.physics.sizing import (SCREEN_PEAK_STEPS_PER_DOUBLING, SCREEN_SHARE_GRID_STEPS, SCREEN_STEPS_PER_DOUBLING,
                                SHARE_GRID_STEPS, OuterSync, RunEfficiency, RunPhysics, grid_shares, grow_while_faster,
                                outer_sync_of)
from sim.world.component import Component
from sim.world.labs import Lab
from sim.world.products import Products
from sim.world.sites import Site
from sim.world.streams import RandomStreams
from sim.world.training import MIN_PEAK_RATIO, TrainingRuns


def run_duration_days(spec: RunPolicySpec, years_since_first_start: float) -> float:
    """Duration of a run launched this many years after first_start: grows geometrically to a cap
    (Epoch AI 2025: frontier run length x1.4 a year, ~9-month cap)."""
    grown = spec.duration_days_at_first_start * spec.duration_growth_per_year ** max(years_since_first_start, 0.0)
    return min(spec.max_duration_days, grown)


class CampusPlanner:
    """Which campuses a run spans, and what it is expected to achieve there: one physics for the run
    policy's choice of sites and the frontier's runs.

    A candidate run is GPUs by product at each campus (a topology site). Its expected effective FLOP/s
    is GPUs x peak x MFU x goodput (x DiLoCo's token efficiency across sites) on the network over its
    campuses, the GPUs split over them in proportion to what each holds (`run_network` with weights):
    `RunEfficiency`, the functions a run's own outcome uses. `choose` tries campuses largest first and
    adds each that raises that rate (`grow_while_faster`); only campuses the topology connects to the
    first.
    """

    def __init__(self, topology: Topology, physics: RunPhysics, peak_flop_s: list[float], hbm_bytes: list[float],
                 sync: OuterSync | None = None, utilization: float | None = None,
                 failure_rate_factor: list[float] | None = None):
        self.topology, self.peak, self.hbm = topology, list(peak_flop_s), list(hbm_bytes)
        self.failure_rate_factor = list(failure_rate_factor or [])
        self.efficiency = RunEfficiency(physics, sync, utilization)
        self.rough = RunEfficiency(physics, sync, utilization, SCREEN_STEPS_PER_DOUBLING, SCREEN_PEAK_STEPS_PER_DOUBLING)
        self._networks: dict[tuple, Network] = {}

    def network(self, campuses: tuple[str, ...], gpus: list[float], steps: int = SHARE_GRID_STEPS) -> Network:
        """The network over `campuses` with the run's GPUs split as `gpus` (on a share grid of `steps`;
        cached)."""
        shares = grid_shares(gpus, steps) if len(campuses) > 1 else (1,)
        key = (campuses, shares)
        network = self._networks.get(key)
        if network is None:
            network = self._networks[key] = run_network(self.topology, list(campuses), list(shares))
        return network

    def flop_s(self, counts: dict[str, list[float]], campuses: list[str], duration_days: float,
               rough: bool = False) -> float:
        """Expected effective FLOP/s of a run on `counts` (GPUs by product at each campus) at `campuses`
        (`rough`: on the coarse screening grid)."""
        peak, n = self.peak, len(self.peak)
        total = [0.0] * n
        used, per_campus = [], []
        for c in campuses:
            gpus = sum(counts[c])
            if gpus >= 1:
                used.append(c)
                per_campus.append(gpus)
                for i, g in enumerate(counts[c]):
                    total[i] += g
        gpus = sum(per_campus)
        if gpus < 1:
            return 0.0
        raw = sum(g * p for g, p in zip(total, peak))
        hbm = min((self.hbm[i] for i in range(n) if total[i] > 0 and self.hbm), default=None)
        factor = self.failure_rate_factor  # the run's per-GPU failure rate: its products' mean, as runs take it
        rate_factor = sum(g * f for g, f in zip(total, factor)) / gpus if factor else 1.0
        network = self.network(tuple(used), per_campus, SCREEN_SHARE_GRID_STEPS if rough else SHARE_GRID_STEPS)
        expected = (self.rough if rough else self.efficiency)(gpus, raw / gpus, duration_days, network, hbm,
                                                              rate_factor, campuses=tuple(used))
        return raw * expected.effective

    def choose(self, counts: dict[str, list[float]], duration_days: float) -> tuple[list[str], float]:
        """The campuses a run on `counts` spans, and its expected effective FLOP/s there: the campus with
        the most peak FLOP/s, then, largest first, each other one connected to it that raises that rate
        (ties: by name)."""
        peak = self.peak
        size = {c: sum(g * p for g, p in zip(v, peak)) for c, v in counts.items()}
        order = sorted((c for c in counts if size[c] > 0 and sum(counts[c]) >= 1), key=lambda c: (-size[c], c))
        if not order:
            return [], 0.0
        anchor, topology = order[0], self.topology
        return grow_while_faster(order, lambda chosen: self.flop_s(counts, chosen, duration_days),
                                 joins=lambda chosen, c: topology.connected([anchor, c]),
                                 screen=lambda chosen: self.flop_s(counts, chosen, duration_days, rough=True))


class RunPolicy(Component):
    """Launches each policy lab's runs (see the module docstring)."""

    kind = "run_policy"

    def __init__(self, env: simpy.Environment, spec: RunPolicySpec, start_date: dt.date, horizon_day: float,
                 labs: dict[str, Lab], lab_names: list[str], training: TrainingRuns, products: Products,
                 topology: Topology | None, site_node: dict[str, str], streams: RandomStreams,
                 typed_names: set[str] = frozenset()):
        super().__init__(env, "run_policy")
        self.spec, self.start_date, self.horizon_day = spec, start_date, horizon_day
        self.training, self.products, self.topology, self.site_node = training, products, topology, site_node
        self.streams = streams
        self.peak = [products.peak(i, spec.precision) for i in range(len(products))]
        self.first_day = to_day(spec.first_start, start_date)
        self.grown: dict[str, simpy.Event] = {}  # lab -> the event an install pass fires when its cluster grew
        self.threshold_h100e: dict[str, float] = {}  # lab -> factor on its running run's H100e (or H100e)
        self.running: dict[str, str] = {}  # lab -> its latest policy run
        self.labs = {name: labs[name] for name in lab_names}
        self.lab_index = {name: i for i, name in enumerate(labs)}
        self.names_used: set[str] = set(typed_names)
        physics = training.physics
        self.planner = None if topology is None or physics is None else CampusPlanner(
            topology, physics, self.peak, products.hbm_bytes, outer_sync_of(spec.sync), spec.utilization,
            products.failure_rate_factor)
        for name, lab in self.labs.items():
            # the lab's dated scenario runs (a run waiting for an installed-H100e threshold that may never
            # come does not hold the policy back)
            typed = [p for run_name, p in training.processes.items()
                     if training.lab_of[run_name] == name and run_name in training.dated]
            self.add_process(self._lab, lab, self.first_day, typed)

    def on_install_pass(self, installed_at: list[str]) -> None:
        """Told after each install pass which labs installed: fire the event of each such lab whose
        usable free accelerators (what a run launched now would take) reach its threshold (its largest
        run training now x the growth factor)."""
        for name in installed_at:
            event = self.grown.get(name)
            if event is None or event.triggered:
                continue
            running_name = self.running.get(name)
            if running_name and running_name not in self.training.by_name:  # its run is still waiting for its sites
                continue
            largest = self.training.largest_active_h100e(name)
            threshold = self.threshold_h100e[name] * (largest if largest > 0 else 1.0)
            if self._usable_h100e(self.labs[name]) >= threshold:
                event.succeed()

    def _usable_h100e(self, lab: Lab) -> float:
        """H100e a run launched now would take, near enough for the trigger: its share of the free GPUs
        at the lab's built sites, of the products within MIN_PEAK_RATIO of the fastest one free (the
        products `choose_products` would pool). One pass over sites and products."""
        n = len(self.products)
        free = [0] * n
        for s in lab.sites:
            if s.built:
                fleet = s.fleet
                for i in range(n):
                    if fleet.installed[i]:
                        free[i] += fleet.installed[i] - fleet.busy[i]
        peaks = [self.peak[i] if free[i] > 0 else 0.0 for i in range(n)]
        fastest = max(peaks)
        if fastest <= 0:
            return 0.0
        h100e = self.products.h100e
        return self.spec.gpu_share * sum(free[i] * h100e[i] for i in range(n) if peaks[i] >= MIN_PEAK_RATIO * fastest)

    def _lab(self, lab: Lab, first_day: float, typed: list[simpy.Process]):
        env, spec = self.env, self.spec
        if first_day > env.now:
            yield env.timeout(first_day - env.now)
        if typed:  # the lab's scenario runs still going (or waiting to start): let them finish
            yield env.all_of(typed)
        number = 0
        while env.now < self.horizon_day - 1.0:
            years = (env.now - self.first_day) / DAYS_PER_YEAR
            duration_days = run_duration_days(spec, years)
            uses = self.training.uses
            if uses is not None:  # uses with priority over training first take theirs (sim/world/compute_uses.py)
                uses.before_training(lab.name)
            sites = self._sites(lab, duration_days)
            if not sites or self._usable_h100e(lab) <= 0:  # nothing free to train on: wait for an install pass
                if uses is not None:
                    uses.after_training(lab.name)
                self.running.pop(lab.name, None)
                yield self._growth_event(lab.name, 1e-9)
                self.grown.pop(lab.name, None)
                continue
            run = TrainingRun.model_construct(
                name=self._name(lab.name), lab=lab.name, sites=[s.name for s in sites],
                start=to_date(env.now, self.start_date), start_when_h100e_installed=None,
                duration_days=duration_days, utilization=spec.utilization, gpu_share=spec.gpu_share,
                precision=spec.precision, gpu_type=None, model_params=None, sync=spec.sync,
            )
            process = self.training.launch(run, self.streams.policy_run(self.lab_index[lab.name], number))
            self.running[lab.name] = run.name
            number += 1
            yield process | self._growth_event(lab.name, spec.relaunch_growth_factor)
            self.grown.pop(lab.name, None)
            record = self.training.by_name.get(run.name)
            if record is None or record.gpus == 0:  # it found nothing: wait for the next install pass
                self.running.pop(lab.name, None)
                yield self._growth_event(lab.name, 1e-9)
                self.grown.pop(lab.name, None)

    def _growth_event(self, lab: str, threshold_h100e: float) -> simpy.Event:
        event = self.env.event()
        self.grown[lab], self.threshold_h100e[lab] = event, threshold_h100e
        return event

    def _sites(self, lab: Lab, duration_days: float) -> list[Site]:
        """The run's sites: its campuses (sites on one topology site are one campus: halls the procurement
        policy added there) as `CampusPlanner.choose` picks them from what a run would take at each
        (its share of the free accelerators of the products it would pool), each campus's built sites
        holding accelerators, largest first; and the lab's sites due to be finished within the wait
        limit that the topology connects to them (the run waits for those). Without a topology or
        training physics, every campus with accelerators free joins."""
        held = [s for s in lab.sites if s.built and any(s.fleet.installed)]
        if not held:
            return held
        node = self.site_node.get if self.topology is not None else None
        campus_of = {s.name: (node(s.name, s.name) if node else s.name) for s in held}
        usable = self._usable(held)
        counts: dict[str, list[float]] = {}
        for s in held:
            row = counts.setdefault(campus_of[s.name], [0.0] * len(self.products))
            for i, n in usable[s.name].items():
                row[i] += n
        if self.planner is not None:
            joined, _ = self.planner.choose(counts, duration_days)
        else:
            peak = self.peak
            size = {c: sum(g * p for g, p in zip(v, peak)) for c, v in counts.items()}
            joined = sorted((c for c in counts if size[c] > 0), key=lambda c: (-size[c], c))
            if self.topology is not None and joined:
                joined = [c for c in joined if self.topology.connected([joined[0], c])]
        if not joined:
            return []
        order = {c: k for k, c in enumerate(joined)}
        peak = self.products.peak_bf16
        chosen = sorted((s for s in held if campus_of[s.name] in order),
                        key=lambda s: (order[campus_of[s.name]],
                                       -sum(n * peak[i] for i, n in enumerate(s.fleet.installed)), s.name))
        due = [s for s in lab.sites if not s.built and s.built_day <= self.env.now + self.training.wait_limit_days]
        if self.topology is None:
            return chosen + due
        for s in due:
            if self.topology.connected(list(dict.fromkeys([*joined, self.site_node[s.name]]))):
                chosen.append(s)
        return chosen

    def _usable(self, sites: list[Site]) -> dict[str, dict[int, float]]:
        """Per site, the GPUs a run launched now would take there, by product: `gpu_share` of the free
        accelerators of the products within MIN_PEAK_RATIO of the fastest one free at these sites (the
        products `choose_products` pools)."""
        n, peak, share = len(self.products), self.peak, self.spec.gpu_share
        free = {s.name: [s.fleet.installed[i] - s.fleet.busy[i] for i in range(n)] for s in sites}
        fastest = max((peak[i] for f in free.values() for i in range(n) if int(share * f[i]) > 0), default=0.0)
        return {name: {i: float(int(share * f[i])) for i in range(n)
                       if int(share * f[i]) > 0 and peak[i] >= MIN_PEAK_RATIO * fastest}
                for name, f in free.items()}

    def _name(self, lab: str) -> str:
        """A run's name: the lab and the launch year, with -2, -3, ... for later runs in the same year."""
        base = f"{lab}-{to_date(self.env.now, self.start_date).year}"
        name, k = base, 2
        while name in self.names_used:
            name, k = f"{base}-{k}", k + 1
        self.names_used.add(name)
        return name
