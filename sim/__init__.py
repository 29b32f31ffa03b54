"""A discrete-event simulator of AI training-cluster buildout.

    import sim
    scenario = sim.load_scenario()          # the shipped baseline
    result = sim.run(scenario, seed=0)      # Result with .runs, .timeseries, .frontier, .summary

    template = sim.load_template(path)      # a scenario whose numbers may be distributions
    scenario, drawn = template.sample(numpy.random.default_rng(1))
"""
from sim.distributions import Distribution, parse_distribution
from sim.engine import run
from sim.results import Result, package_version
from sim.scenario import (ScenarioError, ScenarioTemplate, UncertainInput, load_scenario, load_template,
                          packaged_scenario)
from sim.schema import Scenario
from sim.topology import Topology, load_topology

__version__ = package_version()
__all__ = ["run", "load_scenario", "load_template", "load_topology", "packaged_scenario", "parse_distribution",
           "Distribution", "Result", "Scenario", "ScenarioError", "ScenarioTemplate", "Topology", "UncertainInput",
           "__version__"]
