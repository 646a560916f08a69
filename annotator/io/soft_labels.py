"""Soft labels (issue 14, section 4): an item's vote distribution and the
probability of each label under the project's gold strategy.

Pure Python, shared by the export (annotator.services.exports) and by
training with soft targets (inference.selectors), so both read the same
numbers. Labels are named by key, in the task's label order.

Which distribution stands for an item's gold (`posterior`):

* adjudicated or imported gold: one-hot on the gold label (a lead's or the
  file's decision wins over votes and models, as it does for hard gold);
* otherwise Gold.posterior when the reliability job stored one
  (Dawid-Skene or MACE), restricted to the task's current labels;
* otherwise the normalised vote distribution (majority gold, a tie, or
  model-based gold the job has not computed yet);
* otherwise one-hot on the gold label when there is one, else None.

Votes are counted by the caller: multimodal round only, control votes and
control items left out (they never count toward gold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Gold sources that are decisions, not estimates: they train as one-hot.
DECIDED_SOURCES = frozenset({"adjudicated", "imported"})
DECIMALS = 4


def vote_distribution(label_keys: Sequence[str], counts: Mapping[str, int]) -> dict[str, int]:
    """{label key: votes} for every label of the task, in label order
    (0 for a label nobody chose; votes for unknown keys are dropped)."""
    return {key: int(counts.get(key, 0)) for key in label_keys}


def soft_label(
    label_keys: Sequence[str],
    *,
    votes: Mapping[str, int],
    source: str | None = None,
    gold_label: str | None = None,
    posterior: Mapping[str, float] | None = None,
) -> dict[str, float] | None:
    """{label key: probability} over every label of the task (summing to 1),
    chosen as the module docstring says; None when nothing is known.

    votes: {label key: count} of the counted votes. source / gold_label:
    the Gold row's source and label key (None without gold or while tied).
    posterior: Gold.posterior as stored ({label key: probability}).
    """
    if source in DECIDED_SOURCES and gold_label in label_keys:
        return _one_hot(label_keys, gold_label)
    if isinstance(posterior, Mapping):
        masses = {key: _probability(posterior.get(key)) for key in label_keys}
        total = sum(masses.values())
        if total > 0:
            return {key: mass / total for key, mass in masses.items()}
    counts = vote_distribution(label_keys, votes)
    total = sum(counts.values())
    if total > 0:
        return {key: count / total for key, count in counts.items()}
    if gold_label in label_keys:
        return _one_hot(label_keys, gold_label)
    return None


def rounded(distribution: Mapping[str, float] | None, decimals: int = DECIMALS) -> dict[str, float] | None:
    """The distribution with each probability rounded (for exports)."""
    if distribution is None:
        return None
    return {key: round(float(p), decimals) for key, p in distribution.items()}


def _one_hot(label_keys: Sequence[str], label: str) -> dict[str, float]:
    return {key: 1.0 if key == label else 0.0 for key in label_keys}


def _probability(value: object) -> float:
    """A stored probability, or 0 for anything that is not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    value = float(value)
    return value if value >= 0 and value != float("inf") and value == value else 0.0
