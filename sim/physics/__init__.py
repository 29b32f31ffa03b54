"""physics: the model's equations, as pure functions of numbers.

Each function computes one published formula and names its source in its docstring, so it is tested
against that source's worked case (tests/test_formulas.py, tests/validation): unit constants
(units.py), training compute and Chinchilla sizing (compute.py), GPU products (hardware.py),
collective communication (collectives.py), step time and the best parallel plan (step_time.py), what a plan must fit in HBM (memory.py),
failures and checkpoints (reliability.py; what recovery costs at scale, recovery.py), the walls (walls.py), a run's network as numbers
(fabric.py), sizing a run on a network (sizing.py) and the monthly frontier (frontier.py). It holds no
simulation state and may import only the standard library, math, numpy, dataclasses and typing
(duck-typed parameters are typing.Protocols): never simpy, and nothing from another subpackage
(sim.config, sim.network, sim.world, sim.outputs, sim.studies), not even under TYPE_CHECKING.
"""
