"""Benchmark: the project's performance budget for one simulation run.

    python benchmarks/bench_run.py [--repeat N]

Everything is measured in this one process with time.perf_counter, after one warm-up run of each
world; each figure is the median of N repeats (default 7), and the worlds are run interleaved
(1x, 100x, 10x, 1x, ...) so that drift in the machine's speed hits them alike. It prints:

1. the shipped baseline's load time (once), and one run's breakdown in-process: build
   (`build_world`), events (`env.run` to the horizon), tables (`build_result`) and end-to-end wall;
2. the baseline's event loop against a bare SimPy loop of the same event count (one process
   yielding `env.timeout(1)` that many times): both times and the ratio model/bare;
3. the baseline with every capacity, power figure, initial GPU count and run threshold x100 against
   1x: the time ratio 100x/1x and both event counts;
4. a world with 10x the labs, sites, plants and runs (each lab's share of output / 10, so total
   demand is unchanged) against 1x: the time ratio 10x/1x and both event counts;
5. the budget, each target MET or NOT MET:
   - baseline end to end in-process (build + events + tables) within 100 ms;
   - 100x GPU counts within 10% of 1x (time ratio <= 1.10): counts are numbers, not objects;
   - 10x labs/sites/runs within 12x the time (time ratio <= 12): cost grows ~linearly with the world.

Ratios are what matter (they carry across machines); the tests never assert wall-clock times.
"""
from __future__ import annotations

import argparse
import gc
import re
import statistics
import sys
import time
import typing
from typing import Any, Callable

import simpy
from pydantic import BaseModel

from sim.config.loading import load_scenario
from sim.physics.sizing import step_on_cache_clear
from sim.config.references import check_references
from sim.config.schema import Scenario
from sim.outputs.tables import build_result
from sim.world.assembly import build_world

BUDGET_BASELINE_MS = 100.0  # baseline end to end, in-process
BUDGET_GPU_100X = 1.10  # time ratio 100x GPU counts / 1x
BUDGET_WORLD_10X = 12.0  # time ratio 10x labs, sites and runs / 1x
COPIES = 10
GPU_FACTOR = 100.0


# --- measuring ------------------------------------------------------------------------------------

def timed_run(scenario: Scenario) -> dict[str, float]:
    """Wall seconds of each stage of one run, the events the model processed, its largest run.

    The previous run's garbage is collected first: a SimPy world is cyclic (processes, events and
    the environment refer to one another), so otherwise a full collection triggered inside this run
    would charge it for walking the last (maybe 10x larger) world. The plan-search cache is cleared
    too, so each run pays for its own plans (a sweep's replications reuse them; bench_sweep.py).
    """
    step_on_cache_clear()
    gc.collect()
    t0 = time.perf_counter()
    world = build_world(scenario, seed=0)
    t1 = time.perf_counter()
    world.env.run(until=world.horizon_day)
    t2 = time.perf_counter()
    result = build_result(world)
    t3 = time.perf_counter()
    runs = result.runs
    return {
        "build_s": t1 - t0, "events_s": t2 - t1, "tables_s": t3 - t2, "wall_s": t3 - t0,
        "events": world.env.events_processed,
        "largest_flop": float(runs["flop"].max()) if len(runs) else 0.0,
    }


def measure_worlds(worlds: dict[str, Scenario], repeat: int) -> dict[str, dict[str, float]]:
    """Median of each stage per world: one warm-up run each, then `repeat` rounds run interleaved."""
    for scenario in worlds.values():
        timed_run(scenario)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in worlds}
    for _ in range(repeat):
        for name, scenario in worlds.items():
            samples[name].append(timed_run(scenario))
    return {name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            for name, runs in samples.items()}


def bare_loop_s(n_events: int) -> float:
    """Wall seconds of a bare SimPy loop: one process yielding `env.timeout(1)` n_events times."""
    env = simpy.Environment()

    def loop(env: simpy.Environment):
        for _ in range(n_events):
            yield env.timeout(1)

    env.process(loop(env))
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


def median_of(fn: Callable[[], float], repeat: int) -> float:
    """Median of `repeat` calls of fn after one warm-up call."""
    fn()
    return statistics.median(fn() for _ in range(repeat))


