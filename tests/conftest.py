"""Shared fixtures: the baseline scenario and its result, computed once per test session."""
from __future__ import annotations

import pytest

import sim


@pytest.fixture(scope="session")
def baseline():
    return sim.load_scenario()


@pytest.fixture(scope="session")
def baseline_result(baseline):
    return sim.run(baseline, seed=0)
