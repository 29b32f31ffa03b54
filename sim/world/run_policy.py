"""The run policy: each lab launches its frontier pre-training runs itself instead of following a list.

A lab (of `run_policy.labs`, default every lab with sites) launches its first policy run on
`first_start`, or when its runs typed in the scenario have ended if that is later. Its next run launches when the
previous one ends, or earlier once the accelerators free at its sites (what a new run could use) add
up to `relaunch_growth_factor` x its largest run training now: a new cluster that size is worth a
new run, while the earlier run keeps its own accelerators to the end. The first policy run waits for
the lab's runs typed in the scenario to end. It reacts to events: a run ending, or an install pass;
it never polls.

The run:
  sites     the lab's built sites holding accelerators that the topology connects: the site with the
            most installed peak FLOP/s, then each other site that stays connected to it; and sites
            due to be finished within `run_wait_limit_days`, which the run waits for (its label is
            then `construction`; the planner knows a site's finish date, delays included);
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
from sim.network.topology import Topology
from sim.world.component import Component
from sim.world.labs import Lab
from sim.world.products import Products
from sim.world.sites import Site
from sim.world.streams import RandomStreams
from sim.world.training import MIN_PEAK_RATIO, TrainingRuns


# A site joins a policy run only if it holds at least this share of the peak FLOP/s of the run's
# largest site. Assumption: half. A second site costs a synchronous all-reduce between sites every
# step, and the step model splits a run's GPUs evenly across its sites (sim/physics/step_time.py), so
# a small site slows the whole run more than it adds (in the baseline a quarter-size metro site
# halved a 1.5M-H100e run's MFU). Issue 13 revisits multi-site training; this rule then goes.
MIN_SITE_SHARE = 0.5


def run_duration_days(spec: RunPolicySpec, years_since_first_start: float) -> float:
    """Duration of a run launched this many years after first_start: grows geometrically to a cap
    (Epoch AI 2025: frontier run length x1.4 a year, ~9-month cap)."""
    grown = spec.duration_days_at_first_start * spec.duration_growth_per_year ** max(years_since_first_start, 0.0)
    return min(spec.max_duration_days, grown)


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
            sites = self._sites(lab)
            if not sites or self._usable_h100e(lab) <= 0:  # nothing free to train on: wait for an install pass
                self.running.pop(lab.name, None)
                yield self._growth_event(lab.name, 1e-9)
                self.grown.pop(lab.name, None)
                continue
            years = (env.now - self.first_day) / DAYS_PER_YEAR
            run = TrainingRun.model_construct(
                name=self._name(lab.name), lab=lab.name, sites=[s.name for s in sites],
                start=to_date(env.now, self.start_date), start_when_h100e_installed=None,
                duration_days=run_duration_days(spec, years), utilization=spec.utilization, gpu_share=spec.gpu_share,
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

    def _sites(self, lab: Lab) -> list[Site]:
        """The lab's built sites with accelerators, campus by campus (sites on one topology site are
        one campus: halls the procurement policy added there), most installed peak first, that the
        topology connects; and its sites due to be finished within the wait limit (the run waits)."""
        peak = self.products.peak_bf16
        held = [s for s in lab.sites if s.built and any(s.fleet.installed)]
        if not held:
            return held
        node = self.site_node.get if self.topology is not None else None
        campus_peak: dict[str, float] = {}
        for s in held:
            key = node(s.name, s.name) if node else s.name
            campus_peak[key] = campus_peak.get(key, 0.0) + sum(n * peak[i] for i, n in enumerate(s.fleet.installed))
        campuses = sorted(campus_peak, key=lambda c: (-campus_peak[c], c))
        due = [s for s in lab.sites if not s.built and s.built_day <= self.env.now + self.training.wait_limit_days]
        # another campus joins only if it holds at least MIN_SITE_SHARE of the anchor campus's peak:
        # every step's all-reduce then crosses between campuses, which a small one does not pay for
        joined = [campuses[0]] + [c for c in campuses[1:] if campus_peak[c] >= MIN_SITE_SHARE * campus_peak[campuses[0]]]
        if self.topology is not None:
            connected = [joined[0]]
            for c in joined[1:]:
                if self.topology.connected(connected + [c]):
                    connected.append(c)
            joined = connected
        order = {c: k for k, c in enumerate(joined)}
        chosen = sorted((s for s in held if (node(s.name, s.name) if node else s.name) in order),
                        key=lambda s: (order[node(s.name, s.name) if node else s.name],
                                       -sum(n * peak[i] for i, n in enumerate(s.fleet.installed)), s.name))
        if self.topology is None:
            return chosen + due
        for s in due:
            if self.topology.connected(list(dict.fromkeys([*joined, self.site_node[s.name]]))):
                chosen.append(s)
        return chosen

    def _name(self, lab: str) -> str:
        """A run's name: the lab and the launch year, with -2, -3, ... for later runs in the same year."""
        base = f"{lab}-{to_date(self.env.now, self.start_date).year}"
        name, k = base, 2
        while name in self.names_used:
            name, k = f"{base}-{k}", k + 1
        self.names_used.add(name)
        return name
