"""The answer a run gives to the question the simulator exists for, stated first (console, summary.json
`answer`, the top of the report). Filled in below."""
from __future__ import annotations

import pandas as pd


def build_answer(runs: pd.DataFrame, timeseries: pd.DataFrame, frontier: pd.DataFrame, years: list[dict]) -> dict:
    """The answer block of a run (see the module docstring)."""
    return {}
