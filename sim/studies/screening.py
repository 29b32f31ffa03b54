"""Global sensitivity of one output to every uncertain input at once: Morris elementary effects (a
screening: which inputs matter, which act non-linearly or together) and Sobol variance indices.

Sampling space. Each uncertain input (a `{dist: ...}` value of the scenario) is sampled in probability
space on [0.1, 0.9] and mapped through its own inverse CDF (`Distribution.quantile`): the sampled
values span the input's p10..p90, the range the tornado (sim.studies.tornado) swings it over, and
follow its distribution's shape inside that range (equal steps in probability, not in value). Sobol
indices are therefore those of the inputs' distributions truncated to p10..p90.

Every run uses the same simulation seed (`seed`), as the tornado's do, so differences between runs
are the inputs' effect and not sampling noise. The design (SALib's samplers) and the bootstrap of the
confidence intervals draw from numpy Generators spawned from `seed` (SeedSequence spawn key
SCREENING_SPAWN_WORD, never a replication's one-word key), so a study's table depends only on the
scenario, the options and the seed: not on the worker count or the order runs finish in.

SALib (Herman & Usher, "SALib: An open-source Python library for sensitivity analysis", JOSS 2017)
is an optional extra: `pip install "sim-buildout[sensitivity]"`.
"""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pandas as pd

from sim.config.errors import ScenarioError
from sim.config.loading import ScenarioTemplate, load_template
from sim.studies.executor import OptionError, StudyError
from sim.studies.progress import map_ordered_with_progress
from sim.studies.study_metrics import METRICS, horizon_problem, metric_value
from sim.studies.tornado import run_at
from sim.world.streams import screening_rngs

LOW_QUANTILE, HIGH_QUANTILE = 0.1, 0.9  # each input's p10..p90, as the tornado swings it
CONFIDENCE_LEVEL = 0.95  # of the bootstrap intervals (mu_star_conf, S1_conf, ST_conf)
MORRIS_RESAMPLES = 1000  # bootstrap resamples of mu* (SALib's default is 100; more costs no runs)
SOBOL_RESAMPLES = 1000
SAMPLING = "each input on its quantiles 0.1..0.9 (its p10..p90), mapped through its inverse CDF"
SALIB_MISSING = 'needs SALib: pip install "sim-buildout[sensitivity]"'

MORRIS_COLUMNS = ["input", "mu_star", "mu_star_conf", "sigma", "mu", "unit"]
SOBOL_COLUMNS = ["input", "S1", "S1_conf", "ST", "ST_conf"]


class SALibMissing(ImportError):
    """SALib (the `sensitivity` extra) is not installed."""


def require_salib() -> Any:
    """The SALib package, or SALibMissing when the optional extra is not installed."""
    try:
        return importlib.import_module("SALib")
    except ImportError:
        raise SALibMissing(SALIB_MISSING) from None


def study_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The generators of a study's design (SALib's sampler) and of its bootstrap, spawned from `seed`
    (sim/world/streams.py, the one module that makes random generators)."""
    return screening_rngs(seed)


def check_metric(template: ScenarioTemplate, metric: str) -> None:
    """Refuse (OptionError, exit status 2) a metric the scenario's horizon cannot give, before any run."""
    if metric not in METRICS:
        raise OptionError("--metric", f"unknown metric {metric} (one of: {', '.join(METRICS)})")
    scenario = template.median()
    problem = horizon_problem(metric, scenario.start_date, scenario.end_date)
    if problem:
        raise OptionError("--metric", problem)


def salib_problem(template: ScenarioTemplate) -> dict:
    """SALib's problem: one variable per uncertain input, each on the quantiles [0.1, 0.9]."""
    return {"num_vars": len(template.inputs), "names": [item.key_path for item in template.inputs],
            "bounds": [[LOW_QUANTILE, HIGH_QUANTILE]] * len(template.inputs)}


def run_design(scenario: str | None, overrides: tuple[str, ...], seed: int, metric: str, template: ScenarioTemplate,
               design: np.ndarray, workers: int, dask: str | None, description: str, progress: bool) -> np.ndarray:
    """The metric at every row of `design` (quantiles, one column per input), each row run once
    (a Morris design repeats points; a repeated row is run once and its output reused)."""
    rows = [tuple(float(q) for q in row) for row in design]
    unique = list(dict.fromkeys(rows))
    keys = [item.key_path for item in template.inputs]
    tasks = [(scenario, overrides, seed, metric,
              {key: item.distribution.quantile(q) for key, item, q in zip(keys, template.inputs, row)})
             for row in unique]
    outputs = dict(zip(unique, map_ordered_with_progress(_design_output, tasks, workers, dask, description, progress)))
    return np.array([outputs[row] for row in rows], dtype=float)


def _design_output(task) -> float:
    """The metric of one run with the inputs at the given values."""
    scenario, overrides, seed, metric, values = task
    try:
        return metric_value(metric, run_at(scenario, overrides, seed, values))
    except ScenarioError:
        raise
    except Exception as exc:  # one line naming the run, picklable (it may come back from a pool worker)
        text = " ".join(str(exc).split()) or "no message"
        shown = ", ".join(f"{k}={v:g}" for k, v in values.items())
        raise StudyError(f"the run with {shown} (seed {seed}) failed: {type(exc).__name__}: {text}") from exc


