"""Stress-test the buildout timeline: a Monte Carlo sweep over the baseline's uncertain inputs.

    python examples/stress_test_timeline.py [OUT_DIR]

Each replication draws CoWoS and HBM growth, plant lead times, build times, kernel efficiency and
OpenAI's share of output from its own seed (the baseline's `{dist: ...}` values) and runs the
buildout; the sweep reports, per FLOP threshold, the share of replications with a completed run at
least that large by the end of each year, and the p10/p50/p90 bands of the buildout (a fan chart with
sim.outputs.plots). Writes bands.csv, thresholds.csv, replications.csv (and the figures) to OUT_DIR, which
must not hold a sweep already, or to a new temporary folder.

SIM_EXAMPLE_N (default 20) sets the number of replications; SIM_EXAMPLE_END=2026-12-31 shortens
the horizon.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from sim.studies.sweep import SweepSpec, run_sweep

END = os.environ.get("SIM_EXAMPLE_END")  # e.g. 2026-12-31
OVERRIDES = (f"end_date={END}",) if END else ()
N = int(os.environ.get("SIM_EXAMPLE_N", "20"))
WORKERS = 2


def save_figures(tables: dict, out: Path) -> None:
    try:
        from sim.outputs import plots, study_plots
    except ImportError as exc:  # matplotlib (or sim.outputs.plots) not installed
        print(f"figures skipped: {exc}")
        return
    for name, fig in (("fan_chart", study_plots.fan_chart(tables["bands"])),
                      ("thresholds", study_plots.threshold_curves(tables["thresholds"]))):
        paths = plots.save(fig, out / name)
        print(f"wrote {', '.join(p.name for p in paths)}")


def main(out_dir: str | None = None) -> None:
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="sim-sweep-"))
    spec = SweepSpec(scenario=None, overrides=OVERRIDES, n=N, root_seed=0)  # None: the shipped baseline
    tables = run_sweep(spec, out, workers=WORKERS, progress=False)

    thresholds = tables["thresholds"]
    years = [c for c in thresholds.columns if c.startswith("p_by_")]
    shown = thresholds[["threshold_flop", *years, "date_p50"]].copy()
    shown["threshold_flop"] = shown["threshold_flop"].map(lambda x: f"{x:.0e}")
    shown["date_p50"] = shown["date_p50"].replace("", "-")  # fewer than half the replications reach it
    print(f"{N} replications, {WORKERS} workers: P(a completed run of at least this many FLOP by 31 December)")
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.2f}", na_rep="-"))

    replications = tables["replications"]
    largest = replications["largest_run_flop"]
    print(f"\nlargest completed run: p10 {largest.quantile(0.1):.2e}, p50 {largest.median():.2e}, "
          f"p90 {largest.quantile(0.9):.2e} FLOP")
    print(f"wrote bands.csv, thresholds.csv, replications.csv to {out}")
    save_figures(tables, out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
