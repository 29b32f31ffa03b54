"""Benchmark: the baseline's wall time and event rate against a bare SimPy loop, and a world with
100x the GPU counts (which must take the same time: counts are numbers, not objects).

    python benchmarks/bench_run.py [--repeat N]

Prints its figures; asserts nothing. All ratios are measured in this one process.
"""
from __future__ import annotations

import argparse
import statistics
import time

import simpy

import sim
from sim.world.assembly import build_world
from sim.outputs.tables import build_result
from sim.config.schema import Scenario


def bare_loop_events_per_s(n_events: int = 200_000) -> float:
    """Events per second of one SimPy process yielding timeouts: the engine's floor cost."""
    env = simpy.Environment()

    def loop(env: simpy.Environment):
        for _ in range(n_events):
            yield env.timeout(1)

    env.process(loop(env))
    start = time.perf_counter()
    env.run()
    return n_events / (time.perf_counter() - start)


def timed_run(scenario: Scenario) -> dict[str, float]:
    """Wall time of each stage of one run, and the events the model processed."""
    t0 = time.perf_counter()
    world = build_world(scenario, seed=0)
    t1 = time.perf_counter()
    world.env.run(until=world.horizon_day)
    t2 = time.perf_counter()
    result = build_result(world)
    t3 = time.perf_counter()
    return {
        "build_s": t1 - t0, "events_s": t2 - t1, "tables_s": t3 - t2, "wall_s": t3 - t0,
        "events": world.env.events_processed,
        "largest_flop": float(result.runs["flop"].max()),
    }


def scaled(scenario: Scenario, factor: float) -> Scenario:
    """The same world with every capacity, power figure and GPU count multiplied by `factor`."""
    data = scenario.model_dump()

    def scale_ramp(spec):
        if isinstance(spec, dict):
            spec = dict(spec)
            spec["points"] = {d: v * factor for d, v in spec["points"].items()}
            return spec
        return spec * factor

    for group, key in (("logic_fabs", "wafer_capacity_wpm"), ("packaging_lines", "wafer_capacity_wpm"),
                       ("hbm_suppliers", "stack_capacity_per_month")):
        for item in data[group].values():
            item[key] = scale_ramp(item[key])
    for plant in data["power_plants"]:
        plant["capacity_mw"] *= factor
    for site in data["sites"].values():
        site["facility_mw"] *= factor
        site["initial_gpus"] = {g: int(n * factor) for g, n in site["initial_gpus"].items()}
    for run in data["runs"]:
        if run.get("start_when_h100e_installed") is not None:
            run["start_when_h100e_installed"] *= factor
    return Scenario.model_validate(data, strict=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement (median reported)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    baseline = sim.load_scenario()
    load_s = time.perf_counter() - t0
    big = scaled(baseline, 100.0)
    timed_run(baseline)  # warm up imports and caches

    base_runs = [timed_run(baseline) for _ in range(args.repeat)]
    big_runs = [timed_run(big) for _ in range(args.repeat)]
    bare = statistics.median(bare_loop_events_per_s() for _ in range(args.repeat))

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    events = base_runs[0]["events"]
    model_rate = events / med(base_runs, "events_s")
    print(f"baseline scenario: load+validate {load_s * 1e3:.1f} ms (first load, includes YAML parse)")
    print(f"baseline run:      wall {med(base_runs, 'wall_s') * 1e3:.1f} ms "
          f"(build {med(base_runs, 'build_s') * 1e3:.1f}, events {med(base_runs, 'events_s') * 1e3:.1f}, "
          f"tables {med(base_runs, 'tables_s') * 1e3:.1f}) median of {args.repeat}")
    print(f"SimPy events:      {events} processed, {model_rate:,.0f} events/s in the event loop")
    print(f"bare SimPy loop:   {bare:,.0f} events/s")
    print(f"ratio model/bare:  {model_rate / bare:.1%}")
    big_wall = med(big_runs, "wall_s")
    base_wall = med(base_runs, "wall_s")
    print(f"100x GPU counts:   wall {big_wall * 1e3:.1f} ms, {big_runs[0]['events']} events, "
          f"largest run {big_runs[0]['largest_flop']:.2e} FLOP (baseline {base_runs[0]['largest_flop']:.2e})")
    print(f"time ratio 100x/1x: {big_wall / base_wall:.2f}")


if __name__ == "__main__":
    main()
