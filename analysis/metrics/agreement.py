"""Agreement statistics between annotators: percent agreement, Fleiss' kappa
(overall and per category), Krippendorff's alpha, Gwet's AC1, Cohen's kappa
(one pair, every pair) and the Landis & Koch bands; the count matrix they
are computed from, and the per-item feature sums the bootstrap
(analysis.metrics.bootstrap) resamples. Shapes and conventions: the package
docstring (analysis.metrics)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from analysis.label_matrix import UndefinedMetric
from analysis.label_matrix import as_labels as _as_labels

# ---------------------------------------------------------------------------
# Input handling


def as_counts(counts: Any) -> np.ndarray:
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


def check_pairable(votes: np.ndarray) -> None:
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


def item_features(counts: np.ndarray) -> np.ndarray:
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


def feature_sums(counts: np.ndarray) -> np.ndarray:
    """The column sums of ``item_features`` over the rows with >= 1 vote, shape (5 + 2k,).

    Computed with matrix-vector products instead of building the
    (n_items, 5 + 2k) matrix, which is most of the cost on 200k items.
    Raises UndefinedMetric unless some item has two votes.
    """
    # Reductions go through einsum: ndarray.sum along a 7-wide axis is several
    # times slower, and BLAS (@) spawns threads that only add jitter on a
    # shared 2-core machine for these memory-bound sums.
    votes = np.einsum("ij->i", counts)
    check_pairable(votes)
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


def from_sums(sums: np.ndarray, statistic: str) -> np.ndarray:
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
    return float(from_sums(feature_sums(as_counts(counts)), "percent"))


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
    sums = feature_sums(as_counts(counts))
    _require_variation(sums[_FIRST : (sums.size + _FIRST) // 2], "Fleiss' kappa")
    return float(from_sums(sums, "fleiss"))


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
    array = as_counts(counts)
    sums = feature_sums(array)
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
    sums = feature_sums(as_counts(counts))
    _require_variation(sums[(sums.size + _FIRST) // 2 :], "Krippendorff's alpha")
    return float(from_sums(sums, "alpha"))


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
    array = as_counts(counts)
    if array.shape[1] < 2:
        raise UndefinedMetric(f"Gwet's AC1 needs at least 2 categories, got n_categories={array.shape[1]}")
    return float(from_sums(feature_sums(array), "ac1"))


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
