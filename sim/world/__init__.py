"""world: the SimPy model of the buildout.

Each part of the world is a component (sim/world/component.py, after desmod's Component) that owns
its state, starts its own processes and records its own probe rows: supply (fabs, CoWoS lines, HBM
suppliers, assembly), the allocator, labs, sites and their GPU fleets (a cohort's life, from install
to retirement, in fleet.py), power plants, training runs, disruptions, and the probes. `assembly.py`
only wires them together; `streams.py` is the one source of random generators. It may import
sim.config, sim.physics, sim.network and sim.metrics, and never sim.outputs, sim.studies or the CLI.
"""
