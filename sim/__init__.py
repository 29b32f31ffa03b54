"""A discrete-event simulator of AI training-cluster buildout.

    import sim
    scenario = sim.load_scenario()          # the shipped baseline
    result = sim.run(scenario, seed=0)      # Result with .runs, .timeseries, .frontier, .summary
"""
from sim.engine import run
from sim.results import Result, package_version
from sim.scenario import ScenarioError, load_scenario, packaged_scenario
from sim.schema import Scenario
from sim.topology import Topology, load_topology

__version__ = package_version()
__all__ = ["run", "load_scenario", "load_topology", "packaged_scenario", "Result", "Scenario", "ScenarioError",
           "Topology", "__version__"]
