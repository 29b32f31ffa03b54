"""A discrete-event simulator of AI training-cluster buildout.

    import sim
    scenario = sim.load_scenario()          # the shipped baseline
    result = sim.run(scenario, seed=0)      # Result with .runs, .timeseries, .frontier, .summary
    answer = sim.job("examples/jobs/llama3_405b.yaml")  # one job on one cluster: MFU, goodput, days, plan
    bands = sim.sweep(None, n=4).bands      # Monte Carlo replications in memory (SweepResult)

    template = sim.load_template(path)      # a scenario whose numbers may be distributions
    scenario, drawn = template.sample(numpy.random.default_rng(1))

The names below come from `sim.api` and are imported on first use (PEP 562), so `import sim` and
`sim --help` do not load numpy, pandas, SimPy or pydantic.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["run", "job", "sweep", "load_scenario", "load_template", "load_topology", "packaged_scenario",
           "parse_distribution", "Distribution", "Result", "Scenario", "ScenarioError", "ScenarioTemplate",
           "SweepResult", "Topology", "UncertainInput", "__version__"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs; at run time __getattr__ does this
    from sim.api import (Distribution, Result, Scenario, ScenarioError, ScenarioTemplate, Topology, UncertainInput, job,
                         load_scenario, load_template, load_topology, packaged_scenario, parse_distribution, run)
    from sim.api import SweepResult, sweep


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from sim.version import package_version

        value = package_version()
    elif name in __all__:
        import sim.api

        value = getattr(sim.api, name)
    else:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    globals()[name] = value  # cached: __getattr__ runs once per name
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
