"""Annotator reliability models (analysis.reliability): Dawid-Skene and MACE against crowd-kit and simulated crowds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis import label_matrix, metrics, reliability
from analysis.metrics import UndefinedMetric, dawid_skene, mace

REPO_ROOT = Path(__file__).resolve().parents[2]

# crowd-kit 1.4 on pandas 3 warns about its own use of inplace=...; not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:crowdkit.*")

# crowd-kit's DawidSkene stops as soon as its "evidence lower bound" rises by less
# than tol, and with tol=0.0 that includes a *decrease*. Its bound adds the log prior
# once per vote instead of once per item, so it is not the bound EM increases and it
# can dip: on MIXED_CROWD it does after 4 iterations. tol=-inf makes crowd-kit run
# exactly n_iter iterations, as our tol=0 does.
RUN_ALL = float("-inf")


# ---------------------------------------------------------------------------
# A small crowd simulator


def uniform_noise(accuracy: float, k: int) -> np.ndarray:
    """Confusion matrix [true, given] of a rater right with probability ``accuracy``, wrong uniformly."""
    matrix = np.full((k, k), (1 - accuracy) / (k - 1))
    np.fill_diagonal(matrix, accuracy)
    return matrix


def uniform_spammer(k: int) -> np.ndarray:
    return np.full((k, k), 1.0 / k)


def constant_spammer(k: int, label: int = 0) -> np.ndarray:
    matrix = np.zeros((k, k))
    matrix[:, label] = 1.0
    return matrix


def simulate_crowd(
    n_items: int, confusions: list[np.ndarray], *, prevalence=None, missing: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(true labels (n_items,), votes (n_items, n_raters) with -1 = no vote).

    Each item gets a true label from ``prevalence`` (uniform by default); rater r
    answers from row [true] of confusions[r]; each vote is dropped with
    probability ``missing``, but every item keeps at least one vote.
    """
    rng = np.random.default_rng(seed)
    k = confusions[0].shape[0]
    truth = rng.choice(k, size=n_items, p=prevalence)
    cumulative = np.cumsum(np.stack(confusions), axis=2)  # (raters, true, given)
    draws = rng.random((n_items, len(confusions)))
    votes = (draws[:, :, None] > cumulative[np.arange(len(confusions)), truth[:, None], :]).sum(axis=2)
    votes = np.minimum(votes, k - 1)
    dropped = rng.random(votes.shape) < missing
    dropped[np.arange(n_items), rng.integers(0, len(confusions), n_items)] = False
    votes[dropped] = -1
    return truth, votes


