"""Gold labels, annotator quality, label confusion, modality difference, model metrics and keywords."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import metrics
from analysis.metrics import UndefinedMetric
from analysis.text import STOP_WORDS, tokenize

# --- majority gold and leave-one-out -----------------------------------------------


def test_majority_gold_returns_label_votes_and_tie_flag_per_item():
    labels = np.array(
        [
            [0, 0, 1, -1, 2],  # 0 wins 2 of 4
            [1, 2, 1, 2, -1],  # 1 and 2 tie
            [-1, -1, -1, -1, -1],  # no votes
            [3, -1, -1, -1, -1],  # a single vote is a majority of one
        ]
    )

    gold = metrics.majority_gold(labels, n_categories=4)

    assert gold.label.tolist() == [0, -1, -1, 3]
    assert gold.votes_for.tolist() == [2, 2, 0, 1]
    assert gold.votes_total.tolist() == [4, 4, 0, 1]
    assert gold.tie.tolist() == [False, True, False, False]


def test_majority_gold_agrees_with_an_item_by_item_count():
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, 4, size=(500, 5))

    gold = metrics.majority_gold(labels, n_categories=4)
    for i, row in enumerate(labels):
        tally = np.bincount(row[row >= 0], minlength=4)
        winners = np.flatnonzero(tally == tally.max())
        expected = int(winners[0]) if tally.max() > 0 and winners.size == 1 else -1
        assert gold.label[i] == expected


def test_leave_one_out_agreement_excludes_own_vote_ties_and_lonely_votes():
    labels = np.array(
        [
            [0, 0, 0],  # everyone matches the other two
            [0, 1, 1],  # rater 0 disagrees with the others' majority (1); raters 1, 2 see a 0-1 tie
            [2, -1, -1],  # rater 0 alone
            [1, 1, -1],  # raters 0 and 1 agree
        ]
    )

    result = metrics.leave_one_out_agreement(labels)

    assert result.n_used.tolist() == [3, 2, 1]
    assert result.n_tied.tolist() == [0, 1, 1]
    assert result.n_alone.tolist() == [1, 0, 0]
    assert result.agreement.tolist() == [pytest.approx(2 / 3), 1.0, 1.0]


def test_leave_one_out_agreement_is_nan_for_a_rater_with_no_usable_item():
    result = metrics.leave_one_out_agreement(np.array([[0, -1], [1, -1]]))

    assert np.isnan(result.agreement).all()
    assert result.n_alone.tolist() == [2, 0]


# --- label confusion (MSED Fig. 3) --------------------------------------------------


def test_label_confusion_sums_to_one_with_percent_agreement_on_the_diagonal():
    rng = np.random.default_rng(1)
    labels = rng.integers(-1, 3, size=(200, 5))

    matrix = metrics.label_confusion(labels, n_categories=3)

    assert matrix.sum() == pytest.approx(1)
    assert np.allclose(matrix, matrix.T)
    assert np.trace(matrix) == pytest.approx(metrics.percent_agreement(labels))


def test_label_confusion_counts_ordered_annotator_pairs_and_offers_row_normalisation():
    labels = np.array([[0, 0, 1], [1, 1, -1]])

    raw = metrics.label_confusion(labels, normalize=None)
    # Item 1: (0,0) x2, (0,1) x2, (1,0) x2; item 2: (1,1) x2.
    assert raw.tolist() == [[2, 2], [2, 2]]
    assert np.allclose(metrics.label_confusion(labels), [[1 / 6, 1 / 6], [1 / 6, 1 / 2]])
    rows = metrics.label_confusion(labels, normalize="row")
    assert np.allclose(rows.sum(axis=1), 1)
    assert np.allclose(rows, [[0.5, 0.5], [0.25, 0.75]])


def test_label_confusion_rows_of_unused_categories_are_nan():
    rows = metrics.label_confusion(np.array([[0, 1], [1, 1]]), n_categories=3, normalize="row")

    assert np.isnan(rows[2]).all() and np.isfinite(rows[:2]).all()


# --- modality difference (CH-SIMS eq. 1) -------------------------------------------------


def test_modality_difference_is_the_mean_squared_gap_of_mean_scores():
    # Sentiment categories 0 = negative, 1 = neutral, 2 = positive, scored -1 / 0 / 1.
    rounds = {
        "text": np.array([[2, 2], [0, 1], [1, 1]]),  # A = 1, -0.5, 0
        "image": np.array([[2, 0], [0, 0], [1, -1]]),  # A = 0, -1, 0
        "multimodal": np.array([[2, 2], [-1, -1], [2, 2]]),  # A = 1, (none), 1
    }

    result = metrics.modality_difference(rounds, scores=[-1, 0, 1])

    assert result.names == ["text", "image", "multimodal"]
    assert result.difference[0, 1] == pytest.approx((1 + 0.25 + 0) / 3)
    assert result.difference[0, 2] == pytest.approx((0 + 1) / 2)
    assert result.n_items.tolist() == [[3, 3, 2], [3, 3, 2], [2, 2, 2]]
    assert np.allclose(result.difference, result.difference.T)
    assert np.allclose(np.diag(result.difference), 0)


def test_modality_difference_for_nominal_tasks_is_the_majority_disagreement_rate():
    rounds = {
        "text": np.array([[0, 0, 1], [2, 2, 2], [1, 0, -1], [3, 3, 3]]),  # majorities 0, 2, tie, 3
        "image": np.array([[0, 0, 0], [1, 1, 2], [1, 1, 1], [3, 1, 3]]),  # majorities 0, 1, 1, 3
    }

    result = metrics.modality_difference(rounds)

    assert result.difference[0, 1] == pytest.approx(1 / 3)
    assert result.n_items[0, 1] == 3


def test_modality_difference_refuses_rounds_over_different_items():
    with pytest.raises(ValueError, match="same items"):
        metrics.modality_difference({"text": np.zeros((3, 2), int), "image": np.zeros((4, 2), int)})


# --- classification metrics ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(50))
def test_classification_metrics_equal_sklearn_with_zero_division_zero(seed):
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    n = int(rng.integers(1, 80))
    # Classes k-2 and k-1 are often absent from y_true, sometimes from both arrays.
    y_true = rng.integers(0, max(1, k - 2), n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k - 1, n))
    every_class = list(range(k))

    result = metrics.classification_metrics(y_true, y_pred, n_categories=k)

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=every_class, zero_division=0
    )
    macro = precision_recall_fscore_support(y_true, y_pred, labels=every_class, average="macro", zero_division=0)
    assert result["precision"] == pytest.approx(macro[0], abs=1e-9)
    assert result["recall"] == pytest.approx(macro[1], abs=1e-9)
    assert result["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=every_class, average="macro", zero_division=0), abs=1e-9
    )
    assert result["weighted_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=every_class, average="weighted", zero_division=0), abs=1e-9
    )
    assert result["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-9)
    assert result["confusion"] == confusion_matrix(y_true, y_pred, labels=every_class).tolist()
    assert [c["precision"] for c in result["per_class"]] == pytest.approx(precision, abs=1e-9)
    assert [c["recall"] for c in result["per_class"]] == pytest.approx(recall, abs=1e-9)
    assert [c["f1"] for c in result["per_class"]] == pytest.approx(f1, abs=1e-9)
    assert [c["support"] for c in result["per_class"]] == support.tolist()


def test_classification_metrics_return_plain_python_types_for_the_training_loop():
    result = metrics.classification_metrics([0, 1, 1, 2], [0, 1, 2, 2])

    assert set(result) == {"precision", "recall", "macro_f1", "weighted_f1", "accuracy", "confusion", "per_class"}
    assert all(type(result[key]) is float for key in ("precision", "recall", "macro_f1", "weighted_f1", "accuracy"))
    assert result["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert all(type(value) is int for row in result["confusion"] for value in row)
    assert result["per_class"][1] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}


def test_classification_metrics_default_to_max_label_plus_one_classes():
    result = metrics.classification_metrics([0, 2], [0, 2])

    assert len(result["per_class"]) == 3  # class 1 is absent from both and scores 0
    assert result["macro_f1"] == pytest.approx(2 / 3)
    assert result["accuracy"] == 1.0


def test_classification_metrics_refuse_empty_and_out_of_range_input():
    with pytest.raises(UndefinedMetric, match="no items"):
        metrics.classification_metrics([], [])
    with pytest.raises(ValueError, match="out of range for n_categories=2"):
        metrics.classification_metrics([0, 1], [0, 2], n_categories=2)
    with pytest.raises(ValueError, match=">= 0"):
        metrics.classification_metrics([0, -1], [0, 1])


# --- keywords (MSED Fig. 5) -------------------------------------------------------------


def test_tokenize_drops_urls_mentions_stop_words_and_keeps_hashtag_words():
    text = "My mother and I at the beach! #Family @bob https://t.co/xyz don't 2024 A"

    assert tokenize(text) == ["mother", "beach", "family"]
    assert "don't" in STOP_WORDS


def keyword_corpus() -> tuple[list[str], np.ndarray]:
    desire = ["my mother and father smiling", "a couple in love with their son", "mother holding her little son"]
    none = ["close up of a background texture", "a senior girl using a laptop", "background close up shot"]
    outside_both_groups = ["a photo of a street"] * 3
    return desire + none + outside_both_groups, np.array([1, 2, 3, 0, 0, 0, 4, 4, 4])


def test_keywords_rank_words_typical_of_a_group_against_the_other_group():
    texts, labels = keyword_corpus()

    result = metrics.keywords(texts, labels, groups={"desire": [1, 2, 3], "none": [0]}, top_k=3)

    assert [word for word, _, _ in result["desire"]][:2] == ["mother", "son"]
    assert result["desire"][0][2] == 2  # "mother" occurs twice in the desire texts
    assert result["desire"][0][1] > 0
    assert [word for word, _, _ in result["none"]][:2] == ["background", "close"]
    assert all(word not in ("photo", "street") for group in result.values() for word, _, _ in group)


def test_keywords_z_score_follows_monroe_et_al_informative_dirichlet_prior():
    texts = ["apple apple pear", "pear plum", "apple"]
    labels = np.array([0, 1, 0])

    result = metrics.keywords(texts, labels, top_k=10)

    # Counts: class 0 apple 3, pear 1; class 1 pear 1, plum 1; corpus apple 3, pear 2, plum 1 (total 6).
    # alpha_w = corpus counts, alpha_0 = 6.
    y_group, y_rest, alpha, n_group, n_rest, alpha_0 = 3, 0, 3, 4, 2, 6
    delta = np.log((y_group + alpha) / (n_group + alpha_0 - y_group - alpha)) - np.log(
        (y_rest + alpha) / (n_rest + alpha_0 - y_rest - alpha)
    )
    z = delta / np.sqrt(1 / (y_group + alpha) + 1 / (y_rest + alpha))
    assert result[0][0] == ("apple", pytest.approx(z), 3)
    assert result[1][0][0] == "plum"


def test_keywords_need_two_groups():
    with pytest.raises(UndefinedMetric, match="at least two groups"):
        metrics.keywords(["mother and son"], np.array([1]))
