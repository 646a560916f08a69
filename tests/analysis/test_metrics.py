"""Agreement coefficients: published worked examples, independent implementations, edge cases, bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import metrics
from analysis.metrics import UndefinedMetric, agreement

SEEDS = range(50)

# Wikipedia "Fleiss' kappa" worked example: 10 items, 14 raters, 5 categories.
WIKIPEDIA_FLEISS_COUNTS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the example
# with missing data: 4 observers x 12 units, nominal values 1..5, 0 = missing here.
# The same data is irrCAC's `cac.raw4raters` (Gwet's Handbook), whose documentation
# reports AC1 and Fleiss' kappa on it.
KRIPPENDORFF_2011 = (
    np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 0],
            [0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 3],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0],
        ]
    ).T
    - 1
)  # values 1..5 -> categories 0..4, missing 0 -> -1


def labels_from_counts(counts: np.ndarray) -> np.ndarray:
    """Expand a (items, k) count table with equal row sums into an (items, raters) label matrix."""
    return np.array([np.repeat(np.arange(counts.shape[1]), row) for row in counts])


def random_labels(seed: int, missing: float = 0.0) -> np.ndarray:
    """Realistic votes: a true label per item, raters agree with it with a seed-dependent probability."""
    rng = np.random.default_rng(seed)
    n_items, n_raters, k = rng.integers(5, 60), rng.integers(2, 7), rng.integers(2, 8)
    prevalence = rng.dirichlet(np.ones(k))
    truth = rng.choice(k, size=n_items, p=prevalence)
    agree = rng.random((n_items, n_raters)) < rng.uniform(0.2, 0.9)
    labels = np.where(agree, truth[:, None], rng.choice(k, size=(n_items, n_raters), p=prevalence))
    labels[rng.random(labels.shape) < missing] = -1
    return labels


def has_variation(labels: np.ndarray) -> bool:
    pairable = labels[(labels >= 0).sum(axis=1) >= 2]
    return np.unique(pairable[pairable >= 0]).size >= 2


def gwet_by_loops(labels: np.ndarray, k: int) -> tuple[float, float, float]:
    """(percent agreement, generalised Fleiss kappa, AC1) written item by item from Gwet's Handbook formulas."""
    p_agree, prevalence, n_pairable, n_rated = 0.0, np.zeros(k), 0, 0
    for row in labels:
        votes = row[row >= 0]
        if votes.size == 0:
            continue
        n_rated += 1
        for c in range(k):
            prevalence[c] += np.sum(votes == c) / votes.size
        if votes.size >= 2:
            n_pairable += 1
            p_agree += sum(np.sum(votes == c) * (np.sum(votes == c) - 1) for c in range(k)) / (
                votes.size * (votes.size - 1)
            )
    p_agree /= n_pairable
    prevalence /= n_rated
    fleiss_chance = np.sum(prevalence**2)
    ac1_chance = np.sum(prevalence * (1 - prevalence)) / (k - 1)
    return (
        p_agree,
        (p_agree - fleiss_chance) / (1 - fleiss_chance),
        (p_agree - ac1_chance) / (1 - ac1_chance),
    )


# --- published worked examples ----------------------------------------------


def test_fleiss_kappa_reproduces_the_wikipedia_worked_example():
    labels = labels_from_counts(WIKIPEDIA_FLEISS_COUNTS)

    assert labels.shape == (10, 14)
    assert round(metrics.fleiss_kappa(labels), 3) == 0.210
    assert round(metrics.fleiss_kappa_from_counts(WIKIPEDIA_FLEISS_COUNTS), 3) == 0.210
    # The intermediate values printed in the example: P-bar = 0.378.
    assert round(metrics.percent_agreement(labels), 3) == 0.378


def test_per_category_fleiss_kappa_is_the_kappa_of_each_category_against_the_rest():
    per_category = metrics.fleiss_kappa_per_category_from_counts(WIKIPEDIA_FLEISS_COUNTS)

    for c in range(5):
        collapsed = np.column_stack(
            [WIKIPEDIA_FLEISS_COUNTS[:, c], WIKIPEDIA_FLEISS_COUNTS.sum(axis=1) - WIKIPEDIA_FLEISS_COUNTS[:, c]]
        )
        assert per_category[c] == pytest.approx(metrics.fleiss_kappa_from_counts(collapsed), abs=1e-12)


