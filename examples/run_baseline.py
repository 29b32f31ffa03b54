"""Run the shipped baseline from a script and look at what binds, year by year.

    python examples/run_baseline.py [OUT_DIR]
"""
from __future__ import annotations

import sys

import sim


def main(out_dir: str | None = None) -> None:
    scenario = sim.load_scenario()
    result = sim.run(scenario, seed=0)

    runs = result.runs[["run", "lab", "start", "end", "gpus", "gpu_type", "flop", "binding_constraint"]]
    print(runs.to_string(index=False, float_format=lambda x: f"{x:.2e}"))

    # the frontier each January: the largest run any lab could start, and what held it down
    frontier = result.frontier[result.frontier["date"].str.endswith("-01-01")]
    table = frontier.pivot(index="date", columns="constraint", values="max_flop")
    table["binds"] = frontier[frontier["constraint"] == "combined"].set_index("date")["binding_constraint"]
    print()
    print(table.to_string(float_format=lambda x: f"{x:.2e}"))

    if out_dir:
        result.write(out_dir)
        print(f"\nwrote {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
