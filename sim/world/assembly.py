"""The world assembler: builds the components of a scenario and wires them together. Wiring only:
each component starts its own processes and records its own probes.

Component tree, built in this order (the order fixes SimPy's tie-breaking, so it is part of the
model's definition): disruptions (drawn first: they change the inputs the others are built from) ->
power equipment makers -> projects (budgets; sites with their construction, power plants) -> labs and
their start-date fleets -> allocator -> supply (fabs, packaging lines, HBM suppliers, assembly) ->
lab installers -> compute uses (with the post-training policy) -> training runs -> run policy -> procurement policies -> probes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import simpy

from sim.config.plants import energy_terms, plant_firm_mw
from sim.config.schedule import DAYS_PER_MONTH, month_starts, to_date, to_day
from sim.physics.costs import trend_price_usd
from sim.physics.units import WATTS_PER_MEGAWATT
from sim.config.schema import Scenario
from sim.network.topology import load_topology
from sim.world.allocator import Allocator
from sim.world.compute_uses import ComputeUses
from sim.world.disruptions import (Disruptions, equipment_capacity_factor, fiber_cuts, plant_online_days,
                                   share_changes, site_built_days, supply_capacity_factor)
from sim.world.equipment import EquipmentMaker
from sim.world.money import Budget
from sim.world.power import PlantEconomics
from sim.world.procurement import GridHeadroom, PowerProcurement
from sim.world.projects import PlantOrder, Projects
from sim.world.fleet import Refresh, ServiceLife
from sim.world.labs import InstallPass, Lab, Purchasing
from sim.world.posttraining import PostTrainingPolicy
from sim.world.power import Plant
from sim.world.probes import FrontierProbe, ProductProbe, Recorder, WorldProbe, frontier_planner, lab_walls
from sim.world.products import Products
from sim.world.sites import Site
from sim.world.run_policy import CampusPlanner, RunPolicy
from sim.world.streams import RandomStreams
from sim.world.supply import Supply
from sim.world.supply_plan import SupplyPlan, build_ramp, plan_supply
from sim.world.training import RunCosts, TrainingRuns


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
    """A simulation ready to run (or run): the environment and every component, by role."""

    scenario: Scenario
    seed: int
    env: CountingEnvironment
    horizon_day: float
    products: Products
    disruptions: Disruptions
    sites: dict[str, Site]
    plants: list[Plant]
    labs: dict[str, Lab]
    supply: Supply
    allocator: Allocator
    training: TrainingRuns
    recorder: Recorder
    frontier: FrontierProbe
    projects: Projects
    equipment: dict[str, EquipmentMaker]
    run_policy: RunPolicy | None = None
    procurement: list[PowerProcurement] | None = None

    @property
    def plan(self) -> SupplyPlan:
        return self.supply.plan

    @property
    def occurrences(self):
        return self.disruptions.occurrences


def build_world(s: Scenario, seed: int = 0) -> World:
    """Create every component and start its processes; nothing has run yet."""
    env = CountingEnvironment()
    streams = RandomStreams(seed)
    products = Products.of(s)
    horizon_day = to_day(s.end_date, s.start_date) + 1.0  # through the end of the last day
    disruptions = Disruptions(env, s, streams.disruptions())
    occs = disruptions.occurrences
    plan = plan_supply(s, supply_capacity_factor(occs, s.tick_days))
    # equipment makers deliver monthly: their output and lead times are monthly and yearly figures
    months = [k * DAYS_PER_MONTH for k in range(int(horizon_day / DAYS_PER_MONTH) + 1)]
    makers = {name: EquipmentMaker(env, name, build_ramp(spec.capacity_mw_per_year, s.start_date),
                                   build_ramp(spec.other_orders_mw_per_year, s.start_date), spec.backlog_mw,
                                   months, DAYS_PER_MONTH, equipment_capacity_factor(occs, name))
              for name, spec in s.power_equipment.items()}
    budgets = {name: Budget(build_ramp(lab.budget.usd_per_year, s.start_date) if lab.budget else None,
                            lab.budget.initial_usd if lab.budget else 0.0) for name, lab in s.labs.items()}
    projects = Projects(env, budgets, s.costs.datacenter_capex_usd_per_mw if s.costs else 0.0)
    sites, plants = _build_sites(env, s, products, disruptions, projects, makers)
    labs = _build_labs(env, s, products, sites, budgets)

    shares = [[s.labs[n].share_of(family) for family in products.family] for n in labs]
    allocator = Allocator(env, list(labs.values()), shares,
                          [s.labs[n].delivery_lead_time_days for n in labs], len(products),
                          share_changes=[share_changes(s, occs).get(n, []) for n in labs])
    supply = Supply(env, plan, allocator.ship)
    refresh = None
    if s.gpu_refresh_min_flop_per_w_gain is not None:
        refresh = Refresh(products.flop_per_w(), s.gpu_refresh_min_flop_per_w_gain, s.gpu_refresh_min_age_days)
    install_pass = InstallPass(env, list(labs.values()), supply.plan.tick_starts.tolist(), products.newest_first,
                               refresh, allocator.deliver_due)

    topology = load_topology(s.topology) if s.topology else None
    site_node = {name: spec.topology_site or name for name, spec in s.sites.items()}
    uses, posttraining = _build_uses(env, s, products, labs)
    training = TrainingRuns(
        env, s.runs, start_date=s.start_date, horizon_day=horizon_day, tick_days=s.tick_days, products=products,
        sites=sites, labs=labs, topology=topology, site_node=site_node, physics=s.training,
        rngs=streams.runs([r.name for r in s.runs]), fiber_cuts=fiber_cuts(occs, topology, site_node),
        wait_limit_days=s.run_wait_limit_days,
        costs=RunCosts(_price_all_in_usd(s), s.costs.hardware_life_days) if s.costs else None,
        uses=uses, posttraining=posttraining,
    )
    run_policy = None
    if s.run_policy is not None:
        policy_labs = s.run_policy.labs or [name for name in s.labs if labs[name].sites]
        run_policy = RunPolicy(env, s.run_policy, s.start_date, horizon_day, labs, policy_labs, training, products,
                               topology, site_node, streams, {r.name for r in s.runs})
        install_pass.observers.append(run_policy.on_install_pass)
    procurement = _build_procurement(env, s, products, labs, allocator, plan, budgets, projects, makers, streams,
                                     horizon_day)
    site_list = list(sites.values())
    recorder, frontier = _build_probes(env, s, products, supply, allocator, labs, site_list, disruptions,
                                       horizon_day, lab_walls(s, products, topology, site_node), makers,
                                       frontier_planner(s, products, topology), site_node, uses)

    def announce(site: Site, node: str) -> None:
        """A site the procurement policy started: its lab, the runs and the probes now see it."""
        labs[site.lab].sites.append(site)
        sites[site.name] = site
        site_node[site.name] = node
        site_list.append(site)
        recorder.probes.append(site)
    projects.on_new_site.append(announce)
    return World(scenario=s, seed=seed, env=env, horizon_day=horizon_day, products=products,
                 disruptions=disruptions, sites=sites, plants=plants, labs=labs, supply=supply,
                 allocator=allocator, training=training, recorder=recorder, frontier=frontier,
                 projects=projects, equipment=makers, run_policy=run_policy, procurement=procurement)


def _build_sites(env: simpy.Environment, s: Scenario, products: Products, disruptions: Disruptions,
                 projects: Projects, makers: dict[str, EquipmentMaker]) -> tuple[dict[str, Site], list[Plant]]:
    """The scenario's sites (halls built on their days, after construction delays) and the plants
    feeding them (online on their day, after turbine backlogs and interconnection delays, and not
    before their equipment: sim/world/power.py)."""
    built_days = site_built_days(s, disruptions.occurrences)
    sites = {}
    for name, spec in s.sites.items():
        site = Site(env, name, spec.lab, spec.facility_mw, spec.pue, products.it_w, built_day=built_days[name],
                    phases=spec.phases, phase_interval_days=spec.phase_interval_days, peak_flop_s=products.peak_bf16)
        sites[name] = projects.add_site(site, spec.region or "", to_day(spec.construction_start, s.start_date),
                                        "scenario")
    plants = []
    for plant, online_day in zip(s.power_plants, plant_online_days(s, disruptions.occurrences)):
        pt, region = s.plant_types[plant.type], s.sites[plant.site].region
        order = PlantOrder(
            name=plant.name, type=plant.type, nameplate_mw=plant.capacity_mw, firm_mw=plant_firm_mw(s, plant),
            online_day=online_day, start_day=to_day(plant.construction_start, s.start_date), phases=plant.phases,
            phase_interval_days=plant.phase_interval_days,
            economics=PlantEconomics(*energy_terms(s, plant.type, region), plant.type, region or ""),
            equipment=[] if plant.equipment_on_hand else [(makers[e], plant.capacity_mw * per_mw)
                                                          for e, per_mw in pt.equipment.items()],
            install_days=pt.install_days, capex_usd=plant.capacity_mw * pt.capex_usd_per_mw)
        plants.append(projects.add_plant(order, sites[plant.site], region or "", "scenario"))
    return sites, plants


def _build_labs(env: simpy.Environment, s: Scenario, products: Products, sites: dict[str, Site],
                budgets: dict[str, Budget]) -> dict[str, Lab]:
    """Labs with their sites, and the fleet installed on the start date (validated to fit the power
    online then)."""
    service_life = ServiceLife(env, s.gpu_service_life_days)
    labs = {name: Lab(env, name, [site for site in sites.values() if site.lab == name], len(products),
                      products.h100e, service_life, _purchasing(s, name, products, sites, budgets[name]),
                      budgets[name])
            for name in s.labs}
    index = {name: i for i, name in enumerate(products.names)}
    initial = [(sites[name].fleet, index[gpu_name], labs[spec.lab].install_initial(sites[name], index[gpu_name], count))
               for name, spec in s.sites.items() for gpu_name, count in spec.initial_gpus.items()]
    service_life.start(initial)
    return labs


def _price_all_in_usd(s: Scenario) -> list[float]:
    """Per product: its price x (1 + server overhead), what a lab pays per accelerator installed. A
    product without a price follows the price-performance trend from the reference GPU's price (none
    if that has no price either, or without `costs`)."""
    if s.costs is None:
        return [0.0] * len(s.gpu_types)
    ref = s.gpu_types[s.h100e_reference]

    def year(gpu) -> float:
        return gpu.available_from.year + (gpu.available_from.timetuple().tm_yday - 1) / 365.25

    def price(gpu) -> float:
        if gpu.price_usd is not None:
            return gpu.price_usd
        if ref.price_usd is None:
            return 0.0
        return trend_price_usd(ref.price_usd, ref.bf16_dense_flop_s, year(ref), gpu.bf16_dense_flop_s, year(gpu),
                               s.costs.price_doubling_years)
    return [price(gpu) * (1.0 + s.costs.server_overhead) for gpu in s.gpu_types.values()]


def _purchasing(s: Scenario, lab: str, products: Products, sites: dict[str, Site],
                budget: Budget) -> Purchasing | None:
    """A lab's purchase policy, from `labs.NAME.purchasing` (None: it takes its whole share)."""
    spec = s.labs[lab]
    if spec.purchasing is None:
        return None
    lab_sites = [site for site in sites.values() if site.lab == lab]
    pue = sum(site.pue for site in lab_sites) / len(lab_sites) if lab_sites else 1.0
    rank = {p: r for r, p in enumerate(products.newest_first)}

    def year_of(day: float) -> int:
        return to_date(day, s.start_date).year

    return Purchasing(
        lead_days=spec.delivery_lead_time_days, power_buffer=spec.purchasing.power_buffer,
        mw_per_gpu=[w * pue / WATTS_PER_MEGAWATT for w in products.it_w],
        newest_rank=[rank[i] for i in range(len(products))],
        buys=[spec.share_of(f) > 0 for f in products.family], available_day=products.available_day,
        max_h100e_per_year=spec.purchasing.max_h100e_per_year or math.inf, year_of=year_of,
        budget=budget, price_all_in_usd=_price_all_in_usd(s),
    )


