"""Words that distinguish groups of texts (MSED Fig. 5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from analysis.label_matrix import UndefinedMetric
from analysis.text import STOP_WORDS, tokenize

from .classification import as_label_vector


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
    label_array = as_label_vector(labels, "labels")
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
