"""Which labels annotators of one item confuse (MSED Fig. 3), and how much
the rounds of one item differ (CH-SIMS eq. 1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from analysis.label_matrix import UndefinedMetric
from analysis.label_matrix import as_labels as _as_labels

from .agreement import as_counts, check_pairable, counts_from_labels
from .gold import majority_gold_from_counts


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
    array = as_counts(counts)
    votes = array.sum(axis=1)
    check_pairable(votes)
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
