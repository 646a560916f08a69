"""Inter-annotator agreement and classification metrics as pure NumPy functions.

No Django here: a selector turns votes into arrays and these functions turn
arrays into numbers (STYLE.md, "Pure computation has no Django imports").

Two input shapes are used throughout:

* ``labels``: int array of shape (n_items, n_raters); entry [i, r] is the
  category index (0..k-1) annotator r gave item i, or -1 when r did not vote.
  Floats are accepted too, with NaN (or -1) for a missing vote.
* ``counts``: int array of shape (n_items, k); entry [i, c] is how many
  annotators put item i in category c (``counts_from_labels`` builds it, and a
  SQL ``GROUP BY item, label`` gives it directly). The ``*_from_counts``
  functions take this shape.

``n_categories`` (k) defaults to max label + 1. Pass the size of the task's
label set (7 for desire, 3 for sentiment, 6 for emotion in MSED): Gwet's AC1
and the per-category arrays depend on it.

Conventions shared by the agreement statistics:

* m_i = number of votes on item i. Items with m_i < 2 cannot contribute to
  pairwise agreement; they are excluded from it and ``agreement_summary``
  reports how many. Following Gwet, a one-vote item still counts in the
  category prevalences of the chance terms of Fleiss' kappa (unequal votes)
  and AC1; Krippendorff's alpha ignores it entirely, by its definition.
* A value that does not exist for the input (no items, no item with two
  votes, only one category used where the chance term makes the formula
  0/0) raises ``UndefinedMetric`` with the reason as its message; scalar
  functions never return NaN or a silent 0. Functions that return arrays
  (per-category kappa, pairwise matrices) put NaN in the undefined cells.
* Every computation is vectorised over items; loops run over raters,
  categories or bootstrap replicates only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from analysis.label_matrix import UndefinedMetric
from analysis.label_matrix import as_labels as _as_labels
from analysis.reliability import DawidSkeneResult, MaceResult, dawid_skene, mace
from analysis.text import STOP_WORDS, tokenize

__all__ = [
    "UndefinedMetric",
    "ConfidenceInterval",
    "MajorityGold",
    "LeaveOneOut",
    "PairwiseCohen",
    "ModalityDifference",
    "counts_from_labels",
    "percent_agreement",
    "percent_agreement_from_counts",
    "fleiss_kappa",
    "fleiss_kappa_from_counts",
    "fleiss_kappa_per_category",
    "fleiss_kappa_per_category_from_counts",
    "cohen_kappa",
    "pairwise_cohen",
    "krippendorff_alpha",
    "krippendorff_alpha_from_counts",
    "gwet_ac1",
    "gwet_ac1_from_counts",
    "bootstrap_ci",
    "bootstrap_ci_from_counts",
    "landis_koch",
    "majority_gold",
    "majority_gold_from_counts",
    "leave_one_out_agreement",
    "label_confusion",
    "label_confusion_from_counts",
    "modality_difference",
    "classification_metrics",
    "keywords",
    "agreement_summary",
    "agreement_summary_from_counts",
    # annotator reliability models, defined in analysis.reliability
    "DawidSkeneResult",
    "MaceResult",
    "dawid_skene",
    "mace",
]


# ---------------------------------------------------------------------------
# Input handling


def _as_counts(counts: Any) -> np.ndarray:
    """Validate a (n_items, k) matrix of non-negative vote counts; return it as int64."""
    array = np.asarray(counts)
    if array.ndim != 2:
        raise ValueError(f"counts must be 2-D (n_items, n_categories), got shape {array.shape}")
    if array.dtype.kind == "f" and np.any(np.mod(array, 1) != 0):
        raise ValueError("counts must be whole numbers")
    array = array.astype(np.int64, copy=False)
    if array.size and array.min() < 0:
        raise ValueError("counts must be >= 0")
    return array


def counts_from_labels(labels: Any, n_categories: int | None = None) -> np.ndarray:
    """Category counts per item.

    labels: (n_items, n_raters) category indices, -1 (or NaN) = missing vote.
    Returns an int64 array of shape (n_items, k) whose [i, c] entry is the
    number of raters who put item i in category c; its row sums are the
    numbers of votes per item.
    """
    array, k = _as_labels(labels, n_categories)
    n_items = array.shape[0]
    # One bincount over (item, category) cells is a single pass over the votes.
    cells = (np.arange(n_items, dtype=np.int64)[:, None] * k + array).ravel()
    if array.size and array.min() < 0:
        cells = cells[array.ravel() >= 0]
    return np.bincount(cells, minlength=n_items * k).reshape(n_items, k)


def _check_pairable(votes: np.ndarray) -> None:
    """Raise UndefinedMetric unless some item has two votes; votes = per-item vote totals."""
    if votes.shape[0] == 0:
        raise UndefinedMetric("no items: agreement needs at least one item with two votes")
    if not np.any(votes >= 2):
        raise UndefinedMetric(
            f"no item has at least 2 votes ({votes.shape[0]} items excluded): "
            "agreement needs two annotators on the same item"
        )


def _require_variation(category_totals: np.ndarray, metric: str) -> None:
    used = np.flatnonzero(category_totals)
    if used.size < 2:
        raise UndefinedMetric(
            f"{metric} is undefined: every vote is for category {int(used[0])}, so the "
            "chance-agreement term is 1 and the formula is 0/0"
        )


# ---------------------------------------------------------------------------
# Per-item features. Every agreement statistic here is a function of sums over
# items of a few per-item numbers, which is what makes the bootstrap cheap: a
# resample only changes how often each item's row is summed.

_RATED, _PAIRABLE, _P, _M, _O, _FIRST = 0, 1, 2, 3, 4, 5  # then k proportions, then k pairable counts


def _features(counts: np.ndarray) -> np.ndarray:
    """Per-item feature rows, shape (n_items, 5 + 2k), for items with >= 1 vote.

    Columns: 1; pairable = [m_i >= 2]; P_i = sum_c n_ic (n_ic - 1) / (m_i (m_i - 1))
    (share of agreeing ordered rater pairs); m_i; o_i = sum_c n_ic (n_ic - 1) / (m_i - 1)
    (the item's share of the diagonal of Krippendorff's coincidence matrix);
    n_ic / m_i for each c; n_ic for each c. All but the first column and the
    proportions are 0 on one-vote items, which only inform category prevalence.
    """
    counts = counts.astype(np.float64)
    m = counts.sum(axis=1)
    pairable = (m >= 2).astype(np.float64)
    pairs = np.maximum(m - 1, 1)  # one-vote items have no pairs; avoid 0/0, their terms are 0 anyway
    same = (counts * (counts - 1)).sum(axis=1)
    return np.column_stack(
        [
            np.ones_like(m),
            pairable,
            same / (m * pairs),
            m * pairable,
            same / pairs,
            counts / m[:, None],
            counts * pairable[:, None],
        ]
    )


def _feature_sums(counts: np.ndarray) -> np.ndarray:
    """The column sums of ``_features`` over the rows with >= 1 vote, shape (5 + 2k,).

    Computed with matrix-vector products instead of building the
    (n_items, 5 + 2k) matrix, which is most of the cost on 200k items.
    Raises UndefinedMetric unless some item has two votes.
    """
    # Reductions go through einsum: ndarray.sum along a 7-wide axis is several
    # times slower, and BLAS (@) spawns threads that only add jitter on a
    # shared 2-core machine for these memory-bound sums.
    votes = np.einsum("ij->i", counts)
    _check_pairable(votes)
    if votes.min() == votes.max():
        # Every item has the same m (the usual design, 5 votes per item in
        # MSED): every per-item weight is a constant, so integer column sums
        # and one sum of squares give all the sums, with no float copy.
        m = int(votes[0])
        n = counts.shape[0]
        same = float(np.einsum("ij,ij->", counts, counts) - n * m)
        column = np.einsum("ij->j", counts).astype(np.float64)
        return np.concatenate([[n, n, same / (m * (m - 1)), n * m, same / (m - 1)], column / m, column])
    as_float = counts.astype(np.float64)
    m = votes.astype(np.float64)
    rated, pairable = m >= 1, m >= 2
    same = np.einsum("ij,ij->i", as_float, as_float) - m  # sum_c n_ic (n_ic - 1)
    inverse_m = np.divide(1.0, m, out=np.zeros_like(m), where=rated)
    inverse_pairs = np.divide(1.0, m - 1, out=np.zeros_like(m), where=pairable)
    pairable_weight = pairable.astype(np.float64)
    head = [
        rated.sum(),
        pairable.sum(),
        np.einsum("i,i,i->", same, inverse_m, inverse_pairs),
        np.einsum("i,i->", m, pairable_weight),
        np.einsum("i,i->", same, inverse_pairs),
    ]
    return np.concatenate(
        [head, np.einsum("i,ij->j", inverse_m, as_float), np.einsum("i,ij->j", pairable_weight, as_float)]
    )


def _from_sums(sums: np.ndarray, statistic: str) -> np.ndarray:
    """Evaluate a statistic from feature sums of shape (..., 5 + 2k); NaN where 0/0."""
    k = (sums.shape[-1] - _FIRST) // 2
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = sums[..., _P] / sums[..., _PAIRABLE]
        if statistic == "percent":
            return observed
        prevalence = sums[..., _FIRST : _FIRST + k] / sums[..., _RATED, None]
        totals = sums[..., _FIRST + k :]
        if statistic == "fleiss":
            expected = (prevalence**2).sum(axis=-1)
            value = (observed - expected) / (1 - expected)
            # The chance term is 1, and the formula 0/0, exactly when one category holds every vote.
            return np.where((prevalence > 0).sum(axis=-1) >= 2, value, np.nan)
        if statistic == "alpha":
            n = sums[..., _M]
            same_expected = (totals * (totals - 1)).sum(axis=-1)
            value = ((n - 1) * sums[..., _O] - same_expected) / (n * (n - 1) - same_expected)
            return np.where((totals > 0).sum(axis=-1) >= 2, value, np.nan)
        if statistic == "ac1":
            if k < 2:
                return np.full(observed.shape, np.nan)
            expected = (prevalence * (1 - prevalence)).sum(axis=-1) / (k - 1)
            return (observed - expected) / (1 - expected)
    raise ValueError(f"unknown statistic {statistic!r}; use percent, fleiss, alpha or ac1")


# ---------------------------------------------------------------------------
# Agreement statistics


def percent_agreement_from_counts(counts: Any) -> float:
    """Percent agreement (as a share 0..1) from a (n_items, k) count matrix.

    Hunt (1986), as used by MSED section 3.4: for item i with m_i >= 2 votes,
    P_i = sum_c n_ic (n_ic - 1) / (m_i (m_i - 1)) is the share of ordered pairs
    of its annotators that chose the same category; the result is the
    unweighted mean of P_i over those items (equal to Fleiss's P-bar when
    every item has the same number of votes). Defined with one category only
    (it is then 1).
    """
    return float(_from_sums(_feature_sums(_as_counts(counts)), "percent"))


def percent_agreement(labels: Any, *, n_categories: int | None = None) -> float:
    """Percent agreement of a (n_items, n_raters) label matrix; see percent_agreement_from_counts."""
    return percent_agreement_from_counts(counts_from_labels(labels, n_categories))


def fleiss_kappa_from_counts(counts: Any) -> float:
    """Fleiss' kappa (Fleiss 1971) from a (n_items, k) count matrix.

    kappa = (P_bar - P_e) / (1 - P_e) with P_bar = the percent agreement (mean
    of P_i over items with m_i >= 2 votes, see percent_agreement_from_counts)
    and P_e = sum_c p_c^2, p_c = mean over items with at least one vote of
    n_ic / m_i.

    With the same number of votes m on every item, p_c is the share of all
    votes in category c: exactly Fleiss (1971) and statsmodels'
    ``fleiss_kappa``. With unequal numbers of votes this is Gwet's
    generalised Fleiss kappa for missing ratings (Handbook of Inter-Rater
    Reliability; R irrCAC ``fleiss.kappa.raw``): items with a
    single vote take no part in P_bar, but, as in Gwet, still count in the
    category prevalences p_c.

    Perfect agreement gives 1 when at least two categories occur; when every
    vote is for one category P_e = 1 and UndefinedMetric is raised.
    """
    sums = _feature_sums(_as_counts(counts))
    _require_variation(sums[_FIRST : (sums.size + _FIRST) // 2], "Fleiss' kappa")
    return float(_from_sums(sums, "fleiss"))


def fleiss_kappa(labels: Any, *, n_categories: int | None = None) -> float:
    """Fleiss' kappa of a (n_items, n_raters) label matrix; see fleiss_kappa_from_counts."""
    return fleiss_kappa_from_counts(counts_from_labels(labels, n_categories))


