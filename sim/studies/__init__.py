"""studies: many simulations of one scenario. Monte Carlo and grid sweeps (run serially, on a process
pool or on Dask through one executor, streamed to disk a replication at a time and resumable),
one-at-a-time sensitivity (tornado), the same buildout compared across topologies, and validation
against published cases. It may import config, physics, network, world, outputs and sim.api, never
sim.cli."""
