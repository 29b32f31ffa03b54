"""Comparing topologies: the same buildout, the same seed, run on each topology."""
from __future__ import annotations

import pandas as pd

from sim.api import run
from sim.config.schema import Scenario
from sim.network.topology import load_topology

COMPARE_COLUMNS = ["topology", "run", "flop", "mfu", "goodput", "step_time_s", "binding_constraint",
                   "gpus", "interruptions", "comm_fraction", "status"]


def compare(placed: list[Scenario], seed: int = 0) -> pd.DataFrame:
    """One row per (topology, run): what each topology makes of each planned run."""
    frames = []
    for scenario in placed:
        runs = run(scenario, seed=seed).runs.copy()
        runs.insert(0, "topology", load_topology(scenario.topology).name)
        frames.append(runs[COMPARE_COLUMNS])
    return pd.concat(frames, ignore_index=True)
