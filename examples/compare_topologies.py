"""The same buildout on three networks: one campus, five US sites in a ring, a ~3,000 km loop.

    python examples/compare_topologies.py [OUT_DIR]

`sim.network.placement.place_on_topology` splits every site of the baseline across the topology's sites
(same power, GPUs and dates in total), and `sim.studies.compare.compare` runs each with the same seed, so
the topologies differ only in how the GPUs are connected: step time, MFU and FLOP. With OUT_DIR it
also writes compare.csv and a figure (sim.outputs.plots). SIM_EXAMPLE_END=2026-12-31 shortens the horizon.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import sim
from sim.studies.compare import compare
from sim.network.placement import place_on_topology
from sim.outputs.tables import write_files

END = os.environ.get("SIM_EXAMPLE_END")  # e.g. 2026-12-31
OVERRIDES = [f"end_date={END}"] if END else []
TOPOLOGIES = ["single_campus", "ring_5_us", "distributed_2030"]


def main(out_dir: str | None = None) -> None:
    scenario = sim.load_scenario(overrides=OVERRIDES)
    placed = [place_on_topology(scenario, name) for name in TOPOLOGIES]
    for name, s in zip(TOPOLOGIES, placed):
        topology = sim.load_topology(s.topology)
        print(f"{name}: {len(topology.sites)} site(s), {topology.graph.number_of_edges()} WAN link(s); "
              f"the baseline's {len(scenario.sites)} sites placed as {len(s.sites)} parts")
    table = compare(placed, seed=0)

    trained = table[table["flop"] > 0]
    order = list(dict.fromkeys(trained["run"]))
    for column, fmt in (("flop", "{:.3g}"), ("mfu", "{:.3f}"), ("comm_fraction", "{:.3f}")):
        wide = trained.pivot(index="run", columns="topology", values=column).reindex(index=order, columns=TOPOLOGIES)
        print(f"\n{column} per run and topology:")
        print(wide.to_string(float_format=fmt.format))

    # what the network costs the largest run: FLOP relative to one campus
    flop = trained.pivot(index="run", columns="topology", values="flop").reindex(columns=TOPOLOGIES)
    largest = flop["single_campus"].idxmax()
    print(f"\n{largest}: " + ", ".join(f"{t} {flop.loc[largest, t] / flop.loc[largest, 'single_campus']:.0%}"
                                       for t in TOPOLOGIES) + " of the single-campus FLOP")

    if out_dir:
        out = Path(out_dir)
        write_files(out, {"compare.csv": table.to_csv(index=False, float_format="%.6g", lineterminator="\n")})
        print(f"wrote compare.csv to {out}")
        try:
            from sim.outputs import plots, study_plots
        except ImportError as exc:
            print(f"figure skipped: {exc}")
            return
        paths = plots.save(study_plots.topology_comparison(table), out / "compare")
        print(f"wrote {', '.join(p.name for p in paths)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
