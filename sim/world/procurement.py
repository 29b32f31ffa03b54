"""The power procurement policy: labs start datacenter halls and power plants against the power their
planned purchases will need, choosing what to build and where.

Each month from `procurement.first_start`, a lab with a policy (`labs.NAME.procurement`) looks
`planning_horizon_days` ahead:

  need  the facility MW of what it will hold then: GPUs drawing power now, in inventory and in
        transit, plus its share of the supply plan's master schedule delivered by then (what the
        chip makers plan to make, sim/world/supply_plan.py), less what retires by then; capped by
        what its budget can pay for (price x (1 + server overhead));
  have  the power its sites will deliver then, as planned (halls and plant blocks, projects
        underway included; a plant waiting for equipment counts at the order book's date).

It fills the nearest shortfall first. At each day one of its options could come online, and at the
horizon, a gap of at least a quarter of a project starts ceil(gap / project_mw) projects (at most
`max_projects_per_year` a calendar year), each a hall of `project_mw` facility MW at one of its
`campuses` and the plant that feeds it, of one of its `plant_types`: the cheapest option online by
that day per firm MW-year (capital repaid at costs.discount_rate over costs.plant_life_years, lease,
energy; hall capex the same everywhere but for leased capacity). A gap left at the horizon that no
option closes in time takes the one online first. An option is in time by the longest of: the hall's
`construction_days`, the plant type's lead time, and the order book's date for its equipment plus
`install_days`. A grid interconnection also needs headroom in its region (`grid_headroom_mw`,
shared by all labs, first come). A project the budget cannot pay for waits for the next review.

Evidence behind the parameters is in docs/policies.md. Typed projects (known today) stay in the
scenario (`planned_by: scenario`); the policy's are `planned_by: policy`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from sim.config.plants import energy_terms
from sim.config.schedule import DAYS_PER_MONTH, DAYS_PER_YEAR, Ramp, to_date, to_day
from sim.config.schema import Procurement, Scenario
from sim.physics.costs import capital_recovery_factor, firm_mw_year_cost_usd
from sim.physics.units import WATTS_PER_MEGAWATT
from sim.world.allocator import Allocator
from sim.world.component import Component
from sim.world.equipment import EquipmentMaker
from sim.world.labs import Lab
from sim.world.money import Budget
from sim.world.power import PlantEconomics
from sim.world.projects import PlantOrder, Projects
from sim.world.sites import Site
from sim.world.supply_plan import SupplyPlan

MIN_GAP_SHARE = 0.25  # a gap smaller than this share of a project waits for the next review


@dataclass(frozen=True)
class Option:
    """A place and a way to get power for one project, as judged on the day of a review."""

    campus: str
    plant_type: str
    online_day: float
    usd_per_firm_mw_year: float


class GridHeadroom:
    """Each region's MW of new large-load interconnections by date, less what labs have taken."""

    def __init__(self, ramps: dict[str, Ramp]):
        self.ramps = ramps
        self.taken_mw = dict.fromkeys(ramps, 0.0)

    def left_mw(self, region: str, day: float) -> float:
        return float(self.ramps[region].at(day)) - self.taken_mw[region]

    def take(self, region: str, mw: float) -> None:
        self.taken_mw[region] += mw


