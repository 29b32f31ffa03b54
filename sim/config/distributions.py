"""Uncertain inputs: any number in a scenario may be a distribution instead.

    lead_time_days: {dist: lognormal, p10: 18, p90: 36}

A distribution is a small immutable object (as in Ciw) with `median()`, `quantile(q)` and
`sample(rng)`. Every draw is by inverse transform, `quantile(u)` of one uniform `u` from the
generator, so each input takes exactly one number from the random stream whatever its form: a
replication's draws stay in step when one input's distribution changes (common random numbers).
With `round: true` every value given out (median, quantile, sample) is a whole number (an int),
for keys such as GPU counts.

`find_distributions` lists the distributions in a merged scenario document by key path and
`replace_at` puts numbers in their place. Pure numpy / stdlib (no scipy).
"""
from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, ClassVar

from sim.config.errors import ScenarioError, show, show_number
from sim.config.limits import MAX_SIGMA
from sim.config.special_functions import beta_quantile, normal_cdf

_STD = NormalDist()
Z90 = _STD.inv_cdf(0.9)  # 1.2815515655446004: the 90th percentile of the standard normal


class Distribution(ABC):
    """An uncertain number. Subclasses give `_ppf` (the quantile function, unrounded) and `mean`."""

    kind: ClassVar[str]
    round: bool

    @abstractmethod
    def _ppf(self, q: float) -> float:
        """The quantile function for q in (0, 1), before rounding."""

    @abstractmethod
    def mean(self) -> float:
        """The expected value (before rounding)."""

    def quantile(self, q: float) -> float:
        """The value below which a share `q` (0 < q < 1) of draws fall; an int with `round: true`."""
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantile needs 0 < q < 1, got {q!r}")
        return self._out(self._ppf(q))

    def median(self) -> float:
        """The 50th percentile; an int with `round: true`."""
        return self.quantile(0.5)

    def sample(self, rng) -> float:
        """One draw from a numpy Generator: the quantile of one uniform (inverse transform sampling,
        Devroye 1986, "Non-Uniform Random Variate Generation", ch. 2). Consumes exactly one
        `rng.random()` whatever the distribution."""
        u = float(rng.random())  # in [0, 1)
        if u == 0.0:  # probability 2**-53; the quantile function wants an open interval
            u = 2.0 ** -54
        return self._out(self._ppf(u))

    def _out(self, x: float) -> float:
        return int(math.floor(x + 0.5)) if self.round else float(x)  # round half up, as people do

    def describe(self) -> str:
        """A short text, e.g. 'lognormal(median=25.5, sigma=0.27)'."""
        fields = ", ".join(f"{k}={_fmt(v)}" for k, v in self._params().items())
        return f"{self.kind}({fields}{', round' if self.round else ''})"

    def _params(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "round"}


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Lognormal(Distribution):
    """ln X ~ Normal(mu, sigma), kept as its median m = e^mu (`scale`) and sigma.
    From {p10, p90}: m = sqrt(p10 p90), sigma = ln(p90 / p10) / (2 z90), z90 = Phi^-1(0.9);
    from {median, sigma}: as given. Quantile m exp(sigma Phi^-1(q)); mean m exp(sigma^2 / 2)
    (Johnson, Kotz & Balakrishnan 1994, "Continuous Univariate Distributions" vol. 1, ch. 14)."""

    scale: float  # the median, e^mu
    sigma: float  # sd of ln X
    round: bool = False
    kind: ClassVar[str] = "lognormal"

    @classmethod
    def from_p10_p90(cls, p10: float, p90: float, round: bool = False) -> "Lognormal":
        return cls(math.sqrt(p10) * math.sqrt(p90), math.log(p90 / p10) / (2 * Z90), round)

    @classmethod
    def from_median_sigma(cls, median: float, sigma: float, round: bool = False) -> "Lognormal":
        return cls(median, sigma, round)

    @property
    def mu(self) -> float:
        return math.log(self.scale)

    def _ppf(self, q: float) -> float:
        return self.scale if q == 0.5 else self.scale * math.exp(self.sigma * _STD.inv_cdf(q))

    def mean(self) -> float:
        return self.scale * math.exp(self.sigma ** 2 / 2)

    def _params(self) -> dict:
        return {"median": self.scale, "sigma": self.sigma}


@dataclass(frozen=True)
class Triangular(Distribution):
    """Triangular on [low, high] peaking at mode. With c = (mode - low) / (high - low):
    quantile low + sqrt(q (high - low)(mode - low)) for q < c, else high - sqrt((1 - q)(high - low)(high - mode));
    mean (low + mode + high) / 3 (Evans, Hastings & Peacock 2000, "Statistical Distributions", ch. 40;
    Vose 2008, "Risk Analysis", 3rd ed.)."""

    low: float
    mode: float
    high: float
    round: bool = False
    kind: ClassVar[str] = "triangular"

    def _ppf(self, q: float) -> float:
        width = self.high - self.low
        if q < (self.mode - self.low) / width:
            return self.low + math.sqrt(q * width * (self.mode - self.low))
        return self.high - math.sqrt((1 - q) * width * (self.high - self.mode))

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3