def fleiss_kappa_per_category_from_counts(counts: Any) -> np.ndarray:
    """Fleiss' kappa of each category against all others, shape (k,).

    kappa_c = 1 - mean_i[n_ic (m_i - n_ic) / (m_i (m_i - 1))] / (p_c (1 - p_c)),
    the mean over items with m_i >= 2 and p_c as in fleiss_kappa_from_counts
    (Fleiss 1971, for constant m). It equals Fleiss' kappa of the
    table collapsed to "c" vs "not c", so the same generalisation covers
    unequal numbers of votes. A category never or always chosen
    (p_c in {0, 1}) gets NaN; if that holds for every category (one
    category used), UndefinedMetric is raised.
    """
    array = _as_counts(counts)
    sums = _feature_sums(array)
    k = array.shape[1]
    _require_variation(sums[_FIRST : _FIRST + k], "Fleiss' kappa per category")
    prevalence = sums[_FIRST : _FIRST + k] / sums[_RATED]
    values = array.astype(np.float64)
    m = np.einsum("ij->i", values)
    weight = np.divide(1.0, m * (m - 1), out=np.zeros_like(m), where=m >= 2)
    disagreement = np.einsum("i,ij,ij->j", weight, values, m[:, None] - values) / sums[_PAIRABLE]
    chance = prevalence * (1 - prevalence)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(chance > 0, 1 - disagreement / chance, np.nan)


