"""Stress-test a buildout timeline: what does a turbine backlog do to the largest run by 2030?

Combined-cycle gas plants' lead time goes from 4.5 years (central, ref/power.csv) to 7 years (the
backlog-driven high end for large frame turbines, ref/power.csv).

    python examples/stress_power_delay.py
"""
from __future__ import annotations

import sim

STRESS = ["plant_types.gas_combined_cycle.lead_time_days=2557"]  # 7 years


def largest_completed(result: sim.Result) -> tuple[str, float]:
    done = result.runs[result.runs["status"] == "completed"]
    best = done.loc[done["flop"].idxmax()]
    return best["run"], float(best["flop"])


def main() -> None:
    base = sim.run(sim.load_scenario())
    stressed = sim.run(sim.load_scenario(overrides=STRESS))
    for label, result in (("baseline", base), ("turbine backlog", stressed)):
        name, flop = largest_completed(result)
        world = result.timeseries[(result.timeseries["entity"] == "world") & (result.timeseries["metric"] == "power_online_mw")]
        gw = world[world["date"] == "2030-01-01"]["value"].iloc[0] / 1e3
        print(f"{label:>16}: {gw:5.2f} GW firm power online on 2030-01-01; largest completed run {name} at {flop:.2e} FLOP")
    joined = base.runs[["run", "flop"]].merge(stressed.runs[["run", "flop", "status"]], on="run", suffixes=("", "_stressed"))
    print()
    print(joined.to_string(index=False, float_format=lambda x: f"{x:.2e}"))


if __name__ == "__main__":
    main()
