"""Run a scenario from Python: load it, run it, look at the runs and the frontier, save its figures.

    python examples/run_scenario.py [OUT_DIR]

Writes runs.csv, timeseries.csv, frontier.csv, summary.json and the figures (sim.outputs.plots, PNG and SVG)
to OUT_DIR, or to a new temporary folder. SIM_EXAMPLE_END=2026-12-31 shortens the horizon (the
scenario override `end_date=...`), as the tests do.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import sim

END = os.environ.get("SIM_EXAMPLE_END")  # e.g. 2026-12-31
OVERRIDES = [f"end_date={END}"] if END else []


def save_figures(result: sim.Result, out: Path) -> None:
    try:
        from sim.outputs import plots
    except ImportError as exc:  # matplotlib (or sim.outputs.plots) not installed
        print(f"figures skipped: {exc}")
        return
    figures = {
        "frontier": plots.frontier(result.frontier),
        "runs": plots.runs_timeline(result.runs, end_date=result.summary.get("end_date")),
        "buildout": plots.buildout(result.timeseries, result.runs),
    }
    for name, fig in figures.items():
        paths = plots.save(fig, out / name)
        print(f"wrote {', '.join(p.name for p in paths)}")


def main(out_dir: str | None = None) -> None:
    scenario = sim.load_scenario(overrides=OVERRIDES)  # or a path: sim.load_scenario("my.yaml")
    print(f"scenario {scenario.name}: {scenario.start_date} to {scenario.end_date}")
    result = sim.run(scenario, seed=0)

    columns = ["run", "lab", "start", "end", "gpus", "gpu_type", "flop", "mfu", "binding_constraint", "status"]
    runs = result.runs[columns]
    print(runs.to_string(index=False, float_format=lambda x: f"{x:.3g}"))

    # the frontier each January: the largest run any lab could start under each constraint, and what binds
    frontier = result.frontier[result.frontier["date"].dt.day_of_year == 1]
    table = frontier.pivot(index="date", columns="constraint", values="max_flop")
    table["binds"] = frontier[frontier["constraint"] == "combined"].set_index("date")["binding_constraint"]
    print("\nlargest run any lab could start (FLOP), each January:")
    print(table.to_string(float_format=lambda x: f"{x:.2e}"))

    best = result.summary.get("largest_run_completed")
    if best:
        print(f"\nlargest completed run: {best['run']} ({best['lab']}), {best['flop']:.2e} FLOP, bound by "
              f"{best['binding_constraint']}")

    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="sim-example-"))
    paths = result.write(out)
    print(f"\nwrote {', '.join(p.name for p in paths)} to {out}")
    save_figures(result, out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
