"""Gold labels from votes (majority, MSED 3.3) and each annotator's agreement
with the others' majority."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from analysis.label_matrix import as_labels as _as_labels

from .agreement import as_counts, counts_from_labels


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
    array = as_counts(counts)
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