def _build_procurement(env, s: Scenario, products: Products, labs: dict[str, Lab], allocator: Allocator,
                       plan: SupplyPlan, budgets: dict[str, Budget], projects: Projects,
                       makers: dict[str, EquipmentMaker], streams: RandomStreams,
                       horizon_day: float) -> list[PowerProcurement]:
    """A procurement policy for each lab with `procurement`, sharing the regions' grid headroom."""
    headroom = GridHeadroom({name: build_ramp(r.grid_headroom_mw, s.start_date) for name, r in s.regions.items()})
    price = _price_all_in_usd(s)
    return [PowerProcurement(env, s, lab, index, s.labs[name].procurement, allocator, plan, products.it_w, price,
                             s.gpu_service_life_days, budgets[name], projects, makers, headroom,
                             streams.procurement(index), horizon_day, products.peak_bf16)
            for index, (name, lab) in enumerate(labs.items()) if s.labs[name].procurement is not None]


def sample_days_of(s: Scenario) -> list[float]:
    """The start date, then every month start after it: when the probes sample and monthly uses are
    placed again."""
    return [0.0] + [day for d in month_starts(s.start_date, s.end_date) if (day := to_day(d, s.start_date)) > 0]


def _build_uses(env: simpy.Environment, s: Scenario, products: Products,
                labs: dict[str, Lab]) -> tuple[ComputeUses | None, PostTrainingPolicy | None]:
    """The labs' compute uses besides pre-training (monthly) and their post-training policy, from
    `compute_uses` (None, None without it)."""
    spec = s.compute_uses
    if spec is None:
        return None, None
    uses = ComputeUses(env, s, labs, products, sample_days_of(s))
    post = spec.posttraining
    policy = PostTrainingPolicy(post, s.start_date, products, uses.kernel_efficiency) \
        if post is not None and post.enabled else None
    return uses, policy


