"""The simulator's Python interface: load a scenario or topology, run it, get tables back.

    import sim
    scenario = sim.load_scenario()          # the shipped baseline
    result = sim.run(scenario, seed=0)      # Result: .runs, .timeseries, .frontier, .summary
    swept = sim.sweep(None, n=4)            # SweepResult: .bands, .thresholds, .replications (in memory)

Everything here is re-exported from `sim` (lazily: `import sim` stays cheap).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from sim.config.distribution_specs import parse_distribution
from sim.config.distributions import Distribution
from sim.config.errors import ScenarioError
from sim.config.loading import (ScenarioTemplate, UncertainInput, load_scenario, load_template,
                                packaged_scenario)
from sim.config.schema import Scenario
from sim.network.topology import Topology, load_topology
from sim.outputs.tables import Result
from sim.studies.simulate import run
from sim.studies.sweep import SweepResult, sweep


def job(path: str | Path, seed: int = 0, overrides: Iterable[str] = ()) -> dict:
    """One training job on one cluster from a job file (what `sim job` writes to job.json)."""
    from sim.config.job import load_job
    from sim.studies.job import run_job

    return run_job(load_job(path, overrides), path, seed=seed)


__all__ = ["run", "job", "sweep", "load_scenario", "load_template", "load_topology", "packaged_scenario",
           "parse_distribution", "Distribution", "Result", "Scenario", "ScenarioError", "ScenarioTemplate",
           "SweepResult", "Topology", "UncertainInput"]