def test_krippendorff_alpha_reproduces_the_2011_nominal_example_with_missing_values():
    assert (KRIPPENDORFF_2011 >= 0).sum(axis=1).tolist() == [3, 4, 4, 4, 4, 4, 4, 4, 4, 3, 2, 1]
    assert round(metrics.krippendorff_alpha(KRIPPENDORFF_2011), 3) == 0.743


def test_gwet_ac1_and_generalised_fleiss_reproduce_gwets_published_example():
    # irrCAC documentation for cac.raw4raters: AC1 0.77544 (pa 0.81818, pe 0.19032),
    # Fleiss' kappa 0.76117 (pe 0.23872); the single-vote unit 12 counts in pe.
    assert round(metrics.percent_agreement(KRIPPENDORFF_2011), 5) == 0.81818
    assert round(metrics.gwet_ac1(KRIPPENDORFF_2011), 5) == 0.77544
    assert round(metrics.fleiss_kappa(KRIPPENDORFF_2011), 5) == 0.76117


def test_cohen_kappa_reproduces_the_wikipedia_yes_no_example():
    # 50 proposals: both yes 20, A yes / B no 5, A no / B yes 10, both no 15 -> p_o 0.7, p_e 0.5.
    a = np.array([1] * 25 + [0] * 25)
    b = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15)

    assert metrics.cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)


def test_percent_agreement_is_the_mean_share_of_agreeing_rater_pairs():
    # Item 1: 3 of 3 agree (6/6 ordered pairs); item 2: two of three agree (2/6).
    labels = np.array([[0, 0, 0], [1, 1, 2]])

    assert metrics.percent_agreement(labels) == pytest.approx((1 + 2 / 6) / 2)


# --- independent implementations --------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_kappa_equals_statsmodels_and_nltk_pi_on_complete_data(seed):
    from nltk.metrics.agreement import AnnotationTask
    from statsmodels.stats.inter_rater import fleiss_kappa

    labels = random_labels(seed)
    if not has_variation(labels):
        pytest.skip("one category only")
    k = int(labels.max()) + 1
    counts = metrics.counts_from_labels(labels, k)
    task = AnnotationTask([(r, i, int(labels[i, r])) for i in range(labels.shape[0]) for r in range(labels.shape[1])])

    assert metrics.fleiss_kappa(labels) == pytest.approx(fleiss_kappa(counts), abs=1e-9)
    assert metrics.fleiss_kappa(labels) == pytest.approx(task.pi(), abs=1e-9)
    assert metrics.percent_agreement(labels) == pytest.approx(task.avg_Ao(), abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_cohen_kappa_equals_sklearn_and_statsmodels(seed):
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import cohens_kappa

    labels = random_labels(seed)
    a, b = labels[:, 0], labels[:, 1]
    k = int(labels.max()) + 1
    table = np.bincount(a * k + b, minlength=k * k).reshape(k, k)
    if np.count_nonzero(table.sum(axis=0) * table.sum(axis=1)) == 1 and np.trace(table) == table.sum():
        pytest.skip("both raters used one and the same category")

    assert metrics.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)
    assert metrics.cohen_kappa(a, b) == pytest.approx(cohens_kappa(table, return_results=False), abs=1e-9)


