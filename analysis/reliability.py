"""Annotator reliability models: Dawid & Skene (1979) and MACE (Hovy et al. 2013), pure NumPy.

Both estimate each item's true label jointly with how good each annotator is,
from the same input as analysis.metrics: ``labels``, an int array of shape
(n_items, n_raters) whose entry [i, r] is the category (0..K-1) rater r gave
item i, or -1 (or NaN) for no vote. No Django here (STYLE.md); a selector
builds the matrix.

Shapes: K = ``n_categories``; posteriors are (n_items, K) with rows summing
to 1; per-rater arrays are indexed by the matrix's column.

Implementation: items with identical rows of votes are merged first (they
have the same posterior; see ``_Votes``), and the votes of the distinct rows
are flattened into (item, rater, label) triples. Every E and M step is then
a gather from a small per-rater table plus ``np.bincount`` with weights over
the triples (one per class where a K-vector is summed per vote), with no
Python loop over items or raters, and in log space where products of many
probabilities would underflow. Loops run over EM iterations, restarts and
the K classes only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.label_matrix import UndefinedMetric, as_labels

__all__ = ["DawidSkeneResult", "MaceResult", "dawid_skene", "mace"]

# crowd-kit's floor for confusion entries and priors before taking logs: a
# class with no posterior mass left would otherwise give log(0) = -inf and
# could never come back.
_EPS = 1e-10


@dataclass(frozen=True)
class _Votes:
    """The observed votes of a label matrix, with items that have identical votes merged.

    Two items with the same vote from every rater (and the same control label,
    if any) have the same posterior in both models, so EM runs once per
    distinct row ("pattern"), each weighted by how many items share it. With
    few raters and classes this shrinks the work a lot (5 raters x 7 classes:
    200k items have under 10k patterns), and it changes no result beyond
    floating-point rounding.

    item, rater, label: parallel (n_votes_of_patterns,) int64 arrays, one entry
      per vote of a pattern, sorted by pattern; ``item`` is the pattern index.
    weight: (n_patterns,) float, items per pattern; inverse: (n_items,) the
      pattern of each item; n_votes: votes in the whole matrix.
    control_items, control_classes: the patterns of the control items and their classes.
    """

    n_items: int
    n_raters: int
    k: int
    n_patterns: int
    n_votes: int
    item: np.ndarray
    rater: np.ndarray
    label: np.ndarray
    weight: np.ndarray
    inverse: np.ndarray
    control_items: np.ndarray
    control_classes: np.ndarray

    @property
    def pair(self) -> np.ndarray:
        """(rater, label) as one index r * K + a: the row of a per-rater (n_raters * K, ...) table."""
        return self.rater * self.k + self.label


def _control_column(control: Mapping[Any, Any] | None, n_items: int, k: int) -> np.ndarray:
    """(n_items,) int64: each item's control class, -1 for an item that is not a control item."""
    column = np.full(n_items, -1, dtype=np.int64)
    if control is None:
        return column
    if not isinstance(control, Mapping):
        raise ValueError(f"control must map item index -> class, got {type(control).__name__}")
    items = np.array(list(control.keys()))
    classes = np.array(list(control.values()))
    for name, values, size in (("item index", items, n_items), ("class", classes, k)):
        if values.size and (values.dtype.kind not in "iu" or values.min() < 0 or values.max() >= size):
            raise ValueError(f"every control {name} must be an int in 0..{size - 1}")
    column[items.astype(np.int64)] = classes
    return column


