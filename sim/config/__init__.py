"""config: what a scenario says, and nothing about what happens next.

The scenario schema (pydantic, strict, with key paths in every error), loading YAML files with
`extends:` chains and `--set` overrides, uncertain inputs written as distributions, the disruption
kinds and their checks, calendar time and capacity ramps, and the one error type (`ScenarioError`)
that every refusal is raised as. It is the bottom layer: it may import sim.physics (pure numbers, for
checks such as good dies per wafer) and sim.network (to check a scenario's topology reference), and
never sim.world, sim.outputs, sim.studies or the CLI (one late import of sim.world.power for the
start-date power check aside).
"""