# --- the scaled worlds ----------------------------------------------------------------------------

# Every field of the schema that is an amount of capacity, power or GPUs, as (model, field): scaled()
# multiplies all of these. SCALE_LIKE names any schema field that looks like one; a field matching it
# that is neither here nor in NOT_SCALED is reported, so a new schema field cannot be missed silently.
SCALED = {
    ("LogicFab", "wafer_capacity_wpm"), ("PackagingLine", "wafer_capacity_wpm"),
    ("HbmSupplier", "tsv_wafer_capacity_wpm"), ("PowerPlant", "capacity_mw"), ("Site", "facility_mw"),
    ("Site", "initial_gpus"), ("TrainingRun", "start_when_h100e_installed"),
    ("PowerEquipment", "capacity_mw_per_year"), ("PowerEquipment", "backlog_mw"),
    ("PowerEquipment", "other_orders_mw_per_year"), ("Region", "grid_headroom_mw"), ("Procurement", "project_mw"),
    ("LabBudget", "usd_per_year"), ("LabBudget", "initial_usd"), ("LabInference", "output_tokens_per_day"),
}
NOT_SCALED = {  # per-GPU, per-wafer or per-token figures, and fractions: the same at any fleet size
    ("GpuType", "hbm_stacks"), ("GpuType", "packages_per_cowos_wafer"), ("GpuType", "dies_per_gpu"),
    ("TrainingRun", "gpu_share"), ("Frontier", "gpu_share"), ("TrainingPhysics", "sequence_tokens"),
    ("TrainingPhysics", "batch_tokens"), ("DataStock", "stock_tokens"), ("TrainingRun", "model_params"),
    ("Disruption", "capacity_factor"), ("PlantType", "capex_usd_per_mw"), ("Costs", "datacenter_capex_usd_per_mw"),
    ("ServingModel", "active_params"), ("ServingModel", "total_params"), ("Inference", "context_tokens"),
    ("Inference", "input_tokens_per_output_token"), ("PostTraining", "context_tokens"),
    ("SyntheticData", "context_tokens"),
}
SCALE_LIKE = re.compile(r"(_mw$|_wpm$|capacity|gpus|_per_month$|installed|stacks|packages|tokens|params)")


def unchecked_scale_fields(model: type[BaseModel] = Scenario) -> list[str]:
    """Schema fields that look like capacities or counts but are in neither SCALED nor NOT_SCALED."""
    found, seen = [], set()

    def walk(m: type[BaseModel]) -> None:
        if m in seen:
            return
        seen.add(m)
        for name, info in m.model_fields.items():
            leaves = _leaf_types(info.annotation)
            holds_numbers = int in leaves or float in leaves
            key = (m.__name__, name)
            if holds_numbers and SCALE_LIKE.search(name) and key not in SCALED and key not in NOT_SCALED:
                found.append(f"{m.__name__}.{name}")
            for sub in leaves:
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    walk(sub)

    walk(model)
    return found