def morris_runs(inputs: int, trajectories: int) -> int:
    """Runs of a Morris design: (k + 1) per trajectory (Morris 1991)."""
    return (inputs + 1) * trajectories


def morris(scenario: str | None, overrides: tuple[str, ...] = (), seed: int = 0, metric: str = "largest_run_flop",
           trajectories: int = 10, levels: int = 4, workers: int = 1, dask: str | None = None,
           progress: bool = False) -> pd.DataFrame:
    """Morris elementary effects of every uncertain input on `metric`, ranked by mu*.

    Morris, "Factorial sampling plans for preliminary computational experiments", Technometrics
    33(2), 1991: `trajectories` one-at-a-time paths through a grid of `levels` levels per input,
    (k + 1) runs each; an input's elementary effect is the change of the output over a step of
    Delta = levels / (2 (levels - 1)) of its range, divided by Delta. mu* (the mean of their absolute
    values; Campolongo, Cariboni & Saltelli, "An effective screening design for sensitivity analysis
    of large models", Environmental Modelling & Software 22(10), 2007) ranks the inputs, in the
    metric's unit per p10..p90 range; sigma (their spread) flags non-linear effects and interactions;
    mu (signed) their direction. mu_star_conf: the half-width of a 95% bootstrap interval of mu*.
    Computed with SALib (SALib.sample.morris, SALib.analyze.morris).
    """
    require_salib()
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    template = load_template(scenario, overrides)
    check_metric(template, metric)
    problem = salib_problem(template)
    design_rng, bootstrap_rng = study_rngs(seed)
    design = sample.sample(problem, trajectories, num_levels=levels, seed=design_rng)
    outputs = run_design(scenario, overrides, seed, metric, template, design, workers, dask, "morris", progress)
    found = analyze.analyze(problem, design, outputs, num_resamples=MORRIS_RESAMPLES, conf_level=CONFIDENCE_LEVEL,
                            num_levels=levels, seed=bootstrap_rng)
    table = pd.DataFrame({"input": problem["names"], "mu_star": np.asarray(found["mu_star"], float),
                          "mu_star_conf": np.asarray(found["mu_star_conf"], float),
                          "sigma": np.asarray(found["sigma"], float), "mu": np.asarray(found["mu"], float),
                          "unit": METRICS[metric].unit}, columns=MORRIS_COLUMNS)
    return table.sort_values(["mu_star", "input"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def sobol_runs(inputs: int, base_samples: int) -> int:
    """Runs of a Saltelli design for first-order and total indices: N (k + 2) (Saltelli et al. 2010)."""
    return base_samples * (inputs + 2)


def sobol(scenario: str | None, overrides: tuple[str, ...] = (), seed: int = 0, metric: str = "largest_run_flop",
          base_samples: int = 64, workers: int = 1, dask: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Sobol variance-based indices of every uncertain input on `metric`, ranked by ST.

    S1 (first order): the share of the output's variance the input explains alone; ST (total): its
    share with every interaction it takes part in (Sobol', "Global sensitivity indices for nonlinear
    mathematical models and their Monte Carlo estimates", Mathematics and Computers in Simulation
    55, 2001). Estimated from Saltelli's cross-sampled design, `base_samples` N scrambled Sobol points
    giving N (k + 2) runs (Saltelli, "Making best use of model evaluations to compute sensitivity
    indices", Computer Physics Communications 145, 2002; Saltelli et al., "Variance based sensitivity
    analysis of model output", Computer Physics Communications 181, 2010, whose estimators SALib uses).
    Second-order indices are not computed: they would double the runs (N (2k + 2)). *_conf: the
    half-width of a 95% bootstrap interval. Computed with SALib (SALib.sample.sobol, SALib.analyze.sobol).
    """
    require_salib()
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    template = load_template(scenario, overrides)
    check_metric(template, metric)
    problem = salib_problem(template)
    design_rng, bootstrap_rng = study_rngs(seed)
    design = sample.sample(problem, base_samples, calc_second_order=False, scramble=True, seed=design_rng)
    outputs = run_design(scenario, overrides, seed, metric, template, design, workers, dask, "sobol", progress)
    if np.ptp(outputs) == 0:  # a constant output has no variance to share out: every index is 0
        zeros = np.zeros(problem["num_vars"])
        found = {"S1": zeros, "S1_conf": zeros, "ST": zeros, "ST_conf": zeros}
    else:
        found = analyze.analyze(problem, outputs, calc_second_order=False, num_resamples=SOBOL_RESAMPLES,
                                conf_level=CONFIDENCE_LEVEL, seed=bootstrap_rng)
    table = pd.DataFrame({"input": problem["names"], **{c: np.asarray(found[c], float) for c in SOBOL_COLUMNS[1:]}},
                         columns=SOBOL_COLUMNS)
    return table.sort_values(["ST", "input"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