@pytest.mark.filterwarnings("ignore::UserWarning")  # sklearn warns where kappa is undefined (NaN)
@pytest.mark.parametrize("seed", SEEDS)
def test_pairwise_cohen_equals_sklearn_on_each_pairs_shared_items_and_nltk_mean(seed):
    from nltk.metrics.agreement import AnnotationTask
    from sklearn.metrics import cohen_kappa_score

    complete = random_labels(seed)
    labels = complete.copy()
    labels[np.random.default_rng(seed + 1000).random(labels.shape) < 0.25] = -1
    kappa, n_shared = metrics.pairwise_cohen(labels)

    n_raters = labels.shape[1]
    for r in range(n_raters):
        for s in range(n_raters):
            shared = (labels[:, r] >= 0) & (labels[:, s] >= 0)
            assert n_shared[r, s] == shared.sum()
            if r == s or not shared.any():
                assert np.isnan(kappa[r, s])
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                expected = cohen_kappa_score(labels[shared, r], labels[shared, s])
            if np.isnan(expected):
                assert np.isnan(kappa[r, s])
            else:
                assert kappa[r, s] == pytest.approx(expected, abs=1e-9)

    # NLTK's kappa() is the mean of pairwise Cohen's kappa; it needs complete data.
    full_kappa, _ = metrics.pairwise_cohen(complete)
    upper = full_kappa[np.triu_indices(n_raters, 1)]
    if np.all(np.isfinite(upper)):
        task = AnnotationTask([(r, i, int(complete[i, r])) for i in range(complete.shape[0]) for r in range(n_raters)])
        assert upper.mean() == pytest.approx(task.kappa(), abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_krippendorff_alpha_equals_the_krippendorff_package_and_nltk_with_missing_votes(seed):
    import krippendorff
    from nltk.metrics.agreement import AnnotationTask

    labels = random_labels(seed, missing=0.3)
    if not np.any((labels >= 0).sum(axis=1) >= 2) or not has_variation(labels):
        pytest.skip("no pairable variation")
    k = int(labels.max()) + 1
    reliability = np.where(labels >= 0, labels, np.nan).T
    task = AnnotationTask(
        [(r, i, int(labels[i, r])) for i in range(labels.shape[0]) for r in range(labels.shape[1]) if labels[i, r] >= 0]
    )
    ours = metrics.krippendorff_alpha(labels)

    theirs = krippendorff.alpha(
        reliability_data=reliability, level_of_measurement="nominal", value_domain=list(range(k))
    )
    assert ours == pytest.approx(theirs, abs=1e-9)
    assert ours == pytest.approx(task.alpha(), abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_ac1_and_fleiss_with_missing_votes_equal_gwets_formulas_written_item_by_item(seed):
    labels = random_labels(seed, missing=0.3)
    if not np.any((labels >= 0).sum(axis=1) >= 2) or not has_variation(labels):
        pytest.skip("no pairable variation")
    k = int(labels.max()) + 1
    percent, fleiss, ac1 = gwet_by_loops(labels, k)

    assert metrics.percent_agreement(labels) == pytest.approx(percent, abs=1e-9)
    assert metrics.fleiss_kappa(labels) == pytest.approx(fleiss, abs=1e-9)
    assert metrics.gwet_ac1(labels) == pytest.approx(ac1, abs=1e-9)


def test_fleiss_kappa_with_unequal_votes_keeps_single_votes_in_the_prevalence_only():
    labels = np.array([[0, 0, 1], [1, 1, 1], [0, 1, -1], [2, -1, -1]])
    with_single = metrics.fleiss_kappa(labels)
    without_single = metrics.fleiss_kappa(labels[:3])

    # The single vote (category 2) adds no pair, so percent agreement is unchanged,
    assert metrics.percent_agreement(labels) == metrics.percent_agreement(labels[:3])
    # but it shifts the chance term, as in Gwet's generalised Fleiss kappa.
    assert with_single != without_single
    assert with_single == pytest.approx(gwet_by_loops(labels, 3)[1], abs=1e-12)
    summary = metrics.agreement_summary(labels, n_boot=0)
    assert (summary["n_items_used"], summary["n_items_excluded"], summary["equal_votes"]) == (3, 1, False)


def test_label_and_count_inputs_give_the_same_values_and_nan_marks_missing_votes():
    labels = random_labels(3, missing=0.2)
    as_float = np.where(labels >= 0, labels, np.nan)
    counts = metrics.counts_from_labels(labels)

    assert metrics.krippendorff_alpha(as_float) == metrics.krippendorff_alpha(labels)
    assert metrics.fleiss_kappa_from_counts(counts) == metrics.fleiss_kappa(labels)
    assert metrics.gwet_ac1_from_counts(counts) == metrics.gwet_ac1(labels)


# --- edge cases ---------------------------------------------------------------


def test_perfect_agreement_over_several_categories_is_one_everywhere():
    labels = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2], [1, 1, 1]])

    assert metrics.percent_agreement(labels) == 1
    assert metrics.fleiss_kappa(labels) == pytest.approx(1)
    assert metrics.krippendorff_alpha(labels) == pytest.approx(1)
    assert metrics.gwet_ac1(labels) == pytest.approx(1)
    assert metrics.cohen_kappa(labels[:, 0], labels[:, 1]) == pytest.approx(1)
    assert np.allclose(metrics.fleiss_kappa_per_category(labels), 1)


