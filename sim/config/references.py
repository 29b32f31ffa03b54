"""Cross-reference checks of a validated scenario: names that must exist, dates in order, shares that
add up, capacities that stay finite, and GPUs on the start date that fit the power online then.

Each check returns the first problem as (key path, problem), or None; the loader reports it as one
line naming the file the key came from (sim/config/loading.py).
"""
from __future__ import annotations

import math

from sim.config.disruption_checks import check_disruptions
from sim.config.errors import known_names, show, show_number
from sim.config.limits import MAX_HORIZON_DAYS, MAX_HORIZON_YEARS, MAX_QUANTITY
from sim.config.plants import facility_mw_built, firm_mw_online
from sim.config.schedule import DAYS_PER_YEAR, to_day
from sim.config.schema import FAMILIES, RampSpec, Scenario
from sim.physics.hardware import good_dies_per_wafer
from sim.physics.units import WATTS_PER_MEGAWATT


def check_references(s: Scenario) -> tuple[tuple, str] | None:
    """The first broken cross-reference or ordering as (key path, problem), or None."""
    if s.end_date <= s.start_date:
        return ("end_date",), f"must be after start_date ({s.start_date})"
    if (s.end_date - s.start_date).days > MAX_HORIZON_DAYS:
        return ("end_date",), (f"must be at most {MAX_HORIZON_YEARS} years after start_date ({s.start_date}); "
                               f"got {(s.end_date - s.start_date).days / DAYS_PER_YEAR:.1f} years")
    if s.h100e_reference not in s.gpu_types:
        return ("h100e_reference",), f"unknown GPU type {show(s.h100e_reference)}"
    last = None
    for i, point in enumerate(s.mix):
        if last is not None and point.date <= last:
            return ("mix", i, "date"), "mix dates must be in increasing order"
        last = point.date
        for gpu in point.shares:
            if gpu not in s.gpu_types:
                return ("mix", i, "shares", gpu), f"unknown GPU type {show(gpu)}"
    problem = _check_growth(s)
    if problem is not None:
        return problem
    for fab_name, fab in s.logic_fabs.items():
        for gpu_name, gpu in s.gpu_types.items():
            if good_dies_per_wafer(gpu.die_area_mm2, fab.defect_density_per_cm2, fab.wafer_diameter_mm) < 1:
                return (("gpu_types", gpu_name, "die_area_mm2"),
                        f"logic fab {show(fab_name)} yields less than one good die per wafer of this size")
    for family in FAMILIES:
        if sum(lab.share_of(family) for lab in s.labs.values()) > 1 + 1e-9:
            return ("labs",), f"shares of the {family} family's output add up to more than 1"
    for name, site in s.sites.items():
        if site.lab not in s.labs:
            return ("sites", name, "lab"), f"unknown lab {show(site.lab)}"
        for gpu in site.initial_gpus:
            if gpu not in s.gpu_types:
                return ("sites", name, "initial_gpus", gpu), f"unknown GPU type {show(gpu)}"
            if s.gpu_types[gpu].available_from > s.start_date:
                return (("sites", name, "initial_gpus", gpu),
                        f"is not on sale by start_date ({s.start_date}): available_from {s.gpu_types[gpu].available_from}")
    problem = _check_power_and_money(s)
    if problem is not None:
        return problem
    for i, plant in enumerate(s.power_plants):
        if plant.site not in s.sites:
            return ("power_plants", i, "site"), f"unknown site {show(plant.site)}"
        if plant.type not in s.plant_types:
            return ("power_plants", i, "type"), f"unknown plant type {show(plant.type)}"
    uses = s.compute_uses
    if uses is not None and uses.inference is not None:
        for lab in uses.inference.labs:
            if lab not in s.labs:
                return ("compute_uses", "inference", "labs", lab), f"unknown lab {show(lab)} {known_names(s.labs)}"
    if s.run_policy is not None:
        for i, lab in enumerate(s.run_policy.labs or []):
            if lab not in s.labs:
                return ("run_policy", "labs", i), f"unknown lab {show(lab)}"
    names = set()
    for i, run in enumerate(s.runs):
        if run.name in names:
            return ("runs", i, "name"), f"duplicate run name {show(run.name)}"
        names.add(run.name)
        if run.lab not in s.labs:
            return ("runs", i, "lab"), f"unknown lab {show(run.lab)}"
        for j, site in enumerate(run.sites):
            if site not in s.sites:
                return ("runs", i, "sites", j), f"unknown site {show(site)}"
            if s.sites[site].lab != run.lab:
                return ("runs", i, "sites", j), f"site {show(site)} belongs to lab {show(s.sites[site].lab)}"
        if run.gpu_type is not None and run.gpu_type not in s.gpu_types:
            return ("runs", i, "gpu_type"), f"unknown GPU type {show(run.gpu_type)}"
        if run.start is not None and run.start < s.start_date:
            return ("runs", i, "start"), f"is before start_date ({s.start_date})"
    return check_disruptions(s, targets=False) or _check_initial_power(s)


