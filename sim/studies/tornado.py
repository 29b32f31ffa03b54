"""One-at-a-time sensitivity (a tornado diagram's table): each uncertain input of a scenario at its
p10 and its p90, all others at their medians, ranked by the swing of one output.

Every run uses the same seed, so the swing is the input's effect and not sampling noise; the runs
go through the studies' one executor (sim.studies.executor), serially or on a process pool, with a
progress bar on a terminal (sim.studies.progress). The global methods (Morris, Sobol) are
sim.studies.screening; the outputs a study can rank by are sim.studies.study_metrics.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from sim.api import run
from sim.config.errors import ScenarioError
from sim.config.loading import load_template
from sim.outputs.tables import Result
from sim.studies.executor import StudyError
from sim.studies.progress import map_ordered_with_progress
from sim.studies.study_metrics import largest_run_flop
from sim.studies.sweep import cached_template

COLUMNS = ["input", "low_value", "high_value", "output_at_low", "output_at_high", "output_at_median", "swing"]


@dataclass(frozen=True)
class Swing:
    key_path: str
    low_value: float
    high_value: float
    output_low: float
    output_high: float

    output_median: float = 0.0

    @property
    def swing(self) -> float:
        """The spread of the output over the input's p10, median and p90 (an effect need not be monotone)."""
        outputs = (self.output_low, self.output_median, self.output_high)
        return max(outputs) - min(outputs)


def tornado(scenario: str | None, overrides: tuple[str, ...] = (), seed: int = 0,
            output: Callable[[Result], float] = largest_run_flop, workers: int = 1,
            dask: str | None = None, progress: bool = False) -> pd.DataFrame:
    """One-at-a-time sensitivity: each uncertain input at its p10 and its p90, all others at
    their medians, ranked by the swing in `output` (a tornado diagram's table): the spread of the
    output over the input's p10, median and p90. `output` must be picklable (a module-level
    function, e.g. one of sim.studies.study_metrics) when `workers` > 1; `progress` draws a bar."""
    template = load_template(scenario, overrides)
    inputs = [(item.key_path, item.distribution.quantile(0.1), item.distribution.quantile(0.9))
              for item in template.inputs]
    tasks = [(scenario, overrides, seed, key, value, output) for key, low, high in inputs for value in (low, high)]
    tasks.append((scenario, overrides, seed, None, None, output))  # every input at its median
    results = map_ordered_with_progress(_swing_output, tasks, workers, dask, "tornado", progress)
    baseline_output = results[-1]
    swings = [Swing(key, low, high, results[2 * i], results[2 * i + 1], baseline_output)
              for i, (key, low, high) in enumerate(inputs)]
    rows = [{"input": s.key_path, "low_value": s.low_value, "high_value": s.high_value,
             "output_at_low": s.output_low, "output_at_high": s.output_high,
             "output_at_median": baseline_output, "swing": s.swing} for s in swings]
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values(["swing", "input"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def run_at(scenario, overrides, seed, values: dict) -> Result:
    """One run of the scenario with the given inputs (by key path) at the given values, the rest at their medians."""
    return run(cached_template(scenario, tuple(overrides)).at(values), seed=seed)


def _swing_output(task) -> float:
    """The output with one input (`key`) at `value`, the others at their medians (key None: all at medians)."""
    scenario, overrides, seed, key, value, output = task
    try:
        return output(run_at(scenario, overrides, seed, {} if key is None else {key: value}))
    except ScenarioError:
        raise
    except Exception as exc:  # one line naming the run, picklable (it may come back from a pool worker)
        text = " ".join(str(exc).split()) or "no message"
        which = "every input at its median" if key is None else f"{key} at {value:g}"
        raise StudyError(f"the run with {which} (seed {seed}) failed: {type(exc).__name__}: {text}") from exc