def test_a_single_label_makes_kappa_and_alpha_undefined_with_the_reason():
    labels = np.zeros((6, 3), dtype=int)

    for function in (metrics.fleiss_kappa, metrics.krippendorff_alpha, metrics.fleiss_kappa_per_category):
        with pytest.raises(UndefinedMetric, match="every vote is for category 0, so the chance-agreement term is 1"):
            function(labels, n_categories=3)
    with pytest.raises(UndefinedMetric, match="both annotators chose category 0 on all 6 shared items"):
        metrics.cohen_kappa(labels[:, 0], labels[:, 1])


def test_a_single_label_still_has_percent_agreement_and_ac1_of_one():
    labels = np.zeros((6, 3), dtype=int)

    assert metrics.percent_agreement(labels) == 1
    # Gwet's chance term is 0 here, so the standard definition gives AC1 = 1.
    assert metrics.gwet_ac1(labels, n_categories=3) == 1
    with pytest.raises(UndefinedMetric, match="AC1 needs at least 2 categories"):
        metrics.gwet_ac1(labels)


def test_a_single_annotator_gives_undefined_agreement_with_the_reason():
    labels = np.array([[0], [1], [2]])

    for function in (
        metrics.percent_agreement,
        metrics.fleiss_kappa,
        metrics.krippendorff_alpha,
        metrics.gwet_ac1,
    ):
        with pytest.raises(UndefinedMetric, match=r"no item has at least 2 votes \(3 items excluded\)"):
            function(labels)
    kappa, n_shared = metrics.pairwise_cohen(labels)
    assert np.isnan(kappa).all() and n_shared.tolist() == [[3]]


def test_empty_input_gives_undefined_metrics_with_the_reason():
    empty = np.empty((0, 5), dtype=int)

    for function in (
        metrics.percent_agreement,
        metrics.fleiss_kappa,
        metrics.krippendorff_alpha,
        metrics.gwet_ac1,
        metrics.bootstrap_ci,
    ):
        with pytest.raises(UndefinedMetric, match="no items"):
            function(empty, n_categories=3)
    with pytest.raises(UndefinedMetric, match="no shared items"):
        metrics.cohen_kappa([], [])
    with pytest.raises(UndefinedMetric, match="no shared items"):
        metrics.cohen_kappa([0, -1], [-1, 1])


def test_undefined_metric_is_a_value_error_and_bad_input_is_refused():
    assert issubclass(UndefinedMetric, ValueError)
    with pytest.raises(ValueError, match="out of range for n_categories=2"):
        metrics.fleiss_kappa(np.array([[0, 2]]), n_categories=2)
    with pytest.raises(ValueError, match="must be 2-D"):
        metrics.fleiss_kappa(np.array([0, 1]))
    with pytest.raises(ValueError, match=">= 0, or -1"):
        metrics.fleiss_kappa(np.array([[0, -2]]))


@pytest.mark.parametrize(
    ("kappa", "band"),
    [
        (-0.1, "poor"),
        (0.0, "slight"),
        (0.2, "slight"),
        (0.21, "fair"),
        (0.4, "fair"),
        (0.53, "moderate"),
        (0.67, "substantial"),
        (0.8, "substantial"),
        (0.81, "almost perfect"),
        (1.0, "almost perfect"),
    ],
)
def test_landis_koch_names_the_band_of_a_kappa(kappa, band):
    assert metrics.landis_koch(kappa) == band


def test_landis_koch_refuses_nan():
    with pytest.raises(ValueError, match="kappa must be a number"):
        metrics.landis_koch(float("nan"))


# --- bootstrap ------------------------------------------------------------------


