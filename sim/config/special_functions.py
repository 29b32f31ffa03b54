"""Special functions the distributions need, without scipy: the normal CDF with full tail
precision, and the regularized incomplete beta function and its inverse (for PERT)."""
from __future__ import annotations

import math


def normal_cdf(z: float) -> float:
    """The standard normal CDF, Phi(z) = erfc(-z / sqrt 2) / 2 (Abramowitz & Stegun 1964, 26.2.29).
    Written with erfc, unlike statistics.NormalDist.cdf (1 + erf), so the lower tail keeps full
    relative precision (Phi(-10) = 7.6e-24, not 0)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction for I_x(a, b), modified Lentz's method (Numerical Recipes 3rd ed., 6.4 betacf)."""
    tiny, eps = 1e-300, 1e-16
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1) < eps:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b): the Beta(a, b) CDF at x
    (Numerical Recipes 3rd ed., 6.4: the continued fraction, on whichever side converges fast)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, 1 - x) / b


def beta_quantile(q: float, a: float, b: float) -> float:
    """x with I_x(a, b) = q: Newton's method on the CDF, kept inside a shrinking bracket and falling
    back to bisection when a step would leave it (Numerical Recipes 3rd ed., 6.14.11 and 9.4, rtsafe).
    Deterministic; stops when a step changes x by less than 1e-15 of x (exact to ~1e-15)."""
    if a == b and q >= 0.5:  # symmetric: exact at the median, mirrored above it
        return 0.5 if q == 0.5 else 1.0 - beta_quantile(1.0 - q, a, b)
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    lo, hi, x = 0.0, 1.0, a / (a + b)  # start at the mean
    for _ in range(200):
        f = beta_cdf(x, a, b) - q
        if f == 0.0:
            return x
        if f < 0.0:
            lo = x
        else:
            hi = x
        pdf = math.exp(log_norm + (a - 1) * math.log(x) + (b - 1) * math.log1p(-x))
        step = x - f / pdf if pdf > 0.0 else -1.0
        nxt = step if lo < step < hi else (lo + hi) / 2
        if abs(nxt - x) <= 1e-15 * nxt or nxt in (lo, hi):
            return nxt
        x = nxt
    return x