def majority_accuracy(votes: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Accuracy of majority vote with ties broken at random, as its expectation (a tie of t classes scores 1/t)."""
    counts = metrics.counts_from_labels(votes, k)
    top = counts == counts.max(axis=1, keepdims=True)
    return float(np.mean(top[np.arange(truth.size), truth] / top.sum(axis=1)))


def accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(predicted == truth))


# ---------------------------------------------------------------------------
# crowd-kit as the independent implementation


@pytest.fixture(scope="module")
def crowdkit():
    from crowdkit import aggregation

    return aggregation


def as_frame(votes: np.ndarray):
    import pandas as pd

    item, rater = np.nonzero(votes >= 0)
    return pd.DataFrame({"task": item, "worker": rater, "label": votes[item, rater]})


def aligned(probas, n_items: int, k: int) -> np.ndarray:
    """crowd-kit's probas_ (rows and columns in order of first appearance) as (n_items, k) in index order."""
    return probas.reindex(index=range(n_items), columns=range(k)).to_numpy()


def in_first_appearance_order(votes: np.ndarray, truth: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Relabel categories and raters by their first appearance in the votes (row-major).

    crowd-kit's MACE numbers workers and labels by first appearance but sums its
    strategy counts with a sorted pandas groupby and assigns them by position,
    so its result is only right when the two orders agree; this relabelling
    makes them agree (the data are the same crowd up to names).
    """
    item, rater = np.nonzero(votes >= 0)
    given = votes[item, rater]
    _, first_label = np.unique(given, return_index=True)
    label_order = np.unique(given)[np.argsort(first_label)]
    label_rank = np.full(k, -1)
    label_rank[label_order] = np.arange(label_order.size)
    unused = label_rank < 0
    label_rank[unused] = np.arange(label_order.size, k)
    _, first_rater = np.unique(rater, return_index=True)
    rater_order = np.unique(rater)[np.argsort(first_rater)]
    relabelled = np.where(votes >= 0, label_rank[np.maximum(votes, 0)], -1)[:, rater_order]
    return relabelled, label_rank[truth]


# A crowd with two good raters, three weak ones, a uniform spammer and one who always answers 0.
K = 5
MIXED_CROWD = [
    uniform_noise(0.85, K),
    uniform_noise(0.8, K),
    uniform_noise(0.5, K),
    uniform_noise(0.45, K),
    uniform_noise(0.4, K),
    uniform_spammer(K),
    constant_spammer(K, 0),
]


# ---------------------------------------------------------------------------
# Dawid-Skene


@pytest.mark.parametrize("n_iter", [1, 5, 20])
def test_dawid_skene_equals_crowd_kit_for_the_same_iterations(crowdkit, n_iter):
    truth, votes = simulate_crowd(3000, MIXED_CROWD, missing=0.2, seed=1)
    reference = crowdkit.DawidSkene(n_iter=n_iter, tol=RUN_ALL)
    expected = aligned(reference.fit_predict_proba(as_frame(votes)), votes.shape[0], K)
    assert len(reference.loss_history_) == n_iter  # crowd-kit ran every iteration too

    result = dawid_skene(votes, n_categories=K, max_iter=n_iter, tol=0)

    assert result.iterations == n_iter
    np.testing.assert_allclose(result.posteriors, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.priors, reference.priors_.reindex(range(K)).to_numpy(), atol=1e-6)
    # crowd-kit's errors_ are indexed (worker, given) with a column per true label.
    errors = reference.errors_
    workers = errors.index.get_level_values("worker").to_numpy()
    given = errors.index.get_level_values("label").to_numpy()
    np.testing.assert_allclose(
        result.confusions[workers, :, given], errors[list(range(K))].to_numpy(), rtol=0, atol=1e-6
    )


def test_dawid_skene_equals_crowd_kit_with_tol_zero_where_its_bound_never_dips(crowdkit):
    # On this crowd (MIXED_CROWD without its two spammers) crowd-kit's bound (see RUN_ALL)
    # rises every iteration, so its literal tol=0.0 runs all n_iter iterations as ours does.
    truth, votes = simulate_crowd(3000, MIXED_CROWD[:5], missing=0.2, seed=16)
    reference = crowdkit.DawidSkene(n_iter=15, tol=0.0)
    expected = aligned(reference.fit_predict_proba(as_frame(votes)), votes.shape[0], K)
    assert len(reference.loss_history_) == 15

    result = dawid_skene(votes, n_categories=K, max_iter=15, tol=0)

    np.testing.assert_allclose(result.posteriors, expected, rtol=0, atol=1e-6)


def test_dawid_skene_initialises_from_majority_vote_posteriors_like_crowd_kit(crowdkit):
    _, votes = simulate_crowd(500, MIXED_CROWD, missing=0.3, seed=2)
    shares = metrics.counts_from_labels(votes, K) / (votes >= 0).sum(axis=1, keepdims=True)
    majority = aligned(crowdkit.MajorityVote().fit_predict_proba(as_frame(votes)), votes.shape[0], K)
    np.testing.assert_allclose(np.nan_to_num(majority), shares)

    # With no iteration the posteriors are the initialisation itself.
    np.testing.assert_allclose(dawid_skene(votes, n_categories=K, max_iter=0).posteriors, shares)


def test_dawid_skene_with_control_items_equals_crowd_kit_with_true_labels(crowdkit):
    import pandas as pd

    truth, votes = simulate_crowd(2000, MIXED_CROWD, missing=0.2, seed=3)
    control = {int(i): int(truth[i]) for i in range(0, 2000, 10)}
    reference = crowdkit.DawidSkene(n_iter=10, tol=RUN_ALL)
    expected = aligned(reference.fit_predict_proba(as_frame(votes), true_labels=pd.Series(control)), votes.shape[0], K)

    result = dawid_skene(votes, n_categories=K, max_iter=10, tol=0, control=control)

    np.testing.assert_allclose(result.posteriors, expected, rtol=0, atol=1e-6)


def test_dawid_skene_labels_agree_with_crowd_kit_at_convergence(crowdkit):
    truth, votes = simulate_crowd(5000, MIXED_CROWD, missing=0.1, seed=4)
    # crowd-kit run to 100 iterations (see RUN_ALL); ours stops at its default tol.
    reference = crowdkit.DawidSkene(n_iter=100, tol=RUN_ALL)
    expected = aligned(reference.fit_predict_proba(as_frame(votes)), votes.shape[0], K)

    result = dawid_skene(votes, n_categories=K)

    assert result.iterations < 100  # converged before max_iter
    agreement = np.mean(result.labels == expected.argmax(axis=1))
    print(f"Dawid-Skene argmax agreement with crowd-kit at convergence: {agreement:.4f}")
    assert agreement >= 0.99


def test_dawid_skene_with_many_raters_equals_crowd_kit(crowdkit):
    # 30 raters x 7 classes is too many for one int64 key per row, so no rows are merged.
    k = 7
    raters = [uniform_noise(a, k) for a in np.linspace(0.3, 0.9, 29)] + [constant_spammer(k, 3)]
    _, votes = simulate_crowd(800, raters, missing=0.8, seed=5)
    reference = crowdkit.DawidSkene(n_iter=5, tol=RUN_ALL)
    expected = aligned(reference.fit_predict_proba(as_frame(votes)), votes.shape[0], k)

    result = dawid_skene(votes, n_categories=k, max_iter=5, tol=0)

    np.testing.assert_allclose(result.posteriors, expected, rtol=0, atol=1e-6)


def test_dawid_skene_beats_majority_vote_on_a_crowd_with_spammers_and_weak_raters():
    truth, votes = simulate_crowd(4000, MIXED_CROWD, seed=6)
    result = dawid_skene(votes, n_categories=K)
    ours, majority = accuracy(result.labels, truth), majority_accuracy(votes, truth, K)
    print(f"accuracy: Dawid-Skene {ours:.4f}, majority vote {majority:.4f}")
    assert ours > majority + 0.03
    # The constant spammer's confusion matrix says so: it answers 0 whatever the truth.
    np.testing.assert_allclose(result.confusions[6, :, 0], 1.0, atol=1e-3)


def test_control_items_are_pinned_and_fix_a_crowd_whose_majority_swaps_two_labels():
    k = 3
    swap = uniform_noise(0.8, k)[:, [1, 0, 2]]  # says 1 for 0 and 0 for 1
    truth, votes = simulate_crowd(3000, [swap, swap, swap, uniform_noise(0.8, k), uniform_noise(0.8, k)], seed=7)
    control_items = np.arange(0, 3000, 5)
    control = {int(i): int(truth[i]) for i in control_items}
    others = np.setdiff1d(np.arange(3000), control_items)

    without = dawid_skene(votes, n_categories=k)
    with_control = dawid_skene(votes, n_categories=k, control=control)

    np.testing.assert_array_equal(with_control.posteriors[control_items], np.eye(k)[truth[control_items]])
    plain = accuracy(without.labels[others], truth[others])
    controlled = accuracy(with_control.labels[others], truth[others])
    print(f"accuracy on non-control items: without control {plain:.4f}, with 20% control items {controlled:.4f}")
    assert controlled > plain + 0.3
    assert controlled > 0.9


def test_tol_zero_runs_exactly_max_iter_and_a_positive_tol_stops_early():
    _, votes = simulate_crowd(1000, MIXED_CROWD, seed=8)
    for max_iter in (0, 1, 7, 150):
        assert dawid_skene(votes, n_categories=K, max_iter=max_iter, tol=0).iterations == max_iter
    assert dawid_skene(votes, n_categories=K, max_iter=150, tol=1e-4).iterations < 150


def test_dawid_skene_rows_sum_to_one_with_missing_votes_and_silent_raters_and_items():
    _, votes = simulate_crowd(600, MIXED_CROWD, missing=0.4, seed=9)
    votes[:5] = -1  # items without votes
    votes = np.column_stack([votes, np.full(600, -1)])  # a rater without votes
    result = dawid_skene(votes, n_categories=K, control={0: 2})

    assert result.posteriors.shape == (600, K)
    assert result.confusions.shape == (votes.shape[1], K, K)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.confusions.sum(axis=2), 1.0)
    np.testing.assert_allclose(result.priors.sum(), 1.0)
    np.testing.assert_allclose(result.posteriors[1:5], np.tile(result.priors, (4, 1)))  # no votes: the priors
    np.testing.assert_array_equal(result.posteriors[0], np.eye(K)[2])  # a control item without votes
    np.testing.assert_allclose(result.confusions[-1], 1.0 / K)  # a rater without votes


def test_missing_votes_may_be_nan_or_minus_one():
    _, votes = simulate_crowd(300, MIXED_CROWD, missing=0.3, seed=10)
    as_nan = np.where(votes >= 0, votes, np.nan).astype(np.float64)
    np.testing.assert_array_equal(
        dawid_skene(votes, n_categories=K).posteriors, dawid_skene(as_nan, n_categories=K).posteriors
    )
    np.testing.assert_array_equal(
        mace(votes, n_categories=K, n_restarts=2).posteriors, mace(as_nan, n_categories=K, n_restarts=2).posteriors
    )


# ---------------------------------------------------------------------------
# MACE


def test_mace_labels_agree_with_crowd_kit(crowdkit):
    truth, votes = simulate_crowd(3000, MIXED_CROWD, missing=0.1, seed=11)
    votes, truth = in_first_appearance_order(votes, truth, K)
    # crowd-kit reseeds every restart with the same random_state, so its restarts repeat one run.
    reference = crowdkit.MACE(n_restarts=1, n_iter=50, random_state=0)
    expected = aligned(reference.fit_predict_proba(as_frame(votes)), votes.shape[0], K)

    result = mace(votes, n_categories=K)

    agreement = np.mean(result.labels == expected.argmax(axis=1))
    print(f"MACE argmax agreement with crowd-kit: {agreement:.4f}")
    assert agreement >= 0.97
    # crowd-kit's spamming_[:, 1] is exp(E[log theta]) under the same Beta posterior as our mean.
    np.testing.assert_allclose(result.competence, reference.spamming_[:, 1], atol=0.02)


def test_mace_beats_majority_vote_on_a_crowd_with_spammers_and_weak_raters():
    truth, votes = simulate_crowd(4000, MIXED_CROWD, seed=12)
    result = mace(votes, n_categories=K)
    ours, majority = accuracy(result.labels, truth), majority_accuracy(votes, truth, K)
    print(f"accuracy: MACE {ours:.4f}, majority vote {majority:.4f}")
    assert ours > majority + 0.03


def test_mace_competence_ranks_raters_as_their_accuracy_does():
    k = 4
    accuracies = [0.95, 0.3, 0.8, 0.45, 0.65]  # column order deliberately not sorted
    truth, votes = simulate_crowd(3000, [uniform_noise(a, k) for a in accuracies] + [uniform_spammer(k)], seed=13)
    competence = mace(votes, n_categories=k).competence
    true_accuracy = np.array([accuracy(votes[:, r], truth) for r in range(votes.shape[1])])

    np.testing.assert_array_equal(np.argsort(-competence), np.argsort(-true_accuracy))
    assert competence[-1] < 0.1  # the uniform spammer


def test_mace_rows_sum_to_one_and_items_without_votes_are_uniform():
    _, votes = simulate_crowd(400, MIXED_CROWD, missing=0.4, seed=14)
    votes[:3] = -1
    result = mace(votes, n_categories=K, n_restarts=3)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.strategies.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.posteriors[:3], 1.0 / K)
    assert np.all((result.competence > 0) & (result.competence < 1))


def test_mace_restarts_keep_the_best_likelihood_and_a_seed_reproduces_it():
    _, votes = simulate_crowd(500, MIXED_CROWD, missing=0.2, seed=15)
    # The first of 5 restarts with seed 0 is the single run with seed 0; the best of 5 can only be as good or better.
    single = mace(votes, n_categories=K, n_restarts=1, seed=0)
    many = mace(votes, n_categories=K, n_restarts=5, seed=0)
    assert many.log_marginal_likelihood >= single.log_marginal_likelihood
    again = mace(votes, n_categories=K, n_restarts=5, seed=0)
    np.testing.assert_array_equal(many.posteriors, again.posteriors)


def test_digamma_matches_scipy():
    from scipy.special import digamma

    x = np.concatenate([np.linspace(1e-3, 10, 500), np.geomspace(10, 1e7, 100)])
    # Absolute error: near its root (x = 1.4616...) digamma is ~0 and relative error means nothing.
    np.testing.assert_allclose(reliability._digamma(x), digamma(x), rtol=1e-12, atol=1e-11)


# ---------------------------------------------------------------------------
# Undefined cases, validation and purity


@pytest.mark.parametrize("model", [dawid_skene, mace])
@pytest.mark.parametrize("votes", [np.full((4, 3), -1), np.zeros((0, 3), dtype=int), np.full((2, 2), np.nan)])
def test_no_votes_is_undefined(model, votes):
    with pytest.raises(UndefinedMetric, match="without votes"):
        model(votes, n_categories=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": [0, 1, 2]}, "2-D"),
        ({"labels": [[0, 3]]}, "out of range"),
        ({"labels": [[0, -2]]}, ">= 0"),
        ({"labels": [[0.5, 1]]}, "integer"),
        ({"n_categories": 0}, "n_categories"),
        ({"n_categories": 2.5}, "n_categories"),
        ({"max_iter": -1}, "max_iter"),
        ({"tol": -1e-3}, "tol"),
        ({"tol": float("nan")}, "tol"),
        ({"control": {5: 0}}, "item index"),
        ({"control": {0: 3}}, "class"),
        ({"control": {0: -1}}, "class"),
        ({"control": [(0, 1)]}, "control must map"),
    ],
)
def test_dawid_skene_rejects_bad_input(kwargs, message):
    arguments = {"labels": [[0, 1], [1, 1]], "n_categories": 3} | kwargs
    with pytest.raises(ValueError, match=message):
        dawid_skene(arguments.pop("labels"), **arguments)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_restarts": 0}, "n_restarts"), ({"max_iter": -1}, "max_iter"), ({"n_categories": -1}, "n_categories")],
)
def test_mace_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mace([[0, 1], [1, 1]], **({"n_categories": 3} | kwargs))


def test_results_are_frozen_and_reexported_from_metrics():
    result = dawid_skene([[0, 1], [1, 1]], n_categories=2)
    with pytest.raises(AttributeError):
        result.iterations = 3
    assert metrics.dawid_skene is reliability.dawid_skene and metrics.mace is reliability.mace
    assert metrics.DawidSkeneResult is reliability.DawidSkeneResult and metrics.MaceResult is reliability.MaceResult
    assert metrics.UndefinedMetric is label_matrix.UndefinedMetric


@pytest.mark.parametrize(
    "code",
    [
        "import analysis.reliability; from analysis.metrics import dawid_skene, mace",
        "from analysis.metrics import dawid_skene, mace; import analysis.reliability",
    ],
)
def test_reliability_imports_no_django_and_no_cycle(code):
    check = code + "; import sys; assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'"
    completed = subprocess.run([sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
