"""Every random stream of the simulator, spawned from one seed (numpy SeedSequence).

This is the only module that makes random generators; everything else is handed one. The tree:

    SeedSequence(seed)                         a simulation's root
      children (0,), (1,), ...                 one stream per training run, in scenario order
      spawn_key DISRUPTION_SPAWN_KEY           the disruptions' stream (two words: never a run's key)
      spawn_key (POLICY_SPAWN_WORD, lab, n)    a lab's n-th policy run (three words)
      spawn_key (PROCUREMENT_SPAWN_WORD, lab)  a lab's procurement projects (two words)
      spawn_key (JOB_SPAWN_WORD, 0)            a `sim job`'s failures (two words)
      spawn_key (SCREENING_SPAWN_WORD,)        a sensitivity study's design and bootstrap (sim/studies/screening.py)
    SeedSequence(root_seed, spawn_key=(i,))    replication i of a sweep
      .spawn(2) -> (inputs, simulation seed)   its uncertain inputs; the seed its simulation runs with

A simulation's streams are independent of one another, so adding a disruption to a scenario leaves
every run's failures as they were; a sweep replication depends only on (root seed, index), not on the
worker count or the order replications finish in. The same index gets the same seed in every grid
cell (common random numbers across cells). Desmod seeds its environment in one place in the same way
(desmod.simulation.SimEnvironment: one `rand` seeded from the configuration).
"""
from __future__ import annotations

import numpy as np

# SeedSequence spawn key of the disruption stream. Run streams are the children spawned from
# SeedSequence(seed), whose keys are one word each, (0,), (1,), ...; a two-word key never equals one.
DISRUPTION_SPAWN_KEY = (0x64697372, 0x75707431)  # "disr", "upt1"
# Policy runs (sim/world/run_policy.py): key (POLICY_SPAWN_WORD, lab index, run number), three words:
# never a typed run's key or the disruptions'.
POLICY_SPAWN_WORD = 0x706F6C69  # "poli"
# Procurement (sim/world/procurement.py): key (PROCUREMENT_SPAWN_WORD, lab index), two words whose
# first is never the disruptions' first word.
PROCUREMENT_SPAWN_WORD = 0x70726F63  # "proc"
# A job of `sim job` (sim/studies/job.py): key (JOB_SPAWN_WORD, 0), its failures.
JOB_SPAWN_WORD = 0x6A6F6221  # "job!"
# A global sensitivity study (sim/studies/screening.py): key (SCREENING_SPAWN_WORD,), spawned into the design
# and the bootstrap; one word, never a run's (a run's key is its index, far below this word).
SCREENING_SPAWN_WORD = 0x73637265  # "scre"


def screening_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The generators of a sensitivity study's design (SALib's sampler) and of its bootstrap, from `seed`."""
    design, bootstrap = np.random.SeedSequence(seed, spawn_key=(SCREENING_SPAWN_WORD,)).spawn(2)
    return np.random.default_rng(design), np.random.default_rng(bootstrap)


class RandomStreams:
    """The random streams of one simulation, all from `seed`."""

    def __init__(self, seed: int):
        self.seed = seed

    def runs(self, names: list[str]) -> dict[str, np.random.Generator]:
        """One independent stream per training run (failure times), keyed by run name."""
        children = np.random.SeedSequence(self.seed).spawn(len(names))
        return {name: np.random.default_rng(child) for name, child in zip(names, children)}

    def policy_run(self, lab_index: int, number: int) -> np.random.Generator:
        """The stream of a lab's `number`-th policy run (failure times)."""
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(POLICY_SPAWN_WORD, lab_index, number)))

    def procurement(self, lab_index: int) -> np.random.Generator:
        """A lab's procurement stream (whether an interconnection request ever completes)."""
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(PROCUREMENT_SPAWN_WORD, lab_index)))

    def job(self) -> np.random.Generator:
        """The failure stream of a single job (`sim job`)."""
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(JOB_SPAWN_WORD, 0)))

    def disruptions(self) -> np.random.Generator:
        """The stream random disruptions are drawn from (their own child per disruption, by position)."""
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=DISRUPTION_SPAWN_KEY))


def replication_seeds(root_seed: int, index: int) -> tuple[np.random.Generator, int]:
    """Replication `index` of a sweep: the generator its inputs are drawn from, and its simulation seed."""
    inputs_seed, run_seed = np.random.SeedSequence(root_seed, spawn_key=(index,)).spawn(2)
    return np.random.default_rng(inputs_seed), int(run_seed.generate_state(1)[0])
