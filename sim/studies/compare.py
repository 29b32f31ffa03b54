"""Comparing topologies: the same buildout, the same seed, run on each topology.

The runs go through the studies' one executor (sim.studies.executor): serially, or on a process
pool with `workers` > 1; the rows come back in the order of the topologies given.
"""
from __future__ import annotations

import pandas as pd

from sim.api import run
from sim.config.schema import Scenario
from sim.network.topology import load_topology
from sim.studies.executor import map_ordered

COMPARE_COLUMNS = ["topology", "run", "flop", "mfu", "goodput", "step_time_s", "binding_constraint",
                   "gpus", "interruptions", "comm_fraction", "status"]


def compare(placed: list[Scenario], seed: int = 0, workers: int = 1) -> pd.DataFrame:
    """One row per (topology, run): what each topology makes of each planned run."""
    frames = map_ordered(_topology_runs, [(scenario, seed) for scenario in placed], workers)
    return pd.concat(frames, ignore_index=True)


def _topology_runs(task: tuple[Scenario, int]) -> pd.DataFrame:
    """The runs of one placed scenario, with its topology's name in front."""
    scenario, seed = task
    runs = run(scenario, seed=seed).runs.copy()
    runs.insert(0, "topology", load_topology(scenario.topology).name)
    return runs[COMPARE_COLUMNS]