def _votes(labels: Any, n_categories: int, model: str, control: Mapping[Any, Any] | None = None) -> _Votes:
    if isinstance(n_categories, bool) or not isinstance(n_categories, (int, np.integer)):
        raise ValueError(f"n_categories must be an int, got {n_categories!r}")
    if n_categories < 1:
        raise ValueError(f"n_categories must be >= 1, got {n_categories}")
    array, k = as_labels(labels, int(n_categories))
    n_items, n_raters = array.shape
    n_votes = int(np.count_nonzero(array >= 0))
    if n_votes == 0:
        raise UndefinedMetric(f"{model} is undefined without votes ({n_items} items, {n_raters} raters, 0 votes)")
    control_column = _control_column(control, n_items, k)
    rows = np.column_stack([array, control_column])
    if (k + 1) ** (n_raters + 1) < 2**62:
        # Each row as one base-(K + 1) number (-1 -> digit 0), so finding equal rows is a 1-D unique.
        digits = (k + 1) ** np.arange(n_raters + 1, dtype=np.int64)
        keys = np.einsum("ij,j->i", rows + 1, digits)
        _, first, inverse, weight = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    else:
        # Too many raters for one int64 key; such crowds rarely repeat rows, so keep every item.
        first = inverse = np.arange(n_items)
        weight = np.ones(n_items, dtype=np.int64)
    patterns = array[first]
    item, rater = np.nonzero(patterns >= 0)  # row-major: sorted by pattern
    control_items = np.flatnonzero(control_column[first] >= 0)
    return _Votes(
        n_items=n_items,
        n_raters=n_raters,
        k=k,
        n_patterns=first.size,
        n_votes=n_votes,
        item=item,
        rater=rater,
        label=patterns[item, rater],
        weight=weight.astype(np.float64),
        inverse=inverse.ravel(),
        control_items=control_items,
        control_classes=control_column[first][control_items],
    )


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _normalise_log_rows(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows of exp(log_joint) normalised to sum to 1, log of each row's sum), without overflow."""
    top = log_joint.max(axis=1, keepdims=True)
    scaled = np.exp(log_joint - top)
    total = scaled.sum(axis=1, keepdims=True)
    return scaled / total, (top + np.log(total))[:, 0]


# ---------------------------------------------------------------------------
# Dawid & Skene


@dataclass(frozen=True, eq=False)
class DawidSkeneResult:
    """Output of ``dawid_skene``.

    posteriors: (n_items, K) float, P(true label of item i = c | votes); rows sum to 1.
        An item without votes gets ``priors`` (or its control label).
    confusions: (n_raters, K, K) float, [r, true, given] = P(rater r says `given` | true
        label `true`); rows sum to 1. A rater without votes gets uniform rows.
    priors: (K,) float, class prevalence, the mean posterior over items with votes.
    iterations: EM iterations run (E step + M step after the initialisation).
    log_likelihood: mean per vote of the log-likelihood of the observed votes under the
        parameters of the last E step (control items at their known class).
    """

    posteriors: np.ndarray
    confusions: np.ndarray
    priors: np.ndarray
    iterations: int
    log_likelihood: float

    @property
    def labels(self) -> np.ndarray:
        """(n_items,) int: the most probable true label of each item."""
        return self.posteriors.argmax(axis=1)


def dawid_skene(
    labels: Any,
    *,
    n_categories: int,
    max_iter: int = 100,
    tol: float = 1e-5,
    control: Mapping[int, int] | None = None,
) -> DawidSkeneResult:
    """Dawid & Skene (1979) maximum-likelihood estimate of true labels and rater confusion matrices.

    labels: (n_items, n_raters) category indices 0..K-1, -1 (or NaN) = no vote.
    n_categories: K, the size of the task's label set.

    Model: item i's true label z_i ~ Categorical(p); rater r's vote on an item
    with z_i = t is ~ Categorical(pi_r[t, :]), independently given z_i. EM:

    * initialisation: T_i = the majority-vote shares n_ic / m_i (ties split),
      then an M step;
    * E step: T_ic proportional to p_c * prod over i's votes (r, a) of pi_r[c, a];
    * M step: p = mean of T_i over items with votes; pi_r[t, a] proportional to
      the sum of T_it over r's votes a (a confusion entry of a (rater, label)
      pair that occurs is floored at 1e-10, as crowd-kit does, so that no
      class is ruled out for good by a log of 0).

    One iteration is an E step then an M step, so with the same number of
    iterations the posteriors equal crowd-kit's ``DawidSkene`` (1.4) to
    rounding. EM stops when the mean log-likelihood per vote improves by less
    than ``tol``; ``tol=0`` runs exactly ``max_iter`` iterations. (crowd-kit's
    tol compares its own bound, which counts the log prior once per vote and
    can dip, so its ``tol=0`` may stop early; ``tol=-inf`` runs them all.)
    Items without votes, which crowd-kit leaves out, get the priors.

    control: item index -> known class (control / gold items). Their
    posteriors are pinned to that class (one-hot) from the initialisation
    on, so they anchor the confusion matrices, as crowd-kit's ``true_labels``.

    Raises UndefinedMetric when there is no vote at all.
    """
    max_iter = _check_count(max_iter, "max_iter", 0)
    if not isinstance(tol, (int, float, np.number)) or not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    votes = _votes(labels, n_categories, "Dawid-Skene", control)
    # n counts patterns (distinct rows, see _Votes) from here on; weight = items per pattern.
    n, n_raters, k, weight = votes.n_patterns, votes.n_raters, votes.k, votes.weight
    control_items, control_classes = votes.control_items, votes.control_classes
    item, pair = votes.item, votes.pair
    voted = np.bincount(item, minlength=n) > 0
    voted_weight = np.where(voted, weight, 0.0)
    voted_weight_total = voted_weight.sum()  # items with votes
    voted_weight /= voted_weight_total
    used_pairs = np.bincount(pair, minlength=n_raters * k) > 0
    # Internally every (patterns, K) array is kept class-major, (K, patterns): a per-class
    # bincount then writes one contiguous row, and the per-pattern reductions over the K
    # classes are element-wise operations between rows.

    def pin(posteriors: np.ndarray) -> None:
        if control_items.size:
            posteriors[:, control_items] = 0.0
            posteriors[control_classes, control_items] = 1.0

    def m_step(posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        priors = np.einsum("cn,n->c", posteriors, voted_weight)
        counts = np.empty((k, n_raters * k))  # [true, (rater, given)]
        for c in range(k):  # a loop over classes; each is one bincount over all votes
            counts[c] = np.bincount(pair, weights=(posteriors[c] * weight).take(item), minlength=n_raters * k)
        counts = np.where(used_pairs, np.maximum(counts, _EPS), 0.0).reshape(k, n_raters, k)
        totals = counts.sum(axis=2, keepdims=True)  # over the given label, per (true, rater)
        true_given = np.divide(counts, totals, out=np.full_like(counts, 1.0 / k), where=totals > 0)
        with np.errstate(divide="ignore"):  # log 0 only for (rater, label) pairs no vote uses
            log_table = np.log(true_given).reshape(k, n_raters * k)
        return priors, log_table, true_given

    def e_step(priors: np.ndarray, log_table: np.ndarray) -> tuple[np.ndarray, float]:
        log_joint = np.empty((k, n))
        for c in range(k):
            log_joint[c] = np.bincount(item, weights=log_table[c].take(pair), minlength=n)
        log_joint += np.log(np.maximum(priors, _EPS))[:, None]
        top = log_joint.max(axis=0)
        posteriors = np.exp(log_joint - top)
        total = posteriors.sum(axis=0)
        posteriors /= total
        log_evidence = top + np.log(total)
        if control_items.size:
            log_evidence[control_items] = log_joint[control_classes, control_items]
            pin(posteriors)
        # einsum, not np.dot: a BLAS dot may wake its threads, which stall for
        # milliseconds per call on a busy shared machine (10x the whole E step).
        log_likelihood = np.einsum("n,n->", log_evidence, voted_weight) * voted_weight_total
        return posteriors, float(log_likelihood / votes.n_votes)

    posteriors = np.bincount(votes.label * n + item, minlength=k * n).reshape(k, n).astype(np.float64)
    posteriors /= np.maximum(posteriors.sum(axis=0), 1.0)
    pin(posteriors)
    priors, log_table, true_given = m_step(posteriors)
    if not voted.all():  # items without votes have only the priors (an E step gives them the same)
        posteriors[:, ~voted] = priors[:, None]
        pin(posteriors)
    log_likelihood = -np.inf
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 (read after the loop: how many ran)
        posteriors, new_log_likelihood = e_step(priors, log_table)
        priors, log_table, true_given = m_step(posteriors)
        improvement = new_log_likelihood - log_likelihood
        log_likelihood = new_log_likelihood
        if tol > 0 and improvement < tol:
            break
    if not voted.all():  # as the initialisation: items without votes get the priors returned
        posteriors[:, ~voted] = priors[:, None]
        pin(posteriors)
    return DawidSkeneResult(
        posteriors=posteriors.T[votes.inverse],
        confusions=np.ascontiguousarray(true_given.transpose(1, 0, 2)),
        priors=priors,
        iterations=iterations,
        log_likelihood=log_likelihood,
    )


# ---------------------------------------------------------------------------
# MACE


@dataclass(frozen=True, eq=False)
class MaceResult:
    """Output of ``mace``.

    posteriors: (n_items, K) float, P(true label = c | votes); rows sum to 1 (uniform for an
        item without votes).
    competence: (n_raters,) float in (0, 1), the posterior mean of theta_r, the probability that
        rater r is not spamming (Beta posterior; 0.5 for a rater without votes).
    strategies: (n_raters, K) float, posterior mean of xi_r, the distribution rater r draws
        from when spamming; rows sum to 1.
    log_marginal_likelihood: sum over items with votes of log P(votes on the item), for the
        chosen restart (the one where it is highest).
    """

    posteriors: np.ndarray
    competence: np.ndarray
    strategies: np.ndarray
    log_marginal_likelihood: float

    @property
    def labels(self) -> np.ndarray:
        """(n_items,) int: the most probable true label of each item."""
        return self.posteriors.argmax(axis=1)


def _digamma(x: np.ndarray) -> np.ndarray:
    """The digamma function psi(x) for x > 0 (NumPy has none, and this module stays NumPy-only).

    psi(x) = psi(x + 6) - sum_{j<6} 1/(x + j), then the asymptotic series at y = x + 6 >= 6:
    psi(y) ~ ln y - 1/(2y) - 1/(12y^2) + 1/(120y^4) - 1/(252y^6) + 1/(240y^8) - 1/(132y^10),
    accurate to ~1e-13 there.
    """
    x = np.asarray(x, dtype=np.float64)
    shift = sum(1.0 / (x + j) for j in range(6))
    y = x + 6.0
    z = 1.0 / (y * y)
    series = z * (1 / 12 - z * (1 / 120 - z * (1 / 252 - z * (1 / 240 - z / 132))))
    return np.log(y) - 0.5 / y - series - shift


def _variational_normalise(counts: np.ndarray, prior: float | np.ndarray) -> np.ndarray:
    """exp(E_q[log w]) for q = Dirichlet(counts + prior) over each row: exp(psi(c + a) - psi(sum(c + a)))."""
    shifted = counts + prior
    return np.exp(_digamma(shifted) - _digamma(shifted.sum(axis=-1, keepdims=True)))


# Hyper-parameters of the reference implementation and crowd-kit's MACE: a
# symmetric Beta(0.5, 0.5) prior on each rater's spamming probability and a
# symmetric Dirichlet(10) prior on the spamming strategies. Random starts are
# uniform in [1, 1 + noise] before normalising, noise = 0.5 (crowd-kit's
# default_noise; its scipy call draws from [1, 2.5], which only moves the start).
_BETA_PRIOR = 0.5
_STRATEGY_PRIOR = 10.0
_INITIAL_NOISE = 0.5


def mace(
    labels: Any,
    *,
    n_categories: int,
    n_restarts: int = 10,
    max_iter: int = 50,
    seed: int = 0,
) -> MaceResult:
    """MACE, Multi-Annotator Competence Estimation (Hovy, Berg-Kirkpatrick, Vaswani & Hovy 2013).

    labels: (n_items, n_raters) category indices 0..K-1, -1 (or NaN) = no vote.
    n_categories: K.

    Model: item i's true label T_i ~ Uniform(K); on each item rater r is
    spamming with probability 1 - theta_r (S_ir = 1); a rater who is not
    spamming gives T_i, a spamming rater draws the answer from their own
    strategy xi_r ~ Categorical(K). Priors: theta_r ~ Beta(0.5, 0.5),
    xi_r ~ Dirichlet(10), as in the reference implementation.

    Variational EM (the paper's VB training, as in crowd-kit's ``MACE``,
    method "vb"): the E step computes P(T_i | votes) and the expected counts
    of "knowing" and "spamming" votes per rater and of spammed labels per
    (rater, label); the M step sets each parameter to exp(E_q[log .]) under
    the Dirichlet / Beta posterior of those counts plus the prior. One run is
    an E step then ``max_iter`` (M step, E step) rounds. ``n_restarts`` runs
    start from random parameters drawn from ``np.random.default_rng(seed)``;
    the run with the highest marginal likelihood is kept. (crowd-kit reseeds
    every restart with the same ``random_state``, so its restarts repeat one
    run.)

    Raises UndefinedMetric when there is no vote at all.
    """
    votes = _votes(labels, n_categories, "MACE")
    n_restarts = _check_count(n_restarts, "n_restarts", 1)
    max_iter = _check_count(max_iter, "max_iter", 0)
    # n counts patterns (distinct rows, see _Votes); a vote of a pattern stands for weight[item] votes.
    n, n_raters, k = votes.n_patterns, votes.n_raters, votes.k
    item, rater, pair = votes.item, votes.rater, votes.pair
    cell = item * k + votes.label
    vote_weight = votes.weight.take(item)
    voted_weight = np.where(np.bincount(item, minlength=n) > 0, votes.weight, 0.0)
    rng = np.random.default_rng(seed)

    def e_step(spam: np.ndarray, know: np.ndarray, strategy: np.ndarray):
        # A vote a on an item with true label t has probability spam * xi[a] + know * [a == t]:
        # every vote contributes log(spam * xi[a]) to every class, plus log1p(know / (spam * xi[a]))
        # to its own label's class, so both terms are one bincount over the votes.
        spammed = spam[rater] * strategy.ravel()[pair]
        knowing = know[rater]
        base = np.bincount(item, weights=np.log(spammed), minlength=n)
        own = np.bincount(cell, weights=np.log1p(knowing / spammed), minlength=n * k).reshape(n, k)
        posteriors, log_evidence = _normalise_log_rows(base[:, None] + own - np.log(k))
        # P(rater was not spamming | votes) = P(T_i = a | votes) * know / (spam * xi[a] + know).
        p_knowing = posteriors.ravel().take(cell) * knowing / (spammed + knowing)
        knowing_counts = np.bincount(rater, weights=p_knowing * vote_weight, minlength=n_raters)
        spamming = (1.0 - p_knowing) * vote_weight
        spamming_counts = np.bincount(rater, weights=spamming, minlength=n_raters)
        strategy_counts = np.bincount(pair, weights=spamming, minlength=n_raters * k).reshape(n_raters, k)
        log_marginal_likelihood = float(np.einsum("n,n->", log_evidence, voted_weight))  # not np.dot: see dawid_skene
        return posteriors, log_marginal_likelihood, knowing_counts, spamming_counts, strategy_counts

    best: tuple | None = None
    for _ in range(n_restarts):
        start = rng.uniform(1.0, 1.0 + _INITIAL_NOISE, size=(n_raters, 2))
        start /= start.sum(axis=1, keepdims=True)
        strategy = rng.uniform(1.0, 1.0 + _INITIAL_NOISE, size=(n_raters, k))
        strategy /= strategy.sum(axis=1, keepdims=True)
        state = e_step(start[:, 0], start[:, 1], strategy)
        for _ in range(max_iter):
            _, _, knowing_counts, spamming_counts, strategy_counts = state
            spam_know = _variational_normalise(np.column_stack([spamming_counts, knowing_counts]), _BETA_PRIOR)
            strategy = _variational_normalise(strategy_counts, _STRATEGY_PRIOR)
            state = e_step(spam_know[:, 0], spam_know[:, 1], strategy)
        if best is None or state[1] > best[1]:
            best = state
    posteriors, log_marginal_likelihood, knowing_counts, spamming_counts, strategy_counts = best
    competence = (knowing_counts + _BETA_PRIOR) / (knowing_counts + spamming_counts + 2 * _BETA_PRIOR)
    strategies = strategy_counts + _STRATEGY_PRIOR
    strategies /= strategies.sum(axis=1, keepdims=True)
    return MaceResult(
        posteriors=posteriors[votes.inverse],
        competence=competence,
        strategies=strategies,
        log_marginal_likelihood=log_marginal_likelihood,
    )
