"""A discrete-event simulator of AI training-cluster buildout.

    import sim
    scenario = sim.load_scenario()          # the shipped baseline
    result = sim.run(scenario, seed=0)      # Result with .runs, .timeseries, .frontier, .summary

    template = sim.load_template(path)      # a scenario whose numbers may be distributions
    scenario, drawn = template.sample(numpy.random.default_rng(1))
"""
from sim.config.distributions import Distribution, parse_distribution
from sim.world.assembly import run
from sim.outputs.tables import Result, package_version
from sim.config.loading import (ScenarioError, ScenarioTemplate, UncertainInput, load_scenario, load_template,
                          packaged_scenario)
from sim.config.schema import Scenario
from sim.network.topology import Topology, load_topology

__version__ = package_version()
__all__ = ["run", "load_scenario", "load_template", "load_topology", "packaged_scenario", "parse_distribution",
           "Distribution", "Result", "Scenario", "ScenarioError", "ScenarioTemplate", "Topology", "UncertainInput",
           "__version__"]