def _leaf_types(annotation: Any) -> set:
    """The plain types inside a type annotation: dict[str, Site] -> {str, Site}, X | None -> {X, None}."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        args = args[:1]
    if not args:
        return {annotation}
    return {leaf for arg in args for leaf in _leaf_types(arg)}


def scaled(scenario: Scenario, factor: float) -> Scenario:
    """The same world with every capacity, power figure and GPU count multiplied by `factor`
    (the fields in SCALED: fab, packaging and HBM capacity ramps, plants' and sites' MW, sites'
    initial GPUs, and runs' `start_when_h100e_installed` thresholds)."""
    data = scenario.model_dump()

    def scale_ramp(spec):
        if isinstance(spec, dict):
            spec = dict(spec)
            spec["points"] = {d: v * factor for d, v in spec["points"].items()}
            return spec
        return spec * factor

    for group, key in (("logic_fabs", "wafer_capacity_wpm"), ("packaging_lines", "wafer_capacity_wpm"),
                       ("hbm_suppliers", "tsv_wafer_capacity_wpm")):
        for item in data[group].values():
            item[key] = scale_ramp(item[key])
    for equipment in data["power_equipment"].values():
        for key in ("capacity_mw_per_year", "backlog_mw", "other_orders_mw_per_year"):
            equipment[key] = scale_ramp(equipment[key])
    for region in data["regions"].values():
        region["grid_headroom_mw"] = scale_ramp(region["grid_headroom_mw"])
    for lab in data["labs"].values():
        if lab.get("procurement"):
            lab["procurement"]["project_mw"] *= factor
        if lab.get("budget"):
            lab["budget"]["usd_per_year"] = scale_ramp(lab["budget"]["usd_per_year"])
            lab["budget"]["initial_usd"] *= factor
    for plant in data["power_plants"]:
        plant["capacity_mw"] *= factor
    for site in data["sites"].values():
        site["facility_mw"] *= factor
        site["initial_gpus"] = {g: int(n * factor) for g, n in site["initial_gpus"].items()}
    for run in data["runs"]:
        if run.get("start_when_h100e_installed") is not None:
            run["start_when_h100e_installed"] *= factor
    inference = (data.get("compute_uses") or {}).get("inference") or {}
    for lab in (inference.get("labs") or {}).values():  # demand grows with the fleet: the same shares
        lab["output_tokens_per_day"] = scale_ramp(lab["output_tokens_per_day"])
    return Scenario.model_validate(data, strict=False)


def replicated(scenario: Scenario, copies: int) -> Scenario:
    """A world with `copies` copies of every lab (`openai~0` .. `openai~9`), each with its own copies
    of its sites, plants and runs (names suffixed `~k`) and 1/copies of the lab's share of output, so
    total demand is unchanged. Copied sites keep their topology node (`topology_site`), so the
    topology still resolves; initial GPUs are per site, so the installed fleet is `copies` times.
    Disruptions aimed at a lab or site are copied onto each copy; others are kept as they are."""
    data = scenario.model_dump()

    def suffix(name: str, k: int) -> str:
        return f"{name}~{k}"

    labs, sites, plants, runs, disruptions = {}, {}, [], [], []
    for k in range(copies):
        for name, lab in data["labs"].items():
            share = lab["share_of_output"]
            share = ({f: v / copies for f, v in share.items()} if isinstance(share, dict) else share / copies)
            budget = lab.get("budget")
            if budget:  # each copy has its share of the money too
                ramp = budget["usd_per_year"]
                ramp = ({**ramp, "points": {d: v / copies for d, v in ramp["points"].items()}}
                        if isinstance(ramp, dict) else ramp / copies)
                budget = {**budget, "usd_per_year": ramp, "initial_usd": budget["initial_usd"] / copies}
            labs[suffix(name, k)] = {**lab, "share_of_output": share, "budget": budget}
        for name, site in data["sites"].items():
            sites[suffix(name, k)] = {**site, "lab": suffix(site["lab"], k),
                                      "topology_site": site["topology_site"] or name}
        for plant in data["power_plants"]:
            plants.append({**plant, "name": suffix(plant["name"], k), "site": suffix(plant["site"], k)})
        for run in data["runs"]:
            runs.append({**run, "name": suffix(run["name"], k), "lab": suffix(run["lab"], k),
                         "sites": [suffix(site, k) for site in run["sites"]]})
    for d in data["disruptions"]:
        if d["target"] in data["labs"] or d["target"] in data["sites"]:
            disruptions += [{**d, "name": suffix(d["name"], k), "target": suffix(d["target"], k)}
                            for k in range(copies)]
        else:
            disruptions.append(d)
    data.update(labs=labs, sites=sites, power_plants=plants, runs=runs, disruptions=disruptions)
    inference = (data.get("compute_uses") or {}).get("inference") or {}
    if inference.get("labs"):  # each copy serves its share of the lab's demand
        def part(ramp):
            return ({**ramp, "points": {d: v / copies for d, v in ramp["points"].items()}}
                    if isinstance(ramp, dict) else ramp / copies)
        inference["labs"] = {suffix(name, k): {**lab, "output_tokens_per_day": part(lab["output_tokens_per_day"])}
                             for k in range(copies) for name, lab in inference["labs"].items()}
    out = Scenario.model_validate(data)
    problem = check_references(out)
    if problem is not None:
        raise ValueError(f"replicated scenario: {problem}")
    return out


# --- reporting ------------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.1f} ms"


def print_breakdown(load_s: float, base: dict[str, float], repeat: int) -> None:
    print(f"1. baseline run, in-process (median of {repeat})")
    print(f"   load + validate scenario  {ms(load_s)}  (once: YAML, extends, distributions, topology)")
    print(f"   build   build_world       {ms(base['build_s'])}")
    print(f"   events  env.run           {ms(base['events_s'])}")
    print(f"   tables  build_result      {ms(base['tables_s'])}")
    print(f"   end to end                {ms(base['wall_s'])}")


def print_bare(base: dict[str, float], bare_s: float) -> None:
    events = int(base["events"])
    print(f"2. baseline against a bare SimPy loop of the same {events} events")
    print(f"   model event loop          {ms(base['events_s'])}  ({events / base['events_s']:,.0f} events/s)")
    print(f"   bare SimPy loop           {ms(bare_s)}  ({events / bare_s:,.0f} events/s)")
    print(f"   ratio model/bare          {base['events_s'] / bare_s:8.1f} x  "
          f"(end to end / bare: {base['wall_s'] / bare_s:.1f} x)")


def print_ratio(title: str, label: str, base: dict[str, float], other: dict[str, float]) -> None:
    print(title)
    print(f"   1x                        {ms(base['wall_s'])}  {int(base['events']):>8} events  "
          f"largest run {base['largest_flop']:.2e} FLOP")
    print(f"   {label:<25} {ms(other['wall_s'])}  {int(other['events']):>8} events  "
          f"largest run {other['largest_flop']:.2e} FLOP")
    print(f"   time ratio {label}/1x{'':<{12 - len(label)}} {other['wall_s'] / base['wall_s']:8.2f}    "
          f"(events {other['events'] / base['events']:.2f}x; build {other['build_s'] / base['build_s']:.2f}x, "
          f"events {other['events_s'] / base['events_s']:.2f}x, tables {other['tables_s'] / base['tables_s']:.2f}x)")


def print_budget(base: dict[str, float], big: dict[str, float], wide: dict[str, float]) -> bool:
    checks = [
        (f"baseline end to end <= {BUDGET_BASELINE_MS:.0f} ms", base["wall_s"] * 1e3, BUDGET_BASELINE_MS, "ms"),
        (f"100x GPU counts / 1x <= {BUDGET_GPU_100X:.2f}", big["wall_s"] / base["wall_s"], BUDGET_GPU_100X, ""),
        (f"10x labs, sites, runs / 1x <= {BUDGET_WORLD_10X:.0f}", wide["wall_s"] / base["wall_s"], BUDGET_WORLD_10X, ""),
    ]
    print("5. budget")
    all_met = True
    for label, value, limit, unit in checks:
        met = value <= limit
        all_met &= met
        print(f"   {label:<34} {value:8.2f}{unit and ' ' + unit:<3}  {'MET' if met else 'NOT MET'}")
    return all_met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement (median reported)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    baseline = load_scenario()
    load_s = time.perf_counter() - t0
    missing = unchecked_scale_fields()
    if missing:
        print(f"warning: scaled() may not cover these schema fields: {', '.join(missing)}")
    worlds = {"1x": baseline, "100x": scaled(baseline, GPU_FACTOR), "10x": replicated(baseline, COPIES)}

    medians = measure_worlds(worlds, args.repeat)
    base, big, wide = medians["1x"], medians["100x"], medians["10x"]
    bare_s = median_of(lambda: bare_loop_s(int(base["events"])), args.repeat)

    print_breakdown(load_s, base, args.repeat)
    print_bare(base, bare_s)
    print_ratio("3. 100x GPU counts (capacities, MW, initial GPUs, run thresholds) against 1x", "100x", base, big)
    print_ratio(f"4. {COPIES}x labs, sites, plants and runs (same total demand) against 1x", f"{COPIES}x", base, wide)
    sys.exit(0 if print_budget(base, big, wide) else 1)


if __name__ == "__main__":
    main()