def simulated_votes(n_items: int, seed: int, n_raters: int = 5, k: int = 7, accuracy: float = 0.7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    return np.where(rng.random((n_items, n_raters)) < accuracy, truth[:, None], rng.integers(0, k, (n_items, n_raters)))


@pytest.mark.parametrize("statistic", ["fleiss", "alpha", "ac1", "percent"])
def test_bootstrap_ci_contains_the_estimate_and_narrows_with_more_items(statistic):
    small = metrics.bootstrap_ci(simulated_votes(200, 1), statistic, n_boot=500, seed=0)
    large = metrics.bootstrap_ci(simulated_votes(5000, 1), statistic, n_boot=500, seed=0)

    for interval in (small, large):
        assert interval.low <= interval.estimate <= interval.high
        assert interval.n_boot == 500 and interval.n_undefined == 0
    assert large.high - large.low < (small.high - small.low) / 2


def test_bootstrap_ci_is_deterministic_for_a_fixed_seed():
    labels = simulated_votes(300, 2)
    labels[::7, 0] = -1

    first = metrics.bootstrap_ci(labels, "alpha", n_boot=200, seed=42)
    assert metrics.bootstrap_ci(labels, "alpha", n_boot=200, seed=42) == first
    assert metrics.bootstrap_ci(labels, "alpha", n_boot=200, seed=43) != first


@pytest.mark.parametrize("n_items", [40, 4000])
def test_bootstrap_ci_matches_a_plain_index_resampling_bootstrap(n_items):
    # 40 items take the index-resampling path, 4000 the multinomial-over-patterns path.
    labels = simulated_votes(n_items, 3, n_raters=3, k=3)
    rng = np.random.default_rng(0)
    plain = [metrics.fleiss_kappa(labels[rng.integers(0, n_items, n_items)], n_categories=3) for _ in range(400)]
    ours = metrics.bootstrap_ci(labels, "fleiss", n_boot=400, seed=0)

    width = np.quantile(plain, 0.975) - np.quantile(plain, 0.025)
    assert ours.high - ours.low == pytest.approx(width, rel=0.25)
    assert (ours.low + ours.high) / 2 == pytest.approx(np.mean(plain), abs=width / 4)


def test_bootstrap_ci_counts_resamples_where_the_statistic_is_undefined():
    # Nine items all 0 and one item all 1: some resamples draw only 0s.
    labels = np.array([[0, 0]] * 9 + [[1, 1]])

    interval = metrics.bootstrap_ci(labels, "fleiss", n_boot=300, seed=0)
    assert 0 < interval.n_undefined < 300
    assert interval.low == interval.high == pytest.approx(1)


# --- dashboard summary -------------------------------------------------------------


def test_agreement_summary_reports_every_statistic_with_intervals_and_exclusions():
    labels = simulated_votes(1000, 4)
    labels[:10, 1:] = -1  # ten items with a single vote

    summary = metrics.agreement_summary(labels, n_categories=7, n_boot=200, seed=0)

    assert (summary["n_items"], summary["n_items_used"], summary["n_items_excluded"]) == (1000, 990, 10)
    assert summary["n_raters"] == 5 and summary["n_categories"] == 7
    assert summary["fleiss"]["value"] == pytest.approx(metrics.fleiss_kappa(labels, n_categories=7))
    assert summary["fleiss"]["band"] == metrics.landis_koch(summary["fleiss"]["value"])
    for name in ("percent", "fleiss", "alpha", "ac1"):
        entry = summary[name]
        assert entry["reason"] is None
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"]
    assert summary["alpha"]["value"] == pytest.approx(metrics.krippendorff_alpha(labels))
    assert summary["ac1"]["value"] == pytest.approx(metrics.gwet_ac1(labels, n_categories=7))


def test_agreement_summary_gives_reasons_instead_of_raising_for_a_degenerate_task():
    summary = metrics.agreement_summary(np.zeros((4, 3), dtype=int), n_categories=3, n_boot=50)

    assert summary["fleiss"]["value"] is None and summary["fleiss"]["band"] is None
    assert "every vote is for category 0" in summary["fleiss"]["reason"]
    assert "every vote is for category 0" in summary["alpha"]["reason"]
    assert summary["ac1"]["value"] == 1 and summary["percent"]["value"] == 1

    empty = metrics.agreement_summary(np.empty((0, 5), dtype=int), n_categories=3, n_boot=50)
    assert empty["n_items"] == 0
    assert all("no items" in empty[name]["reason"] for name in ("percent", "fleiss", "alpha", "ac1"))


@pytest.mark.parametrize("missing", [0.0, 0.3])
def test_summed_item_features_take_the_same_values_with_and_without_the_equal_votes_shortcut(missing):
    counts = metrics.counts_from_labels(random_labels(7, missing=missing))
    rated = counts[counts.sum(axis=1) >= 1]

    assert np.allclose(agreement.feature_sums(counts), agreement.item_features(rated).sum(axis=0), rtol=1e-12, atol=0)