def fleiss_kappa_per_category(labels: Any, *, n_categories: int | None = None) -> np.ndarray:
    """Per-category Fleiss' kappa of a label matrix, shape (k,); see fleiss_kappa_per_category_from_counts."""
    return fleiss_kappa_per_category_from_counts(counts_from_labels(labels, n_categories))


def krippendorff_alpha_from_counts(counts: Any) -> float:
    """Krippendorff's alpha for nominal data from a (n_items, k) count matrix.

    Krippendorff (2011), "Computing Krippendorff's alpha-reliability": only
    items with m_i >= 2 values are pairable, and only they count. With the
    coincidence diagonal o_cc = sum_i n_ic (n_ic - 1) / (m_i - 1),
    n_c = sum_i n_ic and n = sum_c n_c (sums over pairable items),
        alpha = 1 - D_o / D_e
              = ((n - 1) sum_c o_cc - sum_c n_c (n_c - 1)) / (n (n - 1) - sum_c n_c (n_c - 1)).
    Any number of votes per item is allowed. When the pairable values are
    all one category D_e = 0 and UndefinedMetric is raised (as the
    ``krippendorff`` package does; NLTK returns 1 instead).
    """
    sums = _feature_sums(_as_counts(counts))
    _require_variation(sums[(sums.size + _FIRST) // 2 :], "Krippendorff's alpha")
    return float(_from_sums(sums, "alpha"))


def krippendorff_alpha(labels: Any, *, n_categories: int | None = None) -> float:
    """Nominal Krippendorff's alpha of a label matrix with missing votes; see krippendorff_alpha_from_counts."""
    return krippendorff_alpha_from_counts(counts_from_labels(labels, n_categories))


def gwet_ac1_from_counts(counts: Any) -> float:
    """Gwet's AC1 from a (n_items, k) count matrix (k = the number of categories q).

    Gwet (2008; Handbook of Inter-Rater Reliability; R irrCAC
    ``gwet.ac1.raw``): AC1 = (p_a - p_e) / (1 - p_e) with p_a the percent
    agreement (items with m_i >= 2), pi_c = mean over items with at least one
    vote of n_ic / m_i, and p_e = sum_c pi_c (1 - pi_c) / (q - 1).
    p_e <= 1/q, so AC1 is defined for every q >= 2; in particular it is 1
    when every vote is for one category (the standard definition gives a
    value there, unlike kappa), and it stays stable when one label
    dominates. q counts all categories of the task, used or not, so pass
    n_categories.
    """
    array = _as_counts(counts)
    if array.shape[1] < 2:
        raise UndefinedMetric(f"Gwet's AC1 needs at least 2 categories, got n_categories={array.shape[1]}")
    return float(_from_sums(_feature_sums(array), "ac1"))


def gwet_ac1(labels: Any, *, n_categories: int | None = None) -> float:
    """Gwet's AC1 of a label matrix; see gwet_ac1_from_counts."""
    return gwet_ac1_from_counts(counts_from_labels(labels, n_categories))


def _kappa_from_confusion(confusion: np.ndarray) -> float:
    """Cohen's kappa of a k x k contingency table of two raters (NaN when p_e = 1)."""
    total = confusion.sum()
    observed = np.trace(confusion) / total
    expected = (confusion.sum(axis=1) @ confusion.sum(axis=0)) / total**2
    if np.count_nonzero(confusion.sum(axis=1) * confusion.sum(axis=0)) == 1 and observed == 1:
        return float("nan")  # both raters used the same single category: p_e = 1
    return float((observed - expected) / (1 - expected))


def cohen_kappa(a: Any, b: Any, *, n_categories: int | None = None) -> float:
    """Cohen's kappa (Cohen 1960) between two raters.

    a, b: 1-D label vectors of equal length n; pairs where either is -1 (or
    NaN) are dropped. kappa = (p_o - p_e) / (1 - p_e) with p_o the share of
    shared items with equal labels and p_e = sum_c p_a(c) p_b(c) from each
    rater's own label shares on the shared items. Raises UndefinedMetric
    with no shared item, or when both raters used one and the same category
    only (p_e = 1).
    """
    a_array, b_array = np.asarray(a), np.asarray(b)
    if a_array.ndim != 1 or a_array.shape != b_array.shape:
        raise ValueError(f"a and b must be 1-D of equal length, got shapes {a_array.shape} and {b_array.shape}")
    # Validated as a (2, n) matrix: same rules as a label matrix, each rater's row contiguous.
    rows, k = _as_labels(np.stack([a_array, b_array]), n_categories)
    cells = _pair_cells(rows[0], rows[1], k)
    if cells.size == 0:
        raise UndefinedMetric("no shared items: the two annotators never labelled the same item")
    value = _kappa_from_confusion(np.bincount(cells, minlength=k * k).reshape(k, k))
    if np.isnan(value):
        raise UndefinedMetric(
            f"Cohen's kappa is undefined: both annotators chose category {int(cells[0]) // k} on all "
            f"{cells.size} shared items, so the chance agreement is 1 (0/0)"
        )
    return value


def _pair_cells(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Contingency-table cell a * k + b of each item both raters labelled (-1 = missing)."""
    cells = a * k + b
    if a.min(initial=0) < 0 or b.min(initial=0) < 0:
        cells = cells[(a >= 0) & (b >= 0)]
    return cells


class PairwiseCohen(NamedTuple):
    kappa: np.ndarray  # (n_raters, n_raters) float, NaN where undefined and on the diagonal
    n_shared: np.ndarray  # (n_raters, n_raters) int, items both raters labelled (diagonal: items the rater labelled)


def pairwise_cohen(labels: Any, *, n_categories: int | None = None) -> PairwiseCohen:
    """Cohen's kappa for every pair of annotators on the items both labelled.

    labels: (n_items, n_raters). Returns (kappa, n_shared), both symmetric
    (n_raters, n_raters). kappa[r, s] is cohen_kappa(labels[:, r], labels[:, s]),
    or NaN where that is undefined (no shared items, or one shared category
    only); the diagonal is NaN because an annotator is not compared with
    themselves. n_shared[r, s] is the number of items both labelled.
    """
    array, k = _as_labels(labels, n_categories)
    n_raters = array.shape[1]
    kappa = np.full((n_raters, n_raters), np.nan)
    n_shared = np.zeros((n_raters, n_raters), dtype=np.int64)
    columns = np.ascontiguousarray(array.T)  # one contiguous vector per rater
    for r in range(n_raters):
        n_shared[r, r] = np.count_nonzero(columns[r] >= 0)
        for s in range(r + 1, n_raters):
            cells = _pair_cells(columns[r], columns[s], k)
            n_shared[r, s] = n_shared[s, r] = cells.size
            if cells.size:
                confusion = np.bincount(cells, minlength=k * k).reshape(k, k)
                kappa[r, s] = kappa[s, r] = _kappa_from_confusion(confusion)
    return PairwiseCohen(kappa, n_shared)


# ---------------------------------------------------------------------------
# Bootstrap


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
    features = _features(patterns)
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
    array = _as_counts(counts)
    estimate = _POINT_FUNCTIONS[statistic](array)
    sums = _bootstrap_sums(array[array.sum(axis=1) >= 1], n_boot, np.random.default_rng(seed))
    return _interval(estimate, _from_sums(sums, statistic), level, statistic)


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


def landis_koch(kappa: float) -> str:
    """Landis & Koch (1977) band of a kappa value.

    < 0 "poor", 0-0.20 "slight", 0.21-0.40 "fair", 0.41-0.60 "moderate",
    0.61-0.80 "substantial", 0.81-1 "almost perfect"; each upper bound is
    inclusive (0.20 is slight, 0.2001 is fair). NaN or values above 1 raise
    ValueError.
    """
    value = float(kappa)
    if np.isnan(value) or value > 1 + 1e-12:
        raise ValueError(f"kappa must be a number <= 1, got {kappa!r}")
    for bound, name in ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial")):
        if value < bound or (bound > 0 and value <= bound):
            return name
    return "almost perfect"


# ---------------------------------------------------------------------------
# Gold labels and annotator quality


class MajorityGold(NamedTuple):
    label: np.ndarray  # (n_items,) int: the majority category, -1 on a tie or with no votes
    votes_for: np.ndarray  # (n_items,) int: votes for the most-voted category
    votes_total: np.ndarray  # (n_items,) int: all votes on the item
    tie: np.ndarray  # (n_items,) bool: two or more categories share the most votes


def majority_gold_from_counts(counts: Any) -> MajorityGold:
    """Majority-vote gold label per item from a (n_items, k) count matrix.

    MSED section 3.3 defines gold as the label with the most votes (a
    plurality). label is -1 where the top count is shared (tie = True) or
    the item has no votes (tie = False, votes_total = 0).
    """
    array = _as_counts(counts)
    votes_total = array.sum(axis=1)
    if array.shape[1] == 0:
        empty = np.zeros(array.shape[0], dtype=np.int64)
        return MajorityGold(empty - 1, empty, votes_total, np.zeros(array.shape[0], dtype=bool))
    votes_for = array.max(axis=1)
    tie = ((array == votes_for[:, None]).sum(axis=1) > 1) & (votes_for > 0)
    label = np.where(tie | (votes_for == 0), -1, array.argmax(axis=1))
    return MajorityGold(label, votes_for, votes_total, tie)


def majority_gold(labels: Any, *, n_categories: int | None = None) -> MajorityGold:
    """Majority-vote gold label per item of a label matrix; see majority_gold_from_counts."""
    return majority_gold_from_counts(counts_from_labels(labels, n_categories))


class LeaveOneOut(NamedTuple):
    agreement: (
        np.ndarray
    )  # (n_raters,) float: share of used items where the rater matches the others' majority; NaN if none used
    n_used: np.ndarray  # (n_raters,) int: items counted in agreement
    n_tied: np.ndarray  # (n_raters,) int: items excluded because the other votes tie
    n_alone: np.ndarray  # (n_raters,) int: items excluded because nobody else voted


def leave_one_out_agreement(labels: Any, *, n_categories: int | None = None) -> LeaveOneOut:
    """Each annotator's agreement with the majority of the other annotators.

    labels: (n_items, n_raters). For rater r and each item r labelled, the
    majority is taken over the other votes on that item (r's own vote is
    removed, so a rater cannot agree with themselves). Items where the other
    votes tie, or where r is the only voter, are excluded and counted.
    agreement[r] = share of the remaining items where r's label equals the
    others' majority (NaN when no item remains).
    """
    array, k = _as_labels(labels, n_categories)
    counts = counts_from_labels(array, k)
    n_raters = array.shape[1]
    agreement = np.full(n_raters, np.nan)
    n_used, n_tied, n_alone = (np.zeros(n_raters, dtype=np.int64) for _ in range(3))
    for r in range(n_raters):
        rows = np.flatnonzero(array[:, r] >= 0)
        own = array[rows, r]
        others = counts[rows].copy()
        others[np.arange(rows.size), own] -= 1
        gold = majority_gold_from_counts(others)
        alone = gold.votes_total == 0
        used = ~alone & ~gold.tie
        n_used[r], n_tied[r], n_alone[r] = used.sum(), gold.tie.sum(), alone.sum()
        if n_used[r]:
            agreement[r] = float((own[used] == gold.label[used]).mean())
    return LeaveOneOut(agreement, n_used, n_tied, n_alone)


# ---------------------------------------------------------------------------
# Label confusion (MSED Fig. 3) and modality difference (CH-SIMS eq. 1)


def label_confusion_from_counts(counts: Any, *, normalize: str | None = "all") -> np.ndarray:
    """Which pairs of labels annotators of the same item chose, shape (k, k), symmetric.

    For item i with m_i >= 2 votes, its ordered pairs of distinct annotators
    number m_i (m_i - 1); n_ia (n_ib - [a == b]) of them chose (a, b).

    normalize="all" (default): each item's pair counts are divided by
      m_i (m_i - 1) and the result is averaged over items, so every item
      weighs the same, the matrix sums to 1, its trace is the percent
      agreement and C[a, b] + C[b, a] (a != b) is the share of annotator pairs
      that split between a and b: the "annotation difference" of MSED Fig. 3.
    normalize="row": the "all" matrix with each row divided by its sum, so
      row a reads "when one annotator chose a, how often did another choose
      b"; rows of categories never chosen are NaN.
    normalize=None: raw ordered-pair counts (int64; items with more votes
      weigh more).
    Items with fewer than 2 votes are excluded; UndefinedMetric if none is left.
    """
    if normalize not in ("all", "row", None):
        raise ValueError(f"normalize must be 'all', 'row' or None, got {normalize!r}")
    array = _as_counts(counts)
    votes = array.sum(axis=1)
    _check_pairable(votes)
    pairable = array[votes >= 2]
    if normalize is None:
        return np.einsum("ia,ib->ab", pairable, pairable) - np.diag(pairable.sum(axis=0))
    values = pairable.astype(np.float64)
    m = values.sum(axis=1)
    weighted = values / (m * (m - 1))[:, None]
    matrix = (np.einsum("ia,ib->ab", weighted, values) - np.diag(weighted.sum(axis=0))) / values.shape[0]
    if normalize == "row":
        with np.errstate(divide="ignore", invalid="ignore"):
            matrix = matrix / matrix.sum(axis=1, keepdims=True)
    return matrix


def label_confusion(labels: Any, *, n_categories: int | None = None, normalize: str | None = "all") -> np.ndarray:
    """Label-confusion matrix of a label matrix, shape (k, k); see label_confusion_from_counts."""
    return label_confusion_from_counts(counts_from_labels(labels, n_categories), normalize=normalize)


class ModalityDifference(NamedTuple):
    names: list[str]  # round names, in input order
    difference: np.ndarray  # (n_rounds, n_rounds) float, symmetric, zero diagonal; NaN where no item is usable
    n_items: np.ndarray  # (n_rounds, n_rounds) int: items used for each pair


def modality_difference(
    rounds: Mapping[str, Any],
    *,
    scores: Sequence[float] | None = None,
    n_categories: int | None = None,
) -> ModalityDifference:
    """Difference between annotation rounds (text-only, image-only, multimodal), CH-SIMS eq. 1.

    rounds: round name -> (n_items, n_raters_of_round) label matrix; row i of
    every matrix is the same item (raters may differ between rounds).

    With ``scores`` (one number per category, e.g. sentiment mapped to -1 / 0 / 1
    as [1, 0, -1] when category 0 is positive): A_r[i] = mean score of round
    r's votes on item i, and D_rs = (1/N) sum_i (A_r[i] - A_s[i])^2 over the N
    items with at least one vote in both rounds (CH-SIMS, section 3.2, eq. 1).
    Without ``scores`` (nominal tasks such as desire or emotion): D_rs = the
    share of items whose majority labels differ, over items with an untied
    majority in both rounds.
    """
    if not rounds:
        raise UndefinedMetric("no rounds: the modality difference needs at least one round")
    names = list(rounds)
    matrices = [_as_labels(rounds[name], n_categories) for name in names]
    n_items = {m.shape[0] for m, _ in matrices}
    if len(n_items) != 1:
        raise ValueError(f"every round must have the same items (rows); got row counts {sorted(n_items)}")
    k = max(k for _, k in matrices) if n_categories is None else int(n_categories)
    counts = [counts_from_labels(m, k) for m, _ in matrices]
    if scores is not None:
        score_array = np.asarray(scores, dtype=np.float64)
        if score_array.shape != (k,):
            raise ValueError(f"scores must give one number per category ({k}), got shape {score_array.shape}")
        per_round = []
        for c in counts:
            m = c.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                per_round.append(np.where(m > 0, (c @ score_array) / m, np.nan))
    else:
        per_round = [majority_gold_from_counts(c).label.astype(np.float64) for c in counts]
        per_round = [np.where(v >= 0, v, np.nan) for v in per_round]
    size = len(names)
    difference = np.zeros((size, size))
    used_items = np.zeros((size, size), dtype=np.int64)
    for r in range(size):
        for s in range(size):
            usable = ~np.isnan(per_round[r]) & ~np.isnan(per_round[s])
            used_items[r, s] = usable.sum()
            if not usable.any():
                difference[r, s] = np.nan
            elif scores is not None:
                difference[r, s] = np.mean((per_round[r][usable] - per_round[s][usable]) ** 2)
            else:
                difference[r, s] = np.mean(per_round[r][usable] != per_round[s][usable])
    return ModalityDifference(names, difference, used_items)


# ---------------------------------------------------------------------------
# Classification metrics for models


def _as_label_vector(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.mod(array, 1) == 0):
            raise ValueError(f"{name} must hold integer category indices")
    return array.astype(np.int64, copy=False)


def _safe_divide(numerator: Any, denominator: Any) -> np.ndarray:
    """numerator / denominator with 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def classification_metrics(y_true: Any, y_pred: Any, n_categories: int | None = None) -> dict:
    """Precision, recall, F1, accuracy and confusion matrix of a classifier.

    y_true, y_pred: int arrays of shape (n,) with class indices 0..k-1.
    n_categories: k; defaults to max(y_true, y_pred) + 1, so a class index
    that occurs in neither array but lies below the maximum still counts.

    Returns a dict:
      "precision", "recall": macro averages over the k classes;
      "macro_f1": unweighted mean of the per-class F1;
      "weighted_f1": per-class F1 weighted by support (true count);
      "accuracy": share of y_pred == y_true;
      "confusion": k x k list of lists of ints, rows = true, columns = predicted;
      "per_class": list of k dicts {"precision", "recall", "f1", "support"}.
    Per class, precision = tp / (tp + fp), recall = tp / (tp + fn),
    f1 = 2 tp / (2 tp + fp + fn); a 0/0 is 0, as scikit-learn's
    zero_division=0 with labels=range(k), so a class absent from both arrays
    adds 0 to the macro averages. Raises UndefinedMetric for empty input.
    """
    y_true = _as_label_vector(y_true, "y_true")
    y_pred = _as_label_vector(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    if y_true.size == 0:
        raise UndefinedMetric("no items: classification metrics need at least one prediction")
    if min(y_true.min(), y_pred.min()) < 0:
        raise ValueError("class indices must be >= 0")
    largest = int(max(y_true.max(), y_pred.max()))
    k = largest + 1 if n_categories is None else int(n_categories)
    if largest >= k:
        raise ValueError(f"class index {largest} is out of range for n_categories={k}")

    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * tp, support + predicted)
    return {
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "weighted_f1": float((f1 * support).sum() / support.sum()),
        "accuracy": float(tp.sum() / y_true.size),
        "confusion": confusion.tolist(),
        "per_class": [
            {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for p, r, f, s in zip(precision, recall, f1, support)
        ],
    }


# ---------------------------------------------------------------------------
# Keywords (MSED Fig. 5)


def keywords(
    texts: Sequence[str],
    labels: Any,
    *,
    groups: Mapping[Any, Iterable[int]] | None = None,
    top_k: int = 20,
    prior_size: float | None = None,
    min_count: int = 1,
    stop_words: frozenset[str] = STOP_WORDS,
) -> dict[Any, list[tuple[str, float, int]]]:
    """Words that distinguish each group of texts, by weighted log-odds (Monroe et al. 2008).

    texts: n strings; labels: (n,) int class per text (-1 = ignore the text).
    groups: name -> class indices; default one group per class present
    (class vs rest). For MSED Fig. 5 use {"desire": [1, ..., 6], "none": [0]}.
    Each group g is compared with the texts of all other groups together.

    With y_w^g the count of word w in group g, n^g its token total, and the
    same for the rest r, the informative Dirichlet prior is
    alpha_w = alpha_0 * (share of w among all tokens of the grouped texts),
    alpha_0 = ``prior_size`` (default: the token total, i.e. alpha_w = the
    word's corpus count, the usual "background corpus" prior). Then
        delta_w = log((y_w^g + a_w) / (n^g + a_0 - y_w^g - a_w))
                - log((y_w^r + a_w) / (n^r + a_0 - y_w^r - a_w)),
        var(delta_w) ~ 1 / (y_w^g + a_w) + 1 / (y_w^r + a_w),
        z_w = delta_w / sqrt(var)   (Monroe, Colaresi & Quinn 2008, "Fightin' Words").
    Returns group name -> the top_k (word, z, count in group) by descending
    z, among words used at least ``min_count`` times in the group. Texts are
    split by analysis.text.tokenize (lower case, stop words removed).
    """
    label_array = _as_label_vector(labels, "labels")
    if len(texts) != label_array.size:
        raise ValueError(f"got {len(texts)} texts but {label_array.size} labels")
    if groups is None:
        groups = {int(c): [int(c)] for c in np.unique(label_array[label_array >= 0])}
    if len(groups) < 2:
        raise UndefinedMetric("keywords need at least two groups (one class only: nothing to contrast)")
    group_of_class: dict[int, int] = {}
    for g, classes in enumerate(groups.values()):
        for c in classes:
            if int(c) < 0 or int(c) in group_of_class:
                raise ValueError(f"class {c} is negative or in more than one group")
            group_of_class[int(c)] = g
    # Lookup table class -> group (-1 = in no group), so texts map to groups without a loop.
    size = max([int(label_array.max(initial=-1)), *group_of_class]) + 1
    lookup = np.full(max(size, 1), -1, dtype=np.int64)
    lookup[list(group_of_class)] = list(group_of_class.values())
    text_group = np.where(label_array >= 0, lookup[np.clip(label_array, 0, None)], -1)

    # Tokenising is Python string work per text; everything after is array work.
    vocabulary: dict[str, int] = {}
    word_ids: list[int] = []
    token_groups: list[int] = []
    for text, g in zip(texts, text_group):
        if g < 0:
            continue
        ids = [vocabulary.setdefault(token, len(vocabulary)) for token in tokenize(text, stop_words=stop_words)]
        word_ids.extend(ids)
        token_groups.extend([int(g)] * len(ids))
    n_groups, n_words = len(groups), len(vocabulary)
    if n_words == 0:
        raise UndefinedMetric("no words: every text is empty after tokenising and stop-word removal")
    cells = np.asarray(token_groups, dtype=np.int64) * n_words + np.asarray(word_ids, dtype=np.int64)
    y = np.bincount(cells, minlength=n_groups * n_words).reshape(n_groups, n_words).astype(np.float64)
    corpus = y.sum(axis=0)
    alpha_0 = corpus.sum() if prior_size is None else float(prior_size)
    alpha = alpha_0 * corpus / corpus.sum()
    rest = corpus - y
    n_group = y.sum(axis=1, keepdims=True)
    n_rest = rest.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.log((y + alpha) / (n_group + alpha_0 - y - alpha)) - np.log(
            (rest + alpha) / (n_rest + alpha_0 - rest - alpha)
        )
        z = delta / np.sqrt(1 / (y + alpha) + 1 / (rest + alpha))
    words = np.array(list(vocabulary), dtype=object)
    result: dict[Any, list[tuple[str, float, int]]] = {}
    for g, name in enumerate(groups):
        eligible = np.flatnonzero((y[g] >= min_count) & np.isfinite(z[g]))
        # Sort by z descending, then by word so ties are stable across runs.
        order = eligible[np.lexsort((words[eligible], -z[g, eligible]))][:top_k]
        result[name] = [(str(words[w]), float(z[g, w]), int(y[g, w])) for w in order]
    return result


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
    array = _as_counts(counts)
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
            replicates = _from_sums(sums, statistic)
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
