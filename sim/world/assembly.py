"""Assembles a scenario into SimPy processes, runs it and returns the Result.

Component tree, built once from the scenario (desmod style): supply (fabs, packaging lines,
HBM suppliers, assembly) -> allocator -> labs (inventory, installers) -> sites (construction,
power plants) -> training runs; a monthly probe records the state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from sim.world.disruptions import (Occurrence, disruption_rng, fiber_cuts, occurrences, plant_online_days, share_changes,
                              site_built_days, supply_capacity_factor)
from sim.physics.hardware import h100e_per_gpu
from sim.world.labs import Allocator, LabState, Refresh, installer_process
from sim.world.power import plant_firm_mw, plant_process
from sim.world.probes import Probe, probe_process
from sim.outputs.tables import Result, build_result
from sim.config.schedule import month_starts, to_day
from sim.config.schema import Scenario
from sim.world.sites import Cohort, SiteState, construction_process
from sim.world.supply import Stocks, SupplyPlan, SupplyState, assembly_process, input_process, plan_supply
from sim.network.topology import load_topology
from sim.world.training import RunContext, run_process


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (for benchmarks and summaries)."""

    def __init__(self) -> None:
        super().__init__()
        self.events_processed = 0

    def step(self) -> None:
        self.events_processed += 1
        super().step()


@dataclass
class World:
    """Everything a running simulation holds, by component."""

    scenario: Scenario
    seed: int
    env: CountingEnvironment
    horizon_day: float
    supply: SupplyState
    allocator: Allocator
    labs: dict[str, LabState]
    sites: dict[str, SiteState]
    runs: RunContext
    plan: SupplyPlan
    probe: Probe
    occurrences: list[Occurrence]  # disruptions, in time order