def _build_probes(env, s: Scenario, products: Products, supply: Supply, allocator: Allocator, labs: dict[str, Lab],
                  site_list: list[Site], disruptions: Disruptions, horizon_day: float,
                  walls: dict[str, dict[str, float]], makers: dict[str, EquipmentMaker],
                  planner: CampusPlanner | None = None, site_node: dict[str, str] | None = None,
                  uses: ComputeUses | None = None) -> tuple[Recorder, FrontierProbe]:
    """The recorder samples, in this order: products, supply, each lab, each site, the world totals,
    the disruptions, the power equipment makers, the labs' compute uses, then sites the policies start
    (in the order they start); and the frontier. Samples fall on the start date, then every month start after it (a
    mid-month start gets no sample before it)."""
    lab_list = list(labs.values())
    buys = {name: [s.labs[name].share_of(family) > 0 for family in products.family] for name in labs}
    frontier = FrontierProbe(env, s.frontier, products, lab_list, walls, buys, planner, site_node,
                             uses.data_tokens if uses is not None and uses.synthetic is not None else None,
                             uses.reserved if uses is not None else None)
    probes = [ProductProbe(env, products, allocator, lab_list, site_list), supply, *lab_list, *site_list,
              WorldProbe(env, products, allocator, lab_list, site_list, s.gpu_service_life_days, s.other_buyers_pue),
              disruptions, *makers.values(), *([uses] if uses is not None else [])]
    return Recorder(env, sample_days_of(s), horizon_day, probes, [frontier.sample]), frontier
