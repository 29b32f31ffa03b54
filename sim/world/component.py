"""The base of every part of the world: a component owns its state, starts its own processes and
records its own probe rows.

Modelled on desmod's `Component` (desmod/component.py): each part of the model registers its
processes with `add_process` and contributes what it measures, so the world assembler only wires
parts together. Two differences, both for speed and determinism: a process starts the moment it is
added (the assembler adds components in a fixed order, which fixes SimPy's tie-breaking order), and
probes are plain methods a sampler calls at each sample day, appending tidy rows.
"""
from __future__ import annotations

from typing import Callable, Generator

import simpy

# a probe row: (day, entity, kind, metric, value); kinds and units are in sim/metrics.py
Row = tuple[float, str, str, str, float]


class Component:
    """A named part of the world with its own SimPy processes."""

    kind = "component"  # the entity kind of its probe rows (sim/metrics.py)

    def __init__(self, env: simpy.Environment, name: str):
        self.env, self.name = env, name

    def add_process(self, generator: Callable[..., Generator], *args) -> simpy.Process:
        """Start `generator(*args)` as a SimPy process of this component."""
        return self.env.process(generator(*args))

    def probe(self, day: float, rows: list[Row]) -> None:
        """Append this component's rows for a sample day (none by default)."""
