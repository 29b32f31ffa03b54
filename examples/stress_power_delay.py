"""Stress-test a buildout timeline: what does a turbine backlog do to the largest run by 2030?

Combined-cycle gas plants' lead time goes from 4.5 years (central, sim/data/power.csv) to 7 years (the
backlog-driven high end for large frame turbines, sim/data/power.csv).

    python examples/stress_power_delay.py

SIM_EXAMPLE_END=2026-12-31 shortens the horizon (the scenario override `end_date=...`); the power
online is then read on the last 1 January inside it.
"""
from __future__ import annotations

import os

import sim

END = os.environ.get("SIM_EXAMPLE_END")  # e.g. 2026-12-31
OVERRIDES = [f"end_date={END}"] if END else []
STRESS = ["plant_types.gas_combined_cycle.lead_time_days=2557"]  # 7 years


def largest_completed(result: sim.Result) -> tuple[str, float]:
    done = result.runs[result.runs["status"] == "completed"]
    if done.empty:
        return "-", 0.0
    best = done.loc[done["flop"].idxmax()]
    return best["run"], float(best["flop"])


def main() -> None:
    base = sim.run(sim.load_scenario(overrides=OVERRIDES))
    stressed = sim.run(sim.load_scenario(overrides=OVERRIDES + STRESS))
    for label, result in (("baseline", base), ("turbine backlog", stressed)):
        name, flop = largest_completed(result)
        ts = result.timeseries
        world = ts[(ts["entity"] == "world") & (ts["metric"] == "power_online_mw")].set_index("date")["value"]
        january = max(d for d in world.index if d.day_of_year == 1 and d.year <= 2030)
        print(f"{label:>16}: {world[january] / 1e3:5.2f} GW firm power online on {january:%Y-%m-%d}; "
              f"largest completed run {name} at {flop:.2e} FLOP")
    joined = base.runs[["run", "flop", "status"]].merge(stressed.runs[["run", "flop", "status"]], on="run",
                                                        suffixes=("", "_stressed"))
    print()
    print(joined.to_string(index=False, float_format=lambda x: f"{x:.2e}"))


if __name__ == "__main__":
    main()
