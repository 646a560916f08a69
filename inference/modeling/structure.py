"""Nested label sets, found in the training labels and decoded jointly.

In MSED every emotion belongs to one sentiment: happiness is positive,
neutral is neutral, and sad, disgust, anger and fear are negative. Heads
trained apart can still answer "positive" and "anger" for one post. A
Nesting records such a map (each label of the `fine` task has one parent
label of the `coarse` task), and decode_jointly makes the answers agree as
a product of the two heads' beliefs:

    q(e) ∝ p_fine(e) · p_coarse(parent(e)),   p'_coarse(s) = Σ_{e: parent(e) = s} q(e)

so each task's answer also weighs the other head's evidence, and the two
argmaxes always agree. The map is read off the train split's gold labels
(find_nestings), never declared: a project whose labels are not nested
gets none, and decoding changes nothing.

Pure NumPy: no torch and no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# A fine label must be seen this often (with its coarse task labelled too)
# before its parent counts as known; rarer labels leave the pair unnested.
MIN_SUPPORT = 5
# Share of co-labelled training items whose coarse label is their fine
# label's parent: annotation slips below 1% do not hide a real nesting.
MIN_AGREEMENT = 0.99


@dataclass(frozen=True)
class Nesting:
    """parent[i] is the `coarse` task's label index of `fine` label i."""

    fine: str
    coarse: str
    parent: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"fine": self.fine, "coarse": self.coarse, "parent": list(self.parent)}

    @classmethod
    def from_dict(cls, data: Mapping) -> Nesting:
        return cls(str(data["fine"]), str(data["coarse"]), tuple(int(p) for p in data["parent"]))


def find_nestings(labels: np.ndarray, schema: Sequence[tuple[str, int]]) -> list[Nesting]:
    """Pairs of tasks whose gold labels nest: every label of the fine task
    (more labels) is seen at least MIN_SUPPORT times, almost always
    (MIN_AGREEMENT) with one label of the coarse task, and every coarse
    label is some fine label's parent. labels (n_items, n_tasks), -1 for
    unknown, columns in schema order. A task is the fine side of at most
    one nesting (its best-agreeing coarse task) and the coarse side of none
    when it is itself fine, so decoding is a forest of one level."""
    found: list[tuple[float, Nesting]] = []
    for fine_column, (fine, n_fine) in enumerate(schema):
        best: tuple[float, Nesting] | None = None
        for coarse_column, (coarse, n_coarse) in enumerate(schema):
            if coarse_column == fine_column or n_coarse >= n_fine:
                continue
            both = (labels[:, fine_column] >= 0) & (labels[:, coarse_column] >= 0)
            pairs = np.zeros((n_fine, n_coarse), dtype=np.int64)
            np.add.at(pairs, (labels[both, fine_column], labels[both, coarse_column]), 1)
            support = pairs.sum(axis=1)
            if support.min() < MIN_SUPPORT:
                continue
            parent = pairs.argmax(axis=1)
            agreement = pairs.max(axis=1).sum() / support.sum()
            if agreement < MIN_AGREEMENT or len(set(parent.tolist())) != n_coarse:
                continue
            if best is None or agreement > best[0]:
                best = (float(agreement), Nesting(fine, coarse, tuple(int(p) for p in parent)))
        if best is not None:
            found.append(best)
    fine_tasks = {nesting.fine for _, nesting in found}
    return [nesting for _, nesting in found if nesting.coarse not in fine_tasks]


def decode_jointly(probabilities: Mapping[str, np.ndarray], nestings: Sequence[Nesting]) -> dict[str, np.ndarray]:
    """probabilities {task: (n, n_labels)} made consistent with each
    nesting (see the module docstring); tasks in no nesting, or missing,
    pass through unchanged. Rows whose product is all zero keep the fine
    head's own distribution."""
    out = dict(probabilities)
    for nesting in nestings:
        if nesting.fine not in out or nesting.coarse not in out:
            continue
        fine = np.asarray(out[nesting.fine], dtype=np.float64)
        coarse = np.asarray(out[nesting.coarse], dtype=np.float64)
        parent = np.asarray(nesting.parent)
        joint = fine * coarse[:, parent]
        total = joint.sum(axis=1, keepdims=True)
        joint = np.where(total > 0, joint / np.where(total > 0, total, 1.0), fine)
        merged = np.zeros_like(coarse)
        for label, up in enumerate(parent):
            merged[:, up] += joint[:, label]
        out[nesting.fine] = joint.astype(np.float32)
        out[nesting.coarse] = merged.astype(np.float32)
    return out