@dataclass(frozen=True)
class Uniform(Distribution):
    """Continuous uniform on [low, high]: quantile low + q (high - low), mean (low + high) / 2
    (Evans, Hastings & Peacock 2000, "Statistical Distributions", ch. 40)."""

    low: float
    high: float
    round: bool = False
    kind: ClassVar[str] = "uniform"

    def _ppf(self, q: float) -> float:
        return self.low + q * (self.high - self.low)

    def mean(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class TruncNormal(Distribution):
    """Normal(mean, sd) restricted to [low, high] (either bound may be absent: None).

    With a = (low - mean) / sd, b = (high - mean) / sd: quantile mean + sd Phi^-1(Phi(a) + q (Phi(b) - Phi(a)));
    mean mean + sd (phi(a) - phi(b)) / (Phi(b) - Phi(a)) (Johnson, Kotz & Balakrishnan 1994, vol. 1,
    ch. 13.10.1). When the interval lies mostly above the mean the same formula is applied to the
    mirrored interval, so both tails keep full precision (`normal_cdf` is computed with erfc).
    """

    mu: float  # the untruncated normal's mean (`mean` in the file)
    sigma: float  # and its sd (`sd`)
    low: float | None = None
    high: float | None = None
    round: bool = False
    kind: ClassVar[str] = "truncnormal"

    def _bounds(self) -> tuple[float, float]:
        a = -math.inf if self.low is None else (self.low - self.mu) / self.sigma
        b = math.inf if self.high is None else (self.high - self.mu) / self.sigma
        return a, b

    def mass(self) -> float:
        """Phi(b) - Phi(a): the share of the untruncated normal inside [low, high]."""
        a, b = self._bounds()
        if a + b > 0:
            a, b = -b, -a
        return normal_cdf(b) - normal_cdf(a)

    def _ppf(self, q: float) -> float:
        a, b = self._bounds()
        if q == 0.5 and (a + b == 0 or math.isinf(a) and math.isinf(b)):
            return self.mu  # symmetric: the median is the mean, exactly
        flip = a + b > 0  # work in the lower tail, where Phi is accurate
        if flip:
            a, b, q = -b, -a, 1 - q
        pa, pb = normal_cdf(a), normal_cdf(b)
        p = pa + q * (pb - pa)
        if p <= 0.0:
            z = a
        elif p >= 1.0:
            z = b
        else:
            z = min(max(_STD.inv_cdf(p), a), b)
        return self.mu + self.sigma * (-z if flip else z)

    def mean(self) -> float:
        a, b = self._bounds()
        pdf = lambda z: 0.0 if math.isinf(z) else _STD.pdf(z)  # noqa: E731
        return self.mu + self.sigma * (pdf(a) - pdf(b)) / self.mass()

    def _params(self) -> dict:
        out = {"mean": self.mu, "sd": self.sigma}
        out.update({k: v for k, v in (("low", self.low), ("high", self.high)) if v is not None})
        return out


@dataclass(frozen=True)
class Pert(Distribution):
    """Beta-PERT on [low, high] with mode `mode` and lambda = 4 (Malcolm, Roseboom, Clark & Fazar 1959,
    "Application of a technique for R&D program evaluation", Operations Research 7(5); Vose 2008,
    "Risk Analysis", 3rd ed., ch. 9): X = low + (high - low) Beta(alpha, beta) with
    alpha = 1 + 4 (mode - low) / (high - low), beta = 1 + 4 (high - mode) / (high - low);
    mean (low + 4 mode + high) / 6.

    The quantile is exact to ~1e-15: bisection on the regularized incomplete beta function, itself
    evaluated by its continued fraction (Press et al. 2007, "Numerical Recipes", 3rd ed., 6.4).
    """

    low: float
    mode: float
    high: float
    round: bool = False
    kind: ClassVar[str] = "pert"
    LAMBDA: ClassVar[float] = 4.0

    @property
    def alpha(self) -> float:
        return 1 + self.LAMBDA * (self.mode - self.low) / (self.high - self.low)

    @property
    def beta(self) -> float:
        return 1 + self.LAMBDA * (self.high - self.mode) / (self.high - self.low)

    def _ppf(self, q: float) -> float:
        return self.low + (self.high - self.low) * beta_quantile(q, self.alpha, self.beta)

    def mean(self) -> float:
        return (self.low + self.LAMBDA * self.mode + self.high) / (self.LAMBDA + 2)


@dataclass(frozen=True)
class Choice(Distribution):
    """One of `values`, with probabilities proportional to `weights` (equal by default): a discrete
    distribution. Quantile q is the smallest value whose cumulative weight reaches q of the total
    (the lower inverse of the CDF, Hyndman & Fan 1996 definition 1); the median is the weighted
    (lower) median."""

    values: tuple
    weights: tuple
    round: bool = False
    kind: ClassVar[str] = "choice"

    def _sorted(self) -> tuple[list, list, float]:
        pairs = sorted(zip(self.values, self.weights), key=lambda p: p[0])
        cum, total = [], 0.0
        for _, w in pairs:
            total += w
            cum.append(total)
        return [v for v, _ in pairs], cum, total

    def _ppf(self, q: float) -> float:
        values, cum, total = self._sorted()
        target = q * total * (1 - 1e-12)  # cumulative sums of decimals (0.1 + 0.2) fall a hair short
        for value, c in zip(values, cum):
            if c >= target and c > 0:
                return value
        return values[-1]

    def mean(self) -> float:
        return sum(v * w for v, w in zip(self.values, self.weights)) / sum(self.weights)


KINDS = {cls.kind: cls for cls in (Lognormal, Triangular, Uniform, TruncNormal, Pert, Choice)}


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
