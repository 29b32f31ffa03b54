"""One simulation: a scenario run from its start date through its end date, its tables returned.

It lives here, below sim.api (which re-exports it as `sim.run`), so that the studies that run many
simulations (sim.studies.sweep) can import it while sim.api imports them in turn without a cycle.
"""
from __future__ import annotations

from sim.config.schema import Scenario
from sim.outputs.tables import Result, build_result
from sim.world.assembly import build_world


def run(scenario: Scenario, seed: int = 0) -> Result:
    """Simulate a scenario from its start date through its end date and return its tables."""
    world = build_world(scenario, seed)
    world.env.run(until=world.horizon_day)
    return build_result(world)
