"""Simulated annotators: votes with MSED's confusions, inference orders and durations.

Pure (NumPy). Shapes are (n_items, n_annotators, n_tasks) with tasks in
`annotator.demo.items.TASKS` order.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from .items import LABEL_INDEX, N_CATEGORIES, TASKS

_D, _S, _E = LABEL_INDEX["desire"], LABEL_INDEX["sentiment"], LABEL_INDEX["emotion"]


# Default per-annotator error rates (before the per-task multiplier): two careful annotators,
# two average, one sloppy.
DEFAULT_ERROR_RATES: tuple[float, ...] = (0.06, 0.10, 0.14, 0.18, 0.24)
# The demo's crowd (`manage.py seed_demo`): the fifth annotator careless instead of sloppy,
# wrong about three times in four (all but random on desire after the task multiplier), so
# the reliability models (Dawid-Skene, MACE) have someone to discount and the Annotators
# page someone to flag. bench/gold.py's "careless" crowd.
CARELESS_ERROR_RATE = 0.75
DEMO_ERROR_RATES: tuple[float, ...] = (*DEFAULT_ERROR_RATES[:4], CARELESS_ERROR_RATE)
# Per-task multiplier on the error rate. MSED section 3.4: sentiment agrees best (kappa 0.67),
# desire and emotion less (0.53 and 0.56).
DEFAULT_TASK_DIFFICULTY: tuple[float, ...] = (1.3, 0.8, 1.15)


def _confusion(n: int, pairs: dict[tuple[int, int], float]) -> np.ndarray:
    """Where an annotator's wrong vote goes: row = true label, off-diagonal weights.

    Every wrong label keeps a weight of 1, and the confusions MSED reports get more.
    """
    weights = np.ones((n, n))
    for (a, b), w in pairs.items():
        weights[a, b] = weights[b, a] = w
    np.fill_diagonal(weights, 0)
    return weights / weights.sum(axis=1, keepdims=True)


# MSED Fig. 3: (a) vengeance, none and tranquility are confused most; (b) neutral is hard to
# separate from positive and negative, positive vs negative is easy; (c) neutral vs happiness and
# neutral vs sad.
MSED_CONFUSIONS: tuple[np.ndarray, ...] = (
    _confusion(
        7,
        {
            (_D["none"], _D["tranquility"]): 8,
            (_D["none"], _D["vengeance"]): 5,
            (_D["vengeance"], _D["tranquility"]): 3,
            (_D["none"], _D["curiosity"]): 4,
            (_D["family"], _D["romance"]): 4,
            (_D["family"], _D["social-contact"]): 4,
            (_D["romance"], _D["social-contact"]): 3,
        },
    ),
    _confusion(3, {(_S["neutral"], _S["positive"]): 6, (_S["neutral"], _S["negative"]): 5}),
    _confusion(
        6,
        {
            (_E["neutral"], _E["happiness"]): 8,
            (_E["neutral"], _E["sad"]): 6,
            (_E["anger"], _E["disgust"]): 4,
            (_E["fear"], _E["sad"]): 3,
            (_E["happiness"], _E["sad"]): 0.3,
        },
    ),
)


def simulate_votes(
    true_labels: np.ndarray,
    n_annotators: int = 5,
    *,
    error_rates: Sequence[float] = DEFAULT_ERROR_RATES,
    seed: int = 0,
    n_categories: Sequence[int] = N_CATEGORIES,
    task_difficulty: Sequence[float] | None = None,
    confusions: Sequence[np.ndarray] | None = None,
    item_difficulty: np.ndarray | None = None,
) -> np.ndarray:
    """Simulated annotator votes, shape (n_items, n_annotators, n_tasks), label indices (int8).

    ``true_labels`` is (n_items, n_tasks) label indices, e.g. from `label_index_matrix`. Annotator
    a votes wrongly on task t with probability
    ``error_rates[a] * task_difficulty[t] * item_difficulty[i]`` (capped at 0.95), and a wrong
    vote is drawn from row ``true`` of ``confusions[t]`` (zero diagonal, rows sum to 1). The
    defaults follow MSED when ``n_categories`` is (7, 3, 6) and are uniform otherwise. Tasks are
    simulated independently. Vectorised: 200k items take well under a second.
    """
    true = np.asarray(true_labels)
    if true.ndim != 2 or true.shape[1] != len(n_categories):
        raise ValueError(f"true_labels must be (n_items, {len(n_categories)})")
    if len(error_rates) != n_annotators:
        raise ValueError("error_rates needs one value per annotator")
    n_items, n_tasks = true.shape
    msed = tuple(n_categories) == N_CATEGORIES
    if task_difficulty is None:
        task_difficulty = DEFAULT_TASK_DIFFICULTY if msed else (1.0,) * n_tasks
    if confusions is None:
        confusions = MSED_CONFUSIONS if msed else tuple(_confusion(k, {}) for k in n_categories)
    rates = np.asarray(error_rates, dtype=np.float64)[None, :]
    if item_difficulty is not None:
        rates = rates * np.asarray(item_difficulty, dtype=np.float64)[:, None]

    rng = np.random.default_rng(seed)
    votes = np.empty((n_items, n_annotators, n_tasks), dtype=np.int8)
    for t in range(n_tasks):
        k = n_categories[t]
        truth = true[:, t].astype(np.int64)
        wrong_vote = rng.random((n_items, n_annotators)) < np.minimum(rates * task_difficulty[t], 0.95)
        cumulative = np.cumsum(np.asarray(confusions[t], dtype=np.float64), axis=1)
        cumulative /= cumulative[:, -1:]
        u = rng.random((n_items, n_annotators))
        # Inverse-CDF sampling, one row of the confusion matrix per item.
        wrong = np.zeros((n_items, n_annotators), dtype=np.int64)
        for j in range(k - 1):
            wrong += u > cumulative[truth, j][:, None]
        # Float rounding can land on the true label's zero-width slot; move it to a neighbour.
        wrong = np.where(wrong == truth[:, None], (wrong + 1) % k, wrong)
        votes[:, :, t] = np.where(wrong_vote, wrong, truth[:, None])
    return votes


# --------------------------------------------------------------------------- inference orders, durations

# All orders of the three tasks and how often annotators use each by default: desire first
# most often, the way MSED's Fig. 1 example (desire -> sentiment -> emotion) reads.
INFERENCE_ORDERS: tuple[tuple[int, int, int], ...] = tuple(itertools.permutations(range(3)))
INFERENCE_ORDER_WEIGHTS = np.array([0.40, 0.20, 0.12, 0.08, 0.12, 0.08])  # same order as INFERENCE_ORDERS


def simulate_inference_orders(n_items: int, n_annotators: int = 5, seed: int = 0) -> np.ndarray:
    """Inference order per (item, annotator), shape (n_items, n_annotators, 3), task indices.

    Each row is a permutation of (0, 1, 2) = TASKS; see `inference_order_keys`. Every annotator
    has a personal preference drawn around INFERENCE_ORDER_WEIGHTS.
    """
    rng = np.random.default_rng(seed)
    preference = rng.dirichlet(INFERENCE_ORDER_WEIGHTS * 40, size=n_annotators)
    cumulative = np.cumsum(preference, axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random((n_items, n_annotators))
    choice = (u[:, :, None] > cumulative[None, :, :]).sum(axis=2)
    return np.asarray(INFERENCE_ORDERS, dtype=np.int8)[np.minimum(choice, len(INFERENCE_ORDERS) - 1)]


def inference_order_keys(order: Sequence[int]) -> tuple[str, ...]:
    """(0, 2, 1) -> ("desire", "emotion", "sentiment")."""
    return tuple(TASKS[int(t)] for t in order)


# Median seconds per vote for each task; desire needs the most reading (MSED section 3.3).
DEFAULT_TASK_SECONDS: tuple[float, ...] = (9.0, 4.0, 6.0)


def simulate_durations(
    n_items: int,
    n_annotators: int = 5,
    *,
    seed: int = 0,
    task_seconds: Sequence[float] = DEFAULT_TASK_SECONDS,
    annotator_speed: Sequence[float] | None = None,
    inference_orders: np.ndarray | None = None,
    sigma: float = 0.5,
) -> np.ndarray:
    """Time spent on each vote in milliseconds, shape (n_items, n_annotators, n_tasks), int32.

    Log-normal around ``task_seconds[t] * annotator_speed[a]``. Speeds default to a log-normal
    draw per annotator (a slow annotator takes about twice as long as a fast one). When
    ``inference_orders`` (from `simulate_inference_orders`) is given, the first task in each
    order takes 1.6x longer, because that is when the annotator takes in the post.
    """
    rng = np.random.default_rng(seed)
    n_tasks = len(task_seconds)
    if annotator_speed is None:
        annotator_speed = np.exp(rng.normal(0.0, 0.3, n_annotators))
    median = np.asarray(task_seconds)[None, None, :] * np.asarray(annotator_speed)[None, :, None]
    seconds = median * np.exp(rng.normal(0.0, sigma, (n_items, n_annotators, n_tasks)))
    if inference_orders is not None:
        first = np.asarray(inference_orders)[:, :, 0]
        seconds = seconds * np.where(np.arange(n_tasks)[None, None, :] == first[:, :, None], 1.6, 1.0)
    return np.round(seconds * 1000).astype(np.int32)


# --------------------------------------------------------------------------- suggestions and anchoring

# The simulated pre-labeller's accuracy per task (MSED's baselines reach about these).
DEFAULT_MODEL_ACCURACY: tuple[float, ...] = (0.65, 0.8, 0.7)


def simulate_suggestions(
    true_labels: np.ndarray,
    *,
    accuracy: Sequence[float] = DEFAULT_MODEL_ACCURACY,
    seed: int = 0,
    n_categories: Sequence[int] = N_CATEGORIES,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A pre-labeller's suggestions: (labels (n_items, n_tasks), [probabilities (n_items, k) per task]).

    The suggested label is the true one with probability ``accuracy[t]``, else a wrong label with
    MSED's confusions (as `simulate_votes` draws them). Its probability is uniform in [0.4, 0.95],
    somewhat higher when right; the rest is spread evenly over the other labels.
    """
    true = np.asarray(true_labels).astype(np.int64)
    n = true.shape[0]
    rng = np.random.default_rng(seed)
    msed = tuple(n_categories) == N_CATEGORIES
    labels = np.empty(true.shape, dtype=np.int8)
    vectors = []
    for t, k in enumerate(n_categories):
        confusion = MSED_CONFUSIONS[t] if msed else _confusion(k, {})
        cumulative = np.cumsum(confusion[true[:, t]], axis=1)
        wrong = np.minimum((rng.random(n)[:, None] > cumulative).sum(axis=1), k - 1)
        # Float rounding can land on the true label's zero-width slot; move it to a neighbour.
        wrong = np.where(wrong == true[:, t], (wrong + 1) % k, wrong)
        right = rng.random(n) < accuracy[t]
        labels[:, t] = np.where(right, true[:, t], wrong)
        top = rng.uniform(0.4, 0.85, n) + np.where(right, 0.1, 0.0)
        p = np.repeat(((1 - top) / (k - 1))[:, None], k, axis=1)
        p[np.arange(n), labels[:, t]] = top
        vectors.append(p)
    return labels, vectors


def simulate_anchoring(
    votes: np.ndarray, suggested: np.ndarray, shown: np.ndarray, follow_rates: Sequence[float], *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Votes of annotators who sometimes copy a suggestion they were shown.

    votes: (n_items, n_annotators, n_tasks) own votes; suggested: (n_items, n_tasks);
    shown: (n_items, n_annotators) bool, the pairs in the experiment's shown arm. Where shown,
    annotator a replaces their vote of a task by the suggestion with probability
    ``follow_rates[a]``. Returns (votes, followed), followed (same shape as votes, bool) marking
    the copies that changed nothing as well as those that did.
    """
    rng = np.random.default_rng(seed)
    follow = rng.random(votes.shape) < np.asarray(follow_rates, dtype=np.float64)[None, :, None]
    followed = follow & np.asarray(shown, dtype=bool)[:, :, None]
    return np.where(followed, np.asarray(suggested)[:, None, :], votes).astype(votes.dtype), followed
