"""Distributions written in a scenario document: `{dist: lognormal, p10: 18, p90: 36}` in place of a
number. `parse_distribution` turns such a mapping into a Distribution (sim/config/distributions.py),
refusing a bad one with its file and key path; `find_distributions` lists them in a merged document
by key path and `replace_at` puts numbers in their place.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from sim.config.distributions import Choice, Distribution, Lognormal, Pert, Triangular, TruncNormal, Uniform
from sim.config.errors import ScenarioError, show, show_number
from sim.config.limits import MAX_SIGMA

# --- parsing ---------------------------------------------------------------------------------

PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # kind: (required, optional)
    "lognormal": ((), ("p10", "p90", "median", "sigma")),  # one of two pairs, checked below
    "triangular": (("low", "mode", "high"), ()),
    "uniform": (("low", "high"), ()),
    "truncnormal": (("mean", "sd"), ("low", "high")),
    "pert": (("low", "mode", "high"), ()),
    "choice": (("values",), ("weights",)),
}


def parse_distribution(spec: dict, file: str, key_path: str) -> Distribution:
    """The distribution a mapping such as `{dist: lognormal, p10: 18, p90: 36}` describes.

    Any problem (an unknown name, a missing or unknown parameter, a parameter that is not a finite
    number, parameters out of order) is a ScenarioError(file, key_path, problem).
    """
    def fail(problem: str) -> ScenarioError:
        return ScenarioError(file, key_path, problem)

    if not isinstance(spec, dict) or "dist" not in spec:
        raise fail("a distribution is a mapping with a `dist` key")
    name = spec["dist"]
    kind = name.strip().lower() if isinstance(name, str) else None
    if kind not in PARAMS:
        raise fail(f"unknown distribution {show(name)} (one of: {', '.join(PARAMS)})")
    rounding = spec.get("round", False)
    if not isinstance(rounding, bool):
        raise fail(f"{kind} round should be true or false (got {show(rounding)})")
    required, optional = PARAMS[kind]
    params = {k: v for k, v in spec.items() if k not in ("dist", "round")}
    for key in params:
        if key not in required + optional:
            takes = ", ".join([*required, *optional, "round"])
            raise fail(f"{kind} has no parameter {show(key)} (it takes {takes})")
    missing = [k for k in required if k not in params]
    if missing:
        raise fail(f"{kind} is missing {', '.join(missing)} (it needs {', '.join(required)})")
    if kind == "choice":
        return _parse_choice(params, rounding, fail)
    p = {k: _number(kind, k, v, fail) for k, v in params.items()}

    if kind == "lognormal":
        if set(p) == {"p10", "p90"}:
            if p["p10"] <= 0:
                raise fail(f"lognormal p10 must be greater than 0 (got {p['p10']:g})")
            if p["p10"] >= p["p90"]:
                raise fail(f"lognormal p10 must be below p90 (got p10={p['p10']:g}, p90={p['p90']:g})")
            return _bounded(Lognormal.from_p10_p90(p["p10"], p["p90"], rounding), fail)
        if set(p) == {"median", "sigma"}:
            if p["median"] <= 0:
                raise fail(f"lognormal median must be greater than 0 (got {p['median']:g})")
            if p["sigma"] <= 0:
                raise fail(f"lognormal sigma must be greater than 0 (got {p['sigma']:g})")
            return _bounded(Lognormal.from_median_sigma(p["median"], p["sigma"], rounding), fail)
        given = ", ".join(p) or "nothing"
        raise fail(f"lognormal needs p10 and p90, or median and sigma (got {given})")
    if kind in ("triangular", "pert"):
        low, mode, high = p["low"], p["mode"], p["high"]
        if low >= high:
            raise fail(f"{kind} low must be below high (got low={low:g}, high={high:g})")
        if not low <= mode <= high:
            raise fail(f"{kind} mode must be between low and high (got low={low:g}, mode={mode:g}, high={high:g})")
        return (Triangular if kind == "triangular" else Pert)(low, mode, high, rounding)
    if kind == "uniform":
        if p["low"] >= p["high"]:
            raise fail(f"uniform low must be below high (got low={p['low']:g}, high={p['high']:g})")
        return Uniform(p["low"], p["high"], rounding)
    # truncnormal
    if p["sd"] <= 0:
        raise fail(f"truncnormal sd must be greater than 0 (got {p['sd']:g})")
    low, high = p.get("low"), p.get("high")
    if low is not None and high is not None and low >= high:
        raise fail(f"truncnormal low must be below high (got low={low:g}, high={high:g})")
    dist = TruncNormal(p["mean"], p["sd"], low, high, rounding)
    if not dist.mass() > 0:
        raise fail("truncnormal low and high leave no probability (they are too many sd from the mean)")
    return dist


def _bounded(dist: "Lognormal", fail) -> "Lognormal":
    if not dist.sigma <= MAX_SIGMA:  # (nan or too wide)
        raise fail(f"lognormal spread too wide: sigma {show_number(dist.sigma)}, at most {MAX_SIGMA:g} "
                   "(p90 at most 1.4e11 times p10)")
    return dist


def _number(kind: str, key: str, value: Any, fail) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise fail(f"{kind} {key} should be a number (got {show(value)})")
    if not math.isfinite(value):
        raise fail(f"{kind} {key} should be a finite number (got {show(value)})")
    return float(value)


def _parse_choice(params: dict, rounding: bool, fail) -> Choice:
    values = params["values"]
    if not isinstance(values, list):
        raise fail(f"choice values should be a list of numbers (got {show(values)})")
    if not values:
        raise fail("choice values must hold at least one value")
    nums = tuple(_number("choice", f"values[{i}]", v, fail) for i, v in enumerate(values))
    weights = params.get("weights")
    if weights is None:
        return Choice(nums, (1.0,) * len(nums), rounding)
    if not isinstance(weights, list):
        raise fail(f"choice weights should be a list of numbers (got {show(weights)})")
    if len(weights) != len(nums):
        raise fail(f"choice has {len(nums)} values but {len(weights)} weights")
    ws = tuple(_number("choice", f"weights[{i}]", w, fail) for i, w in enumerate(weights))
    if any(w < 0 for w in ws):
        raise fail("choice weights must not be negative")
    if sum(ws) <= 0:
        raise fail("choice weights must not all be zero")
    return Choice(nums, ws, rounding)


# --- distributions inside a scenario document -------------------------------------------------

def is_distribution(value: Any) -> bool:
    """A mapping with a `dist` key stands for a distribution. (A mapping whose `dist` entry is itself
    a mapping is a section with something named 'dist' in it, not a distribution.)"""
    return isinstance(value, dict) and "dist" in value and not isinstance(value["dist"], (dict, list))


def find_distributions(doc: Any) -> list[tuple[tuple, dict]]:
    """(key path, spec) of every distribution in a merged scenario document, in document order.

    Paths hold mapping keys as they are (dates as dates) and list indices as ints. The walk does not
    go inside a distribution.
    """
    found: list[tuple[tuple, dict]] = []

    def walk(node: Any, path: tuple) -> None:
        if is_distribution(node):
            found.append((path, node))
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, path + (i,))

    walk(doc, ())
    return found


def replace_at(doc: dict, values: dict[tuple, float]) -> dict:
    """A copy of `doc` with the value at each key path replaced by its number. The input is not
    changed: mappings and lists on the way to a replaced value are copied, the rest is shared."""
    def put(node: Any, path: tuple, value: float) -> Any:
        if not path:
            return value
        head, rest = path[0], path[1:]
        if isinstance(node, dict):
            if head not in node:
                raise KeyError(f"no key {head!r} on the way to a distribution")
            out = dict(node)
        elif isinstance(node, list) and isinstance(head, int) and 0 <= head < len(node):
            out = list(node)
        else:
            raise KeyError(f"no item {head!r} on the way to a distribution")
        out[head] = put(node[head], rest, value)
        return out

    result = doc
    for path, value in values.items():
        if not path:
            raise KeyError("an empty key path")
        result = put(result, tuple(path), value)
    if result is doc:
        result = dict(doc)
    return result
