"""Bootstrap confidence intervals over items, and the dashboard's agreement
summary, which draws one bootstrap for all four statistics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from analysis.label_matrix import UndefinedMetric
from analysis.label_matrix import as_labels as _as_labels

from .agreement import (
    as_counts,
    counts_from_labels,
    fleiss_kappa_from_counts,
    from_sums,
    gwet_ac1_from_counts,
    item_features,
    krippendorff_alpha_from_counts,
    landis_koch,
    percent_agreement_from_counts,
)


class ConfidenceInterval(NamedTuple):
    estimate: float  # the statistic on the full data
    low: float
    high: float
    level: float  # e.g. 0.95
    n_boot: int
    n_undefined: int  # replicates where the statistic was 0/0 (left out of the percentiles)


_BOOTSTRAP_STATISTICS = ("percent", "fleiss", "alpha", "ac1")
_POINT_FUNCTIONS = {
    "percent": percent_agreement_from_counts,
    "fleiss": fleiss_kappa_from_counts,
    "alpha": krippendorff_alpha_from_counts,
    "ac1": gwet_ac1_from_counts,
}


def _bootstrap_sums(rated: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Feature sums of ``n_boot`` item resamples, shape (n_boot, 5 + 2k).

    rated: (n, k) count rows of the items with at least one vote. A resample
    draws n items with replacement; only how often each distinct count row
    is drawn matters, so rows are grouped first. With few distinct rows (5
    raters x 7 categories allow at most 462) the number of draws per row is
    sampled directly as Multinomial(n, frequency / n), which has exactly the
    distribution of resampling item indices; otherwise item indices are
    drawn and counted.
    """
    n, k = rated.shape
    base = int(rated.max()) + 1
    if k * np.log2(base) < 62:
        # A mixed-radix code per row (one int64 per item) makes the grouping a 1-D sort.
        code = rated @ (base ** np.arange(k, dtype=np.int64))
        _, first, inverse, frequency = np.unique(code, return_index=True, return_inverse=True, return_counts=True)
        patterns = rated[first]
    else:
        patterns, inverse, frequency = np.unique(rated, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    features = item_features(patterns)
    n_patterns = patterns.shape[0]
    if n_patterns * 8 <= n:
        # Batches keep the (batch, n_patterns) weight matrix near 4M entries.
        batch = max(1, 4_000_000 // n_patterns)
        parts = [
            rng.multinomial(n, frequency / n, size=min(batch, n_boot - start)) @ features
            for start in range(0, n_boot, batch)
        ]
        return np.concatenate(parts)
    sums = np.empty((n_boot, features.shape[1]))
    for b in range(n_boot):
        weights = np.bincount(inverse[rng.integers(0, n, size=n)], minlength=n_patterns)
        sums[b] = np.einsum("p,pd->d", weights, features)
    return sums


def _interval(estimate: float, replicates: np.ndarray, level: float, statistic: str) -> ConfidenceInterval:
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        raise UndefinedMetric(f"bootstrap CI of {statistic} is undefined: it was 0/0 in every resample")
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return ConfidenceInterval(
        float(estimate), float(low), float(high), float(level), int(replicates.size), int(replicates.size - finite.size)
    )


def _check_bootstrap_args(statistics: Iterable[str], n_boot: int, level: float) -> None:
    for statistic in statistics:
        if statistic not in _BOOTSTRAP_STATISTICS:
            raise ValueError(f"unknown statistic {statistic!r}; use one of {', '.join(_BOOTSTRAP_STATISTICS)}")
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")


def bootstrap_ci_from_counts(
    counts: Any,
    statistic: str = "fleiss",
    *,
    n_boot: int = 1000,
    seed: int | None = None,
    level: float = 0.95,
) -> ConfidenceInterval:
    """Percentile bootstrap confidence interval over items, from a (n_items, k) count matrix.

    statistic: "fleiss" (kappa), "alpha" (nominal Krippendorff), "ac1" or
    "percent". Items without votes are dropped; each of the n_boot
    replicates resamples the remaining n items with replacement (one-vote
    items included: they count in the chance terms of Fleiss and AC1) and
    recomputes the statistic from their count rows; the interval is the
    (1 - level) / 2 and (1 + level) / 2 quantiles of the replicates. A fixed
    ``seed`` gives identical results. Replicates where the statistic is 0/0
    (e.g. only one category drawn) are counted in n_undefined and left out.
    Raises UndefinedMetric when the point estimate is undefined.

    Cost: O(n) to group the count rows, then O(n_boot x distinct rows) when
    rows repeat (the usual case: well under a second for 200k items and
    1000 replicates), or O(n_boot x n) when most rows are distinct.
    """
    _check_bootstrap_args([statistic], n_boot, level)
    array = as_counts(counts)
    estimate = _POINT_FUNCTIONS[statistic](array)
    sums = _bootstrap_sums(array[array.sum(axis=1) >= 1], n_boot, np.random.default_rng(seed))
    return _interval(estimate, from_sums(sums, statistic), level, statistic)


def bootstrap_replicates_from_counts(
    counts: Any, statistic: str, *, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """The statistic ("percent", "fleiss", "alpha" or "ac1") on each of n_boot
    item resamples of a (n_items, k) count matrix, shape (n_boot,), NaN where
    0/0; items without votes are dropped first. The same resampling as
    bootstrap_ci_from_counts, for callers that combine replicates (e.g. a
    difference between two independent samples)."""
    _check_bootstrap_args([statistic], n_boot, 0.95)
    array = as_counts(counts)
    rated = array[array.sum(axis=1) >= 1]
    if rated.shape[0] == 0:
        return np.full(n_boot, np.nan)
    return from_sums(_bootstrap_sums(rated, n_boot, rng), statistic)


def bootstrap_ci(
    labels: Any,
    statistic: str = "fleiss",
    *,
    n_categories: int | None = None,
    n_boot: int = 1000,
    seed: int | None = None,
    level: float = 0.95,
) -> ConfidenceInterval:
    """Bootstrap CI over items for a label matrix; see bootstrap_ci_from_counts."""
    return bootstrap_ci_from_counts(
        counts_from_labels(labels, n_categories), statistic, n_boot=n_boot, seed=seed, level=level
    )


# ---------------------------------------------------------------------------
# Dashboard summary


def _entry(statistic: str, counts: np.ndarray, intervals: Mapping[str, ConfidenceInterval]) -> dict:
    """One metric of the summary: value and CI, or None with the reason."""
    try:
        value = _POINT_FUNCTIONS[statistic](counts)
    except UndefinedMetric as error:
        return {"value": None, "ci_low": None, "ci_high": None, "n_boot_undefined": None, "reason": str(error)}
    interval = intervals.get(statistic)
    return {
        "value": value,
        "ci_low": None if interval is None else interval.low,
        "ci_high": None if interval is None else interval.high,
        "n_boot_undefined": None if interval is None else interval.n_undefined,
        "reason": None,
    }


def agreement_summary_from_counts(
    counts: Any, *, n_boot: int = 1000, seed: int | None = 0, level: float = 0.95
) -> dict:
    """All agreement statistics of one task for the dashboard, from a (n_items, k) count matrix.

    Returns a JSON-ready dict:
      n_items: rows given; n_items_used: items with >= 2 votes;
      n_items_excluded: items with < 2 votes (of which n_items_no_votes have none);
      n_votes, n_categories, votes_per_item_min / _max (over used items),
      equal_votes: whether every used item has the same number of votes (if
        not, Fleiss' kappa is the generalised form, see fleiss_kappa_from_counts);
      percent, fleiss, alpha, ac1: {"value", "ci_low", "ci_high",
        "n_boot_undefined", "reason"}; fleiss also has "band" (Landis-Koch). An undefined metric has value
        None and the UndefinedMetric message as its reason, so one degenerate
        task does not break the page. CIs come from one shared bootstrap
        (n_boot resamples of items, ``seed``; n_boot=0 skips it).
    """
    array = as_counts(counts)
    votes = array.sum(axis=1)
    used = votes >= 2
    summary: dict[str, Any] = {
        "n_items": int(array.shape[0]),
        "n_items_used": int(used.sum()),
        "n_items_excluded": int((~used).sum()),
        "n_items_no_votes": int((votes == 0).sum()),
        "n_votes": int(votes.sum()),
        "n_categories": int(array.shape[1]),
        "votes_per_item_min": int(votes[used].min()) if used.any() else None,
        "votes_per_item_max": int(votes[used].max()) if used.any() else None,
        "equal_votes": bool(used.any() and votes[used].min() == votes[used].max()),
        "n_boot": int(n_boot),
        "seed": seed,
        "level": float(level),
    }
    intervals: dict[str, ConfidenceInterval] = {}
    if n_boot > 0 and used.any():
        _check_bootstrap_args(_BOOTSTRAP_STATISTICS, n_boot, level)
        sums = _bootstrap_sums(array[votes >= 1], n_boot, np.random.default_rng(seed))
        for statistic in _BOOTSTRAP_STATISTICS:
            replicates = from_sums(sums, statistic)
            if np.isfinite(replicates).any():
                intervals[statistic] = _interval(np.nan, replicates, level, statistic)
    for statistic in _BOOTSTRAP_STATISTICS:
        summary[statistic] = _entry(statistic, array, intervals)
    fleiss = summary["fleiss"]["value"]
    summary["fleiss"]["band"] = None if fleiss is None else landis_koch(fleiss)
    return summary


def agreement_summary(
    labels: Any,
    n_categories: int | None = None,
    n_boot: int = 1000,
    seed: int | None = 0,
    *,
    level: float = 0.95,
) -> dict:
    """All agreement statistics of one task's (n_items, n_raters) label matrix for the dashboard.

    Same dict as agreement_summary_from_counts, plus n_raters.
    """
    array, k = _as_labels(labels, n_categories)
    summary = agreement_summary_from_counts(counts_from_labels(array, k), n_boot=n_boot, seed=seed, level=level)
    summary["n_raters"] = int(array.shape[1])
    return summary
