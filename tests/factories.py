"""Random SMALL scenarios for the property tests (hypothesis strategies).

`scenario_dicts()` draws a plain scenario dict shaped like a YAML file after loading: 1-3 GPU types,
1-2 labs, 1-3 sites, 0-3 power plants, 0-3 training runs, a 1-3 year horizon on a 7-day tick,
capacities that may be zero, dates on either side of the start date. The draws are built to pass
`sim.config.schema.Scenario.model_validate` and `sim.config.references.check_references` (initial GPUs are only put on
sites that are built and powered on the start date, and sized to fit); the tests still `assume` both.
"""
from __future__ import annotations

import datetime as dt
import math

from hypothesis import strategies as st

BASE_DATE = dt.date(2024, 1, 1)


# Draws go through st.sampled_from over short lists rather than st.integers / st.floats, which favour
# their bounds and small values so strongly that most random worlds would make, power and install
# nothing, and every run would start in the first months. A value is a coarse tenth (even odds) plus a
# fine step inside it; sampled_from still shrinks towards the first element (the low end).


def _fraction(draw) -> float:
    """A number in [0, 1] on a grid of 1,000 steps, spread evenly over its tenths."""
    coarse, fine = draw(st.sampled_from(range(10))), draw(st.sampled_from(range(100)))
    return (coarse * 100 + fine) / 999


def _int(draw, lo: int, hi: int) -> int:
    if hi - lo < 20:
        return draw(st.sampled_from(range(lo, hi + 1)))
    return lo + round((hi - lo) * _fraction(draw))


_days = _int


def _chance(draw, one_in: int) -> bool:
    """True about one time in `one_in`."""
    return draw(st.sampled_from(range(one_in))) == one_in - 1


def _uniform(draw, lo: float, hi: float) -> float:
    return lo + (hi - lo) * _fraction(draw)


def _maybe_zero(draw, hi: float) -> float:
    """A capacity: exactly zero about one time in eight, else in (0, hi]."""
    return 0.0 if _chance(draw, 8) else hi * max(_fraction(draw), 0.001)


def _ramp(draw, start: dt.date, hi: float):
    """A plain number or a ramp with 1-3 dated points (dates increasing) and a growth factor."""
    if draw(st.booleans()):
        return _maybe_zero(draw, hi)
    n = _int(draw, 1, 3)
    offsets = sorted(set(draw(st.lists(st.sampled_from(range(-400, 800 + 1)), min_size=n, max_size=n))))
    return {
        "points": {start + dt.timedelta(days=o): _maybe_zero(draw, hi) for o in offsets},
        "growth_per_year_after": _uniform(draw, 0.5, 3.0),
    }


def _online_day(plant: dict, plant_types: dict, start: dt.date) -> float:
    lead = plant.get("lead_time_days", plant_types[plant["type"]]["lead_time_days"])
    return (plant["construction_start"] - start).days + lead


def _firm_mw(plant: dict, plant_types: dict) -> float:
    return plant["capacity_mw"] * plant.get("firm_fraction", plant_types[plant["type"]]["firm_fraction"])


