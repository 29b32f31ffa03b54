"""Uncertain inputs: any number in a scenario may be a distribution instead.

    lead_time_days: {dist: lognormal, p10: 18, p90: 36}

A distribution is a small immutable object (as in Ciw) with `median()`, `quantile(q)` and
`sample(rng)`. Every draw is by inverse transform, `quantile(u)` of one uniform `u` from the
generator, so each input takes exactly one number from the random stream whatever its form: a
replication's draws stay in step when one input's distribution changes (common random numbers).
With `round: true` every value given out (median, quantile, sample) is a whole number (an int),
for keys such as GPU counts.

Reading them from a scenario document is sim/config/distribution_specs.py. Pure numpy / stdlib
(no scipy).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, ClassVar

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