def build_world(s: Scenario, seed: int = 0) -> World:
    """Create the state and register every process; nothing has run yet.

    Disruptions (sim/disruptions.py) are drawn first, from their own stream (`disruption_rng(seed)`),
    and change the inputs the processes are built from: site completion and plant online days, the
    supply plan, the allocator's shares, and the fiber cuts the runs see.
    """
    env = CountingEnvironment()
    names = list(s.gpu_types)
    gpus = [s.gpu_types[n] for n in names]
    index = {n: i for i, n in enumerate(names)}
    reference = s.gpu_types[s.h100e_reference]
    horizon_day = to_day(s.end_date, s.start_date) + 1.0  # through the end of the last day
    newest_first = sorted(range(len(names)), key=lambda i: (gpus[i].available_from, i), reverse=True)
    life_days = s.gpu_service_life_days
    occs = occurrences(s, disruption_rng(seed))
    built_days = site_built_days(s, occs)
    online_days = plant_online_days(s, occs)

    # sites built and plants online by the start date are set directly; the rest are processes
    sites: dict[str, SiteState] = {}
    for name, spec in s.sites.items():
        site = SiteState(name=name, lab=spec.lab, facility_mw=spec.facility_mw, pue=spec.pue,
                         it_w_per_gpu=[g.all_in_it_w for g in gpus])
        sites[name] = site
        built_day = built_days[name]
        if built_day <= 0:
            site.mark_built()
        else:
            env.process(construction_process(env, site, built_day))
    for plant, online_day in zip(s.power_plants, online_days):
        site, firm_mw = sites[plant.site], plant_firm_mw(s, plant)
        if online_day <= 0:
            site.add_power(firm_mw)
        else:
            env.process(plant_process(env, online_day, firm_mw, site.add_power))

    labs = {
        name: LabState(name=name, sites=[st for st in sites.values() if st.lab == name], inventory=[0] * len(names))
        for name in s.labs
    }

    def retire_later(site: SiteState, product: int, cohort: Cohort) -> None:
        lab = labs[site.lab]

        def retire(_event) -> None:
            lab.retired_total[product] += site.retire(product, cohort)

        env.timeout(life_days).callbacks.append(retire)

    # the fleet installed on the start date (validated to fit the power online then)
    for name, spec in s.sites.items():
        for gpu_name, count in spec.initial_gpus.items():
            cohort = sites[name].install(index[gpu_name], count)
            labs[spec.lab].initial_total[index[gpu_name]] += count
            retire_later(sites[name], index[gpu_name], cohort)

    plan = plan_supply(s, supply_capacity_factor(occs, s.tick_days))
    supply = SupplyState(stocks=Stocks(dies=[0.0] * len(names)), produced_total=[0] * len(names))
    lab_list = list(labs.values())
    changes = share_changes(s, occs)
    allocator = Allocator(env, lab_list, [s.labs[n].share_of_output for n in labs],
                          [s.labs[n].delivery_lead_time_days for n in labs], len(names),
                          share_changes=[changes.get(n, []) for n in labs])

    stocks = supply.stocks
    for arrivals in plan.die_arrivals.values():
        env.process(input_process(env, plan, arrivals, _deposit_dies(stocks)))
    for arrivals in plan.cowos_arrivals.values():
        env.process(input_process(env, plan, arrivals, _deposit_attr(stocks, "cowos_wafers")))
    for arrivals in plan.hbm_arrivals.values():
        env.process(input_process(env, plan, arrivals, _deposit_attr(stocks, "hbm_stacks")))
    env.process(assembly_process(env, plan, supply, allocator.ship))
    refresh = None
    if s.gpu_refresh_min_flop_per_w_gain is not None:
        refresh = Refresh([g.bf16_dense_flop_s / g.all_in_it_w for g in gpus], s.gpu_refresh_min_flop_per_w_gain)
    for lab in lab_list:
        env.process(installer_process(env, lab, plan.tick_starts.tolist(), newest_first, refresh, retire_later))

    topology = load_topology(s.topology) if s.topology else None
    site_node = {name: spec.topology_site or name for name, spec in s.sites.items()}
    runs = RunContext(
        start_date=s.start_date, horizon_day=horizon_day, tick_days=s.tick_days, names=names,
        h100e=[h100e_per_gpu(g, reference) for g in gpus],
        peak_bf16=[g.bf16_dense_flop_s for g in gpus],
        peak_fp8=[g.fp8_dense_flop_s or g.bf16_dense_flop_s for g in gpus],
        sites=sites, labs=labs,
        topology=topology,
        site_node=site_node,
        physics=s.training,
        rngs=run_streams(seed, [r.name for r in s.runs]),
        fiber_cuts=fiber_cuts(occs, topology, site_node),
    )
    for spec in s.runs:
        env.process(run_process(env, spec, runs))

    probe = Probe(supply=supply, allocator=allocator, labs=labs, sites=sites)
    # the start date, then every month start after it (a mid-month start gets no sample before it)
    sample_days = [0.0] + [day for d in month_starts(s.start_date, s.end_date) if (day := to_day(d, s.start_date)) > 0]
    env.process(probe_process(env, probe, sample_days, horizon_day))
    return World(scenario=s, seed=seed, env=env, horizon_day=horizon_day, supply=supply, allocator=allocator,
                 labs=labs, sites=sites, runs=runs, plan=plan, probe=probe, occurrences=occs)


def _deposit_dies(stocks: Stocks):
    def deposit(dies: list[float]) -> None:
        held = stocks.dies
        for i, x in enumerate(dies):
            held[i] += x
    return deposit


def _deposit_attr(stocks: Stocks, attr: str):
    def deposit(amount: float) -> None:
        setattr(stocks, attr, getattr(stocks, attr) + amount)
    return deposit


def run_streams(seed: int, names: list[str]) -> dict[str, np.random.Generator]:
    """One independent random stream per run, all spawned from the one seed (numpy SeedSequence).

    The children of SeedSequence(seed) have one-word spawn keys (0,), (1,), ...; disruptions draw
    from SeedSequence(seed, spawn_key=disruptions.DISRUPTION_SPAWN_KEY), a two-word key, so adding
    disruptions to a scenario leaves every run's stream as it was.
    """
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children)}


def run(scenario: Scenario, seed: int = 0) -> Result:
    """Simulate a scenario from its start date through its end date."""
    world = build_world(scenario, seed)
    world.env.run(until=world.horizon_day)
    return build_result(world)