@st.composite
def scenario_dicts(draw) -> dict:
    start = BASE_DATE + dt.timedelta(days=_days(draw, 0, 400))
    end = start + dt.timedelta(days=_days(draw, 365, 3 * 365))
    tick = 7.0

    # --- GPU types ---
    n_gpus = _int(draw, 1, 3)
    names = [f"G{i}" for i in range(n_gpus)]
    gpu_types = {}
    for name in names:
        bf16 = _uniform(draw, 1e14, 1e16)
        # G0 is mostly on sale before any fab's pipeline starts (cycle times <= 150 days), so that most
        # worlds make something; the others come out before or after the start date
        earliest, latest = (-800, -160) if name == "G0" and not _chance(draw, 4) else (-800, 400)
        gpu = {
            "available_from": start + dt.timedelta(days=_days(draw, earliest, latest)),
            "bf16_dense_flop_s": bf16,
            "all_in_it_w": _uniform(draw, 300.0, 3000.0),
            "hbm_stacks": _int(draw, 0, 12),
            "packages_per_cowos_wafer": _uniform(draw, 4.0, 40.0),
            "die_area_mm2": _uniform(draw, 100.0, 850.0),
            "dies_per_gpu": _int(draw, 1, 4),
        }
        if draw(st.booleans()):
            gpu["fp8_dense_flop_s"] = 2 * bf16
        gpu_types[name] = gpu

    # --- product mix: 1-3 points, dates increasing, at least one positive share each ---
    n_mix = _int(draw, 1, 3)
    mix_offsets = sorted(set(draw(st.lists(st.sampled_from(range(-300, 700 + 1)), min_size=n_mix, max_size=n_mix))))
    mix = []
    for offset in mix_offsets:
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=n_gpus, unique=True))
        if "G0" not in chosen and not _chance(draw, 4):  # mostly keep G0 in the mix
            chosen.append("G0")
        shares = {n: _uniform(draw, 0.0, 1.0) for n in chosen}
        shares[chosen[0]] = max(shares[chosen[0]], 0.1)
        mix.append({"date": start + dt.timedelta(days=offset), "shares": shares})

    # --- supply ---
    logic_fabs = {"fab": {
        "wafer_capacity_wpm": _ramp(draw, start, 3000.0),
        "allocation_share": _uniform(draw, 0.05, 1.0),
        "defect_density_per_cm2": _uniform(draw, 0.0, 0.3),
        "cycle_time_days": float(_days(draw, 0, 150)),
    }}
    packaging_lines = {"cowos": {
        "wafer_capacity_wpm": _ramp(draw, start, 2000.0),
        "allocation_share": _uniform(draw, 0.05, 1.0),
        "packaging_yield": _uniform(draw, 0.5, 1.0),
        "cycle_time_days": float(_days(draw, 0, 60)),
    }}
    hbm_suppliers = {f"hbm{i}": {
        "tsv_wafer_capacity_wpm": _ramp(draw, start, 5_000.0),
        "dram_dies_per_tsv_wafer": _uniform(draw, 50.0, 400.0),
        "cycle_time_days": float(_days(draw, 0, 90)),
        "allocation_share": _uniform(draw, 0.05, 1.0),
    } for i in range(_int(draw, 1, 2))}

    # --- labs: shares add up to at most 1 ---
    n_labs = _int(draw, 1, 2)
    lab_names = [f"L{i}" for i in range(n_labs)]
    labs = {name: {
        "share_of_output": 0.0 if _chance(draw, 8) else _uniform(draw, 0.05, 1.0 / n_labs),
        "delivery_lead_time_days": float(_days(draw, 0, 90)),
    } for name in lab_names}

    # --- power ---
    plant_types = {
        "grid": {"lead_time_days": float(_days(draw, 0, 900)), "firm_fraction": _uniform(draw, 0.5, 1.0)},
        "gas": {"lead_time_days": float(_days(draw, 0, 500)), "firm_fraction": _uniform(draw, 0.5, 1.0)},
    }
    n_sites = _int(draw, 1, 3)
    site_names = [f"S{i}" for i in range(n_sites)]
    plants = []
    n_plants = 0 if _chance(draw, 8) else min(3, n_sites + _int(draw, 0, 2))  # mostly one per site or more
    for _ in range(n_plants):
        plant = {
            "name": f"P{len(plants)}",
            # mostly one plant per site in order, so that most sites get some power
            "site": draw(st.sampled_from(site_names)) if _chance(draw, 4) else site_names[len(plants) % n_sites],
            "type": draw(st.sampled_from(sorted(plant_types))),
            "capacity_mw": _maybe_zero(draw, 400.0),
            "construction_start": start + dt.timedelta(days=_days(draw, -1500, 500)),
        }
        if draw(st.booleans()):
            plant["lead_time_days"] = float(_days(draw, 0, 800))
        if draw(st.booleans()):
            plant["firm_fraction"] = _uniform(draw, 0.1, 1.0)
        plants.append(plant)

    # --- sites: initial GPUs only where built and powered on the start date, sized to fit ---
    sites = {}
    for k, name in enumerate(site_names):
        site = {
            # mostly labs in turn, so that most labs have a site
            "lab": draw(st.sampled_from(lab_names)) if _chance(draw, 4) else lab_names[k % n_labs],
            "lat": _uniform(draw, -90.0, 90.0),
            "lon": _uniform(draw, -180.0, 180.0),
            "construction_start": start + dt.timedelta(days=_days(draw, -600, 500)),
            "construction_days": float(_days(draw, 0, 400)),
            "facility_mw": _maybe_zero(draw, 300.0),
            "pue": _uniform(draw, 1.0, 1.6),
        }
        built_day = (site["construction_start"] - start).days + site["construction_days"]
        firm = sum(_firm_mw(p, plant_types) for p in plants
                   if p["site"] == name and _online_day(p, plant_types, start) <= 0)
        available = min(site["facility_mw"], firm)
        if built_day <= 0 and available > 0 and not _chance(draw, 3):
            gpu = draw(st.sampled_from(names))
            fits = available * 1e6 / (gpu_types[gpu]["all_in_it_w"] * site["pue"])
            count = int(math.floor(0.999 * fits * _uniform(draw, 0.0, 1.0)))
            site["initial_gpus"] = {gpu: count}
        sites[name] = site

    # --- runs: on sites of their own lab ---
    runs = []
    for i in range(_int(draw, 0, 3)):
        lab = draw(st.sampled_from(lab_names))
        own = [n for n in site_names if sites[n]["lab"] == lab]
        if not own:
            continue
        run = {
            "name": f"R{i}",
            "lab": lab,
            "sites": draw(st.lists(st.sampled_from(own), min_size=1, max_size=len(own), unique=True)),
            "duration_days": _uniform(draw, 1.0, 300.0),
            "utilization": _uniform(draw, 0.05, 1.0),
            "gpu_share": _uniform(draw, 0.05, 1.0),
            "precision": draw(st.sampled_from(["bf16", "fp8"])),
        }
        if draw(st.booleans()):
            run["start"] = start + dt.timedelta(days=_days(draw, 0, (end - start).days + 60))
        else:
            run["start_when_h100e_installed"] = _uniform(draw, 1.0, 2e4)
        if draw(st.booleans()):
            run["gpu_type"] = draw(st.sampled_from(names))
        runs.append(run)

    doc = {
        "name": "random",
        "start_date": start,
        "end_date": end,
        "tick_days": tick,
        "h100e_reference": names[0],
        # short lives half the time, so cohorts retire during runs (and wait for them to end)
        "gpu_service_life_days": float(_days(draw, 30, 200) if _chance(draw, 2) else _days(draw, 30, 1500)),
        "gpu_types": gpu_types,
        "mix": mix,
        "logic_fabs": logic_fabs,
        "packaging_lines": packaging_lines,
        "hbm_suppliers": hbm_suppliers,
        "labs": labs,
        "plant_types": plant_types,
        "power_plants": plants,
        "sites": sites,
        "runs": runs,
        "frontier": {
            "duration_days": _uniform(draw, 10.0, 300.0),
            "utilization": _uniform(draw, 0.05, 1.0),
            "gpu_share": _uniform(draw, 0.05, 1.0),
            "precision": draw(st.sampled_from(["bf16", "fp8"])),
        },
    }
    if _chance(draw, 2):
        doc["gpu_refresh_min_flop_per_w_gain"] = _uniform(draw, 1.0, 3.0)
    return doc