def _check_power_and_money(s: Scenario) -> tuple[tuple, str] | None:
    """Regions, power equipment and plant types named where they are used; procurement that can run."""
    for name, site in s.sites.items():
        if site.region is not None and site.region not in s.regions:
            return ("sites", name, "region"), f"unknown region {show(site.region)} {known_names(s.regions)}"
    for type_name, pt in s.plant_types.items():
        for i, region in enumerate(pt.regions or []):
            if region not in s.regions:
                return ("plant_types", type_name, "regions", i), f"unknown region {show(region)} {known_names(s.regions)}"
        for equipment in pt.equipment:
            if equipment not in s.power_equipment:
                return (("plant_types", type_name, "equipment", equipment),
                        f"unknown power equipment {show(equipment)} {known_names(s.power_equipment)}")
    for lab_name, lab in s.labs.items():
        spec = lab.procurement
        if spec is None:
            continue
        at = ("labs", lab_name, "procurement")
        for campus_name, campus in spec.campuses.items():
            if campus.region not in s.regions:
                return at + ("campuses", campus_name, "region"), f"unknown region {show(campus.region)} {known_names(s.regions)}"
        for i, type_name in enumerate(spec.plant_types):
            if type_name not in s.plant_types:
                return at + ("plant_types", i), f"unknown plant type {show(type_name)} {known_names(s.plant_types)}"
        if s.costs is None:
            return at, "needs `costs` (the policy compares power options by cost)"
    return None


def _check_growth(s: Scenario) -> tuple[tuple, str] | None:
    """A ramp growing past its last point must stay at most MAX_QUANTITY a month through end_date
    (10x a year from a point in 1900 would overflow a float to infinity by 2200)."""
    sections = (("logic_fabs", "wafer_capacity_wpm"), ("packaging_lines", "wafer_capacity_wpm"),
                ("hbm_suppliers", "tsv_wafer_capacity_wpm"))
    for section, key in sections:
        for name, item in getattr(s, section).items():
            ramp = getattr(item, key)
            if not isinstance(ramp, RampSpec) or ramp.growth_per_year_after <= 1.0:
                continue
            last = max(ramp.points)
            years = (s.end_date - last).days / DAYS_PER_YEAR
            value = ramp.points[last]
            if years > 0 and value > 0 and (math.log10(value) + years * math.log10(ramp.growth_per_year_after)
                                            > math.log10(MAX_QUANTITY)):
                return ((section, name, key, "growth_per_year_after"),
                        f"grows the capacity past {show_number(MAX_QUANTITY)} a month by end_date ({s.end_date})")
    return None


def _check_initial_power(s: Scenario) -> tuple[tuple, str] | None:
    """GPUs installed on the start date need a built, powered site."""
    for name, site in s.sites.items():
        if not site.initial_gpus:
            continue
        built_day = to_day(site.construction_start, s.start_date) + site.construction_days
        if built_day > 0:
            return ("sites", name, "initial_gpus"), "site is not built by start_date"
        draw_mw = sum(
            n * s.gpu_types[g].all_in_it_w * site.pue for g, n in site.initial_gpus.items()
        ) / WATTS_PER_MEGAWATT
        available_mw = min(facility_mw_built(s, name, 0.0), firm_mw_online(s, name, 0.0))
        if draw_mw > available_mw + 1e-9:
            return (
                ("sites", name, "initial_gpus"),
                f"needs {_mw(draw_mw)} MW but only {_mw(available_mw)} MW is built and powered on start_date",
            )
    return None


def _mw(x: float) -> str:
    """Megawatts for a message: 840.0, or 1.68e9 past ten million (no 20-digit numbers)."""
    return f"{x:.1f}" if abs(x) < 1e7 else f"{x:.3g}".replace("e+0", "e").replace("e+", "e")