class PowerProcurement(Component):
    """One lab's procurement policy (see the module docstring)."""

    kind = "procurement"

    def __init__(self, env: simpy.Environment, s: Scenario, lab: Lab, lab_index: int, spec: Procurement,
                 allocator: Allocator, plan: SupplyPlan, it_w: list[float], price_all_in_usd: list[float],
                 service_life_days: float, budget: Budget | None, projects: Projects,
                 makers: dict[str, EquipmentMaker], headroom: GridHeadroom, rng: np.random.Generator,
                 horizon_day: float, peak_flop_s: list[float] | None = None):
        super().__init__(env, f"procurement:{lab.name}")
        self.s, self.lab, self.lab_index, self.spec = s, lab, lab_index, spec
        self.allocator, self.plan, self.budget, self.projects = allocator, plan, budget, projects
        self.makers, self.headroom, self.rng = makers, headroom, rng
        self.it_w, self.peak_flop_s = it_w, peak_flop_s  # per product: all-in IT W; dense BF16 FLOP/s (the ledger)
        self.mw_per_gpu = [w * spec.pue / WATTS_PER_MEGAWATT for w in it_w]
        self.price_all_in_usd, self.service_life_days = price_all_in_usd, service_life_days
        self.crf = capital_recovery_factor(s.costs.discount_rate, s.costs.plant_life_years) if s.costs else 0.0
        # the master schedule summed over ticks (row k: ticks before k), for the output due in a window
        planned = plan.planned_gpus[:len(plan.tick_starts)]
        self._planned_cumulative = np.vstack([np.zeros((1, planned.shape[1])), np.cumsum(planned, axis=0)])
        self.started_in_year: dict[int, int] = {}
        self.campus_sites: dict[str, Site] = {}  # campus -> the site its projects' halls are added to
        self.count = 0
        self._leases: list[tuple[str, float]] = []  # (plant type, facility MW) signed: paid a month at a time
        first = max(to_day(spec.first_start, s.start_date), 0.0)
        reviews = [first + k * DAYS_PER_MONTH for k in range(int((horizon_day - first) / DAYS_PER_MONTH) + 1)]
        self.add_process(self._review_monthly, [d for d in reviews if d < horizon_day])

    # --- what the lab will need and have ---------------------------------------------------------

    def need_mw(self, now: float, ahead: float) -> float:
        """Facility MW the lab's fleet will draw `ahead` days from now (see the module docstring)."""
        lab, mw, lead = self.lab, self.mw_per_gpu, self.lab.purchasing.lead_days if self.lab.purchasing else 0.0
        held = [a + b for a, b in zip(lab.inventory, self.allocator.in_transit[self.lab_index])]
        installed_mw = sum(site.fleet.drawn_mw for site in lab.sites)
        until = now + ahead
        retiring_mw = 0.0
        for site in lab.sites:
            fleet = site.fleet
            for product, cohorts in enumerate(fleet.cohorts):
                for cohort in cohorts:
                    if cohort.day + self.service_life_days > until:
                        break
                    retiring_mw += cohort.count * fleet.mw_per_gpu[product]
        lo, hi = np.searchsorted(self.plan.tick_starts, [now - lead, until - lead])
        made = (self._planned_cumulative[hi] - self._planned_cumulative[lo]).tolist()
        coming = [self.allocator.share(self.lab_index, i) * made[i] for i in range(len(mw))]
        if self.budget is not None and self.budget.limited:
            cost = sum(n * p for n, p in zip(coming, self.price_all_in_usd))
            budget = self.budget
            affordable = max(budget.left_usd(now) + budget.accrued_usd(until) - budget.accrued_usd(now)
                             - (budget.paid_by(until) - budget.paid_by(now)), 0.0)
            if cost > affordable > 0 or (cost > 0 and affordable == 0):
                coming = [n * affordable / cost for n in coming]
        return (installed_mw - retiring_mw + sum(n * m for n, m in zip(held, mw))
                + sum(n * m for n, m in zip(coming, mw)))

    def have_mw(self, day: float) -> float:
        return sum(site.expected_mw(day) for site in self.lab.sites)

    # --- options -------------------------------------------------------------------------------------

    def options(self, now: float) -> list[Option]:
        """Every campus x plant type the lab may use now, with its online day and yearly cost."""
        s, spec, costs = self.s, self.spec, self.s.costs
        out = []
        for campus_name, campus in spec.campuses.items():
            for type_name in spec.plant_types:
                pt = s.plant_types[type_name]
                if pt.regions is not None and campus.region not in pt.regions:
                    continue
                nameplate = spec.project_mw / pt.firm_fraction
                if pt.uses_grid_headroom and self.headroom.left_mw(campus.region, now) < nameplate:
                    continue
                ready = max(spec.construction_days, pt.lead_time_days)
                for equipment, per_mw in pt.equipment.items():
                    fill = self.makers[equipment].expected_fill_day(nameplate * per_mw, now)
                    ready = max(ready, fill - now + pt.install_days)
                price, _ = energy_terms(s, type_name, campus.region)
                leased = pt.lease_usd_per_mw_year > 0
                hall = 0.0 if leased or costs is None else costs.datacenter_capex_usd_per_mw * self.crf
                yearly = firm_mw_year_cost_usd(pt.capex_usd_per_mw, pt.lease_usd_per_mw_year, price, pt.firm_fraction,
                                               self.crf) + hall
                out.append(Option(campus_name, type_name, now + ready, yearly))
        return out

    @staticmethod
    def choose(options: list[Option], by_day: float, fallback: bool) -> Option | None:
        """The cheapest option online by `by_day`; if none and `fallback`, the earliest (ties: the
        listed order)."""
        in_time = [o for o in options if o.online_day <= by_day]
        if in_time:
            return min(in_time, key=lambda o: o.usd_per_firm_mw_year)
        return min(options, key=lambda o: o.online_day) if fallback and options else None

    # --- the review --------------------------------------------------------------------------------------

    def _review_monthly(self, days: list[float]):
        env = self.env
        for day in days:
            if day > env.now:
                yield env.timeout(day - env.now)
            self.review(env.now)

    def review(self, now: float) -> None:
        """Fill the nearest shortfall first: at each day an option could come online (and at the
        horizon), the gap between need and have then is filled with the cheapest option online by
        that day; a gap left at the horizon takes the option online first."""
        self._pay_leases()
        spec = self.spec
        until = now + spec.planning_horizon_days
        year = to_date(now, self.s.start_date).year
        if self.started_in_year.get(year, 0) >= spec.max_projects_per_year:
            return
        # the options as of now (a grid project taking headroom changes them; equipment orders are
        # placed by the plants' own processes, after this review)
        options = self.options(now)
        checkpoints = sorted({o.online_day for o in options if o.online_day < until} | {until})
        for day in checkpoints:
            gap = self.need_mw(now, day - now) - self.have_mw(day)
            if gap < MIN_GAP_SHARE * spec.project_mw:
                continue
            for _ in range(math.ceil(gap / spec.project_mw)):
                if self.started_in_year.get(year, 0) >= spec.max_projects_per_year:
                    return
                option = self.choose(options, day, fallback=day == until)
                if option is None:
                    break
                if not self._start(option, now):
                    return
                self.started_in_year[year] = self.started_in_year.get(year, 0) + 1
                if self.s.plant_types[option.plant_type].uses_grid_headroom:
                    options = self.options(now)

    def _pay_leases(self) -> None:
        if self.budget is not None and self._leases:
            fee = sum(self.s.plant_types[t].lease_usd_per_mw_year * mw for t, mw in self._leases) * DAYS_PER_MONTH / DAYS_PER_YEAR
            self.budget.spend(fee, "leases")

    def _start(self, option: Option, now: float) -> bool:
        """Start one project (a hall and its plant) if the budget pays for it."""
        s, spec, lab = self.s, self.spec, self.lab
        campus, pt = spec.campuses[option.campus], s.plant_types[option.plant_type]
        leased = pt.lease_usd_per_mw_year > 0
        nameplate = spec.project_mw / pt.firm_fraction
        capex = self.projects.site_capex_usd(spec.project_mw, leased) + nameplate * pt.capex_usd_per_mw
        if self.budget is not None and self.budget.limited and self.budget.left_usd(now) < capex:
            return False
        self.count += 1
        name = f"{lab.name}-{option.campus}-{self.count}"
        first_hall = now + spec.construction_days
        site = self.campus_sites.get(option.campus)
        if site is None:  # the campus's first project: a new site, the campus's halls from now on
            site = Site(self.env, f"{lab.name}-{option.campus}", lab.name, spec.project_mw, spec.pue, self.it_w,
                        built_day=first_hall, phases=pt.phases, phase_interval_days=pt.phase_interval_days,
                        planned_by="policy", peak_flop_s=self.peak_flop_s)
            self.campus_sites[option.campus] = site
            self.projects.add_site(site, campus.region, now, "policy", leased,
                                   node=campus.topology_site or site.name, name=name)
        else:
            self.projects.add_halls(site, name, now, first_hall, spec.project_mw, pt.phases, pt.phase_interval_days,
                                    "policy", leased)
        if pt.uses_grid_headroom:
            self.headroom.take(campus.region, nameplate)
        price, carbon = energy_terms(s, option.plant_type, campus.region)
        completes = pt.completion_probability >= 1.0 or bool(self.rng.random() < pt.completion_probability)
        order = PlantOrder(
            name=f"{name}-{option.plant_type}", type=option.plant_type, nameplate_mw=nameplate,
            firm_mw=spec.project_mw, online_day=now + pt.lead_time_days, start_day=now, phases=pt.phases,
            phase_interval_days=pt.phase_interval_days,
            economics=PlantEconomics(price, carbon, option.plant_type, campus.region),
            equipment=[(self.makers[e], nameplate * per_mw) for e, per_mw in pt.equipment.items()],
            install_days=pt.install_days, capex_usd=nameplate * pt.capex_usd_per_mw, completes=completes)
        self.projects.add_plant(order, site, campus.region, "policy")
        if leased:
            self._leases.append((option.plant_type, spec.project_mw))
        return True
