"""Comparing the two arms of the anchoring experiment (issue 14.6): pure NumPy.

* ``compare_arms``: a statistic in each arm (shown, hidden), their
  difference shown - hidden, and a percentile bootstrap interval of the
  difference. The arms are independent samples by design (each (annotator,
  item) pair was assigned by a hash), so each replicate resamples the units
  of each arm separately (a stratified bootstrap). Units are whatever the
  caller passes: annotations for shares and times, items (count rows) for
  agreement among annotators. The interval ignores clustering by annotator,
  so it is too narrow when a few annotators cast most of the votes.
* ``chi_square_independence``: Pearson's chi-square test of independence of
  a contingency table (arm x label), with Cramér's V as its effect size; the
  p-value comes from ``chi_square_sf``, the chi-square survival function in
  closed form for whole degrees of freedom (no SciPy at run time; the tests
  compare it with ``scipy.stats.chi2.sf``).
* ``cohens_h``: the effect size of a difference between two proportions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from analysis.label_matrix import UndefinedMetric

from .agreement import (
    fleiss_kappa_from_counts,
    gwet_ac1_from_counts,
    krippendorff_alpha_from_counts,
    percent_agreement_from_counts,
)
from .bootstrap import bootstrap_replicates_from_counts

# Bootstrap replicates are drawn in blocks of about this many indices, so
# memory stays bounded on large arms.
_BLOCK = 4_000_000


class ArmComparison(NamedTuple):
    shown: float  # the statistic in the arm shown suggestions
    hidden: float  # ... and in the arm not shown them
    difference: float  # shown - hidden
    low: float  # percentile bootstrap interval of the difference
    high: float
    n_shown: int  # units (annotations or items) in each arm
    n_hidden: int
    level: float
    n_boot: int
    n_undefined: int  # replicates where the statistic was undefined in an arm (left out)


class ChiSquare(NamedTuple):
    statistic: float
    dof: int
    p_value: float
    cramers_v: float  # sqrt(chi2 / (n * (min(rows, columns) - 1))), 0..1
    n: int
    low_expected: int  # cells with an expected count below 5 (the approximation is then rough)


_AGREEMENT = {
    "percent": percent_agreement_from_counts,
    "fleiss": fleiss_kappa_from_counts,
    "alpha": krippendorff_alpha_from_counts,
    "ac1": gwet_ac1_from_counts,
}
_ON_VALUES = ("mean", "median")


def _weighted(distinct: np.ndarray, weights: np.ndarray, statistic: str, n: int) -> np.ndarray:
    """Mean or median per row of `weights` (draws of each distinct value, rows summing to n)."""
    if statistic == "mean":
        return weights @ distinct / n
    cumulative = weights.cumsum(axis=1)
    # np.median's middle ranks (1-based): (n+1)//2 and n//2 + 1, the same rank when n is odd.
    low = (cumulative >= (n + 1) // 2).argmax(axis=1)
    high = (cumulative >= n // 2 + 1).argmax(axis=1)
    return (distinct[low] + distinct[high]) / 2


def _replicates(units: np.ndarray, statistic: str | Callable[[np.ndarray], float], n_boot: int, rng) -> np.ndarray:
    """The statistic on n_boot resamples (with replacement) of `units`' first axis; NaN where undefined.

    Agreement statistics resample count rows through the agreement bootstrap
    (analysis.metrics.bootstrap). A mean or median of values with few
    distinct values (shares are 0/1; times can be rounded) draws how often
    each distinct value is picked, Multinomial(n, frequency / n), which has
    the distribution of resampling indices; otherwise indices are drawn, in
    blocks that bound the memory.
    """
    n = units.shape[0]
    if isinstance(statistic, str) and statistic in _AGREEMENT:
        return bootstrap_replicates_from_counts(units, statistic, n_boot=n_boot, rng=rng)
    out = np.full(n_boot, np.nan)
    if isinstance(statistic, str):
        if statistic not in _ON_VALUES:
            raise ValueError(f"unknown statistic {statistic!r}; use {', '.join([*_ON_VALUES, *_AGREEMENT])}")
        values = units.astype(np.float64)
        distinct, frequency = np.unique(values, return_counts=True)
        if distinct.size * 8 <= n:
            block = max(1, _BLOCK // distinct.size)
            for start in range(0, n_boot, block):
                size = min(block, n_boot - start)
                weights = rng.multinomial(n, frequency / n, size=size)
                out[start : start + size] = _weighted(distinct, weights, statistic, n)
            return out
        reduce = np.mean if statistic == "mean" else np.median
        block = max(1, _BLOCK // n)
        for start in range(0, n_boot, block):
            size = min(block, n_boot - start)
            out[start : start + size] = reduce(values[rng.integers(0, n, size=(size, n))], axis=1)
        return out
    for b in range(n_boot):
        try:
            out[b] = statistic(units[rng.integers(0, n, size=n)])
        except UndefinedMetric:
            pass
    return out


def _point(units: np.ndarray, statistic: str | Callable[[np.ndarray], float], arm: str) -> float:
    if units.shape[0] == 0:
        raise UndefinedMetric(f"the {arm} arm has nothing to measure")
    if statistic == "mean":
        return float(units.mean())
    if statistic == "median":
        return float(np.median(units))
    if isinstance(statistic, str):
        if statistic not in _AGREEMENT:
            raise ValueError(f"unknown statistic {statistic!r}; use {', '.join([*_ON_VALUES, *_AGREEMENT])}")
        return float(_AGREEMENT[statistic](units))
    return float(statistic(units))


def compare_arms(
    shown: Any,
    hidden: Any,
    statistic: str | Callable[[np.ndarray], float] = "mean",
    *,
    n_boot: int = 1000,
    seed: int | None = None,
    level: float = 0.95,
) -> ArmComparison:
    """The statistic in each arm and the bootstrap interval of shown - hidden.

    shown, hidden: arrays whose first axis is the unit resampled: (n,) values
    for "mean" and "median" (0/1 for a share, durations), (n_items, k) vote
    counts for the agreement statistics "percent", "fleiss", "alpha" and
    "ac1"; or a function of such an array returning a float (it may raise
    UndefinedMetric). Replicates where the statistic is undefined in an arm
    are left out and counted in n_undefined. Raises UndefinedMetric when either arm is empty
    or the statistic is undefined on the full data. A fixed `seed` gives
    identical results.
    """
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    shown, hidden = np.asarray(shown), np.asarray(hidden)
    a, b = _point(shown, statistic, "shown"), _point(hidden, statistic, "hidden")
    rng = np.random.default_rng(seed)
    differences = _replicates(shown, statistic, n_boot, rng) - _replicates(hidden, statistic, n_boot, rng)
    defined = differences[np.isfinite(differences)]
    if defined.size:
        low, high = np.quantile(defined, [(1 - level) / 2, (1 + level) / 2])
    else:
        low = high = math.nan
    return ArmComparison(
        shown=a,
        hidden=b,
        difference=a - b,
        low=float(low),
        high=float(high),
        n_shown=int(shown.shape[0]),
        n_hidden=int(hidden.shape[0]),
        level=level,
        n_boot=n_boot,
        n_undefined=int(n_boot - defined.size),
    )


def chi_square_sf(x: float, dof: int) -> float:
    """P(X >= x) for X ~ chi-square with `dof` (a whole number >= 1) degrees of freedom.

    The regularised upper incomplete gamma Q(dof/2, x/2) in closed form:
    even dof: e^(-x/2) sum_{i<dof/2} (x/2)^i / i!; odd dof: erfc(sqrt(x/2))
    plus e^(-x/2) sum_{i=1}^{(dof-1)/2} (x/2)^(i-1/2) / Gamma(i+1/2). The terms
    are built one from the previous, so nothing overflows; exact to a few
    ulps for the small dof a label set gives.
    """
    if int(dof) != dof or dof < 1:
        raise ValueError("dof must be a whole number >= 1")
    if not x > 0:  # also NaN
        return 1.0 if x <= 0 else math.nan
    half = x / 2
    if dof % 2 == 0:
        term = total = math.exp(-half)
        for i in range(1, dof // 2):
            term *= half / i
            total += term
    else:
        total = math.erfc(math.sqrt(half))
        term = math.exp(-half) * math.sqrt(half) / (math.sqrt(math.pi) / 2)  # i = 1: Gamma(3/2) = sqrt(pi)/2
        for i in range(1, (dof - 1) // 2 + 1):
            if i > 1:
                term *= half / (i - 0.5)
            total += term
    return min(1.0, max(0.0, total))


def chi_square_independence(table: Any) -> ChiSquare:
    """Pearson's chi-square test of independence of a (rows, columns) table of counts.

    Rows and columns without any count are dropped (a label nobody chose
    says nothing about the arms); dof = (rows - 1)(columns - 1) of what
    remains. No continuity correction. Raises UndefinedMetric when fewer
    than two rows or two columns have counts.
    """
    counts = np.asarray(table, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError("the table must be 2-D (rows, columns)")
    if counts.size and (counts.min() < 0 or not np.all(np.isfinite(counts))):
        raise ValueError("counts must be finite and >= 0")
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        raise UndefinedMetric("the test needs counts in at least two rows and two columns")
    n = counts.sum()
    expected = counts.sum(axis=1, keepdims=True) * counts.sum(axis=0, keepdims=True) / n
    statistic = float(((counts - expected) ** 2 / expected).sum())
    dof = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    v = math.sqrt(statistic / (n * (min(counts.shape) - 1)))
    return ChiSquare(
        statistic=statistic,
        dof=dof,
        p_value=chi_square_sf(statistic, dof),
        cramers_v=min(1.0, v),
        n=int(n),
        low_expected=int((expected < 5).sum()),
    )


def cohens_h(p_shown: float, p_hidden: float) -> float:
    """Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p2)): about 0.2 small, 0.5 medium, 0.8 large."""
    for p in (p_shown, p_hidden):
        if not 0 <= p <= 1:
            raise ValueError("proportions must be between 0 and 1")
    return 2 * math.asin(math.sqrt(p_shown)) - 2 * math.asin(math.sqrt(p_hidden))
