"""The anchoring dashboard (issue 14.6): the arm-comparison kernels checked
on small cases and against SciPy, and the page on constructed data with a
known pull towards the model's suggestion."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse
from scipy import stats

from analysis.dashboards.anchoring import build_anchoring
from analysis.metrics import (
    UndefinedMetric,
    chi_square_independence,
    chi_square_sf,
    cohens_h,
    compare_arms,
    fleiss_kappa_from_counts,
)
from analysis.selectors import DashboardFilters
from tests.analysis.factories import make_anchoring_project

# ---- kernels (no database)


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 5, 6, 9, 20, 41])
def test_the_chi_square_survival_function_equals_scipys(dof):
    for x in [1e-4, 0.3, 1.0, 3.84, 7.5, 15.0, 40.0, 120.0, 700.0]:
        assert chi_square_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-10, abs=1e-300)
    assert chi_square_sf(0.0, dof) == 1.0


def test_the_chi_square_test_equals_scipys_and_drops_empty_labels():
    table = np.array([[30, 12, 0, 8], [18, 25, 0, 7]])
    result = chi_square_independence(table)
    statistic, p, dof, expected = stats.chi2_contingency(table[:, [0, 1, 3]], correction=False)
    assert result.statistic == pytest.approx(statistic)
    assert result.p_value == pytest.approx(p, rel=1e-10)
    assert result.dof == dof == 2
    assert result.cramers_v == pytest.approx(np.sqrt(statistic / table.sum()))
    assert result.low_expected == int((expected < 5).sum())
    with pytest.raises(UndefinedMetric):
        chi_square_independence([[5, 0], [7, 0]])


def test_compare_arms_is_seeded_and_its_interval_holds_the_point_estimate():
    rng = np.random.default_rng(3)
    shown, hidden = rng.random(300) < 0.7, rng.random(250) < 0.5
    first = compare_arms(shown, hidden, n_boot=200, seed=1)
    assert first == compare_arms(shown, hidden, n_boot=200, seed=1)
    assert first.shown == pytest.approx(shown.mean()) and first.hidden == pytest.approx(hidden.mean())
    assert first.difference == pytest.approx(shown.mean() - hidden.mean())
    assert first.low < first.difference < first.high
    assert 0 < first.low  # a 20-point difference on 550 votes is clear
    durations = compare_arms(rng.normal(5, 1, 200), rng.normal(6, 1, 200), "median", n_boot=200, seed=0)
    assert durations.low < durations.difference < durations.high < 0


def test_compare_arms_takes_a_statistic_over_items_and_says_when_an_arm_is_empty():
    counts = np.array([[3, 0], [0, 3], [2, 1], [3, 0]])
    result = compare_arms(counts, counts[[0, 1]], fleiss_kappa_from_counts, n_boot=50, seed=0)
    assert result.hidden == pytest.approx(1.0) and result.n_shown == 4 and result.n_hidden == 2
    with pytest.raises(UndefinedMetric, match="hidden arm"):
        compare_arms(np.ones(3), np.ones(0))


def test_the_fast_resampling_paths_match_resampling_indices():
    """Shares, medians of few distinct values and kappas draw how often each
    distinct value (or count row) is picked; resampling indices through a
    function gives the same intervals up to Monte Carlo noise."""
    rng = np.random.default_rng(5)
    shares = (rng.random(4000) < 0.6, rng.random(3000) < 0.5)
    times = (rng.integers(30, 90, 3001) / 10, rng.integers(35, 95, 2500) / 10)  # odd and even n
    rows = np.zeros((600, 3), dtype=np.int64)
    np.add.at(rows, (np.repeat(np.arange(600), 3), rng.integers(0, 3, 1800)), 1)
    cases = [
        (shares, "mean", lambda u: float(u.mean())),
        (times, "median", lambda u: float(np.median(u))),
        ((rows[:300], rows[300:]), "fleiss", fleiss_kappa_from_counts),
    ]
    for (a, b), name, function in cases:
        fast = compare_arms(a, b, name, n_boot=1000, seed=2)
        slow = compare_arms(a, b, function, n_boot=1000, seed=3)
        assert fast.difference == pytest.approx(slow.difference)
        width = slow.high - slow.low
        assert abs(fast.low - slow.low) < 0.15 * width and abs(fast.high - slow.high) < 0.15 * width, name


def test_cohens_h_of_equal_shares_is_zero_and_grows_with_the_gap():
    assert cohens_h(0.4, 0.4) == 0
    assert 0 < cohens_h(0.5, 0.4) < cohens_h(0.8, 0.4)


# ---- the page on constructed data


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _share(rows, arm: str) -> float:
    kept = [v for r in rows if r["suggestion_arm"] == arm for v in r["suggestion_accepted"].values()]
    return sum(kept) / len(kept)


@pytest.mark.django_db
def test_a_known_pull_towards_the_model_shows_as_a_positive_effect(project):
    rows = make_anchoring_project(project, pull=0.5)
    payload = build_anchoring(project, DashboardFilters())
    pooled = payload["data"]["model_agreement"]
    assert pooled["shown"] == pytest.approx(_share(rows, "shown"))
    assert pooled["hidden"] == pytest.approx(_share(rows, "hidden"))
    assert pooled["difference"] > 0.15
    assert 0 < pooled["ci_low"] <= pooled["difference"] <= pooled["ci_high"]
    assert payload["data"]["headline"].startswith("Yes, the pre-labels pull annotators towards the model")
    assert payload["data"]["cohens_h"] > 0.3
    for task in payload["data"]["tasks"]:
        assert task["model_agreement"]["difference"] > 0
        counts = np.array([task["counts"]["shown"], task["counts"]["hidden"]])
        used = counts[:, counts.sum(axis=0) > 0]
        assert task["chi_square"]["p_value"] == pytest.approx(
            stats.chi2_contingency(used, correction=False)[1], rel=1e-9
        )
    # Shown pairs were built 1.5 s faster.
    seconds = payload["data"]["seconds_per_item"]
    assert seconds["difference"] < 0 and seconds["ci_low"] <= seconds["difference"] <= seconds["ci_high"]
    assert "With suggestions they were faster" in payload["data"]["headline"]


@pytest.mark.django_db
def test_without_a_pull_the_headline_says_no_clear_effect(project):
    make_anchoring_project(project, pull=0.0, n_items=80, seed=4)
    data = build_anchoring(project, DashboardFilters())["data"]
    assert data["model_agreement"]["ci_low"] < 0 < data["model_agreement"]["ci_high"]
    assert data["headline"].startswith("No clear effect")


@pytest.mark.django_db
def test_a_project_without_the_experiment_is_told_how_to_run_it(project):
    payload = build_anchoring(project, DashboardFilters())
    assert "Share of pairs shown suggestions" in payload["empty"]


# ---- the page and the API


@pytest.mark.django_db
def test_leads_see_the_page_with_hostile_names_escaped(lead_client, project):
    make_anchoring_project(project, pull=0.5)
    get_user_model().objects.filter(username="anchored-0-0").update(username="<img src=x onerror=alert(1)>")
    html = lead_client.get(reverse("analysis:anchoring", args=[project.slug])).content.decode()
    assert "Do our pre-labels bias our annotators" in html and 'id="anchoring-headline">Yes' in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert 'aria-current="page" class="active">Anchoring</a>' in html
    found = re.findall(r'<script id="figure-([\w-]+)" type="application/json">(.*?)</script>', html, re.S)
    assert {"effects", "annotators", "labels-desire"} <= {chart_id for chart_id, _ in found}
    for _, body in found:
        go.Figure(json.loads(body))  # Plotly accepts every property
    # The hostile name reached the figure escaped, as plain text for Plotly.
    assert "&lt;img src=x" in json.dumps([json.loads(body) for _, body in found])


@pytest.mark.django_db
def test_annotators_are_refused_the_page_and_the_api(annotator_client, project):
    make_anchoring_project(project, pull=0.5)
    assert annotator_client.get(reverse("analysis:anchoring", args=[project.slug])).status_code == 403
    assert annotator_client.get(reverse("api:anchoring", args=[project.slug])).status_code == 403


@pytest.mark.django_db
def test_the_api_answers_the_comparison(api, lead, outsider, project):
    make_anchoring_project(project, pull=0.5)
    path = reverse("api:anchoring", args=[project.slug])
    api.force_authenticate(lead)
    response = api.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["page"] == "anchoring" and body["n_shown"] + body["n_hidden"] == 240
    assert body["model_agreement"]["difference"] > 0
    assert [t["key"] for t in body["tasks"]] == ["desire", "sentiment", "emotion"]
    assert {"effects", "annotators", "labels-desire"} <= set(body["tables"])
    assert len(body["annotators"]) == 4
    assert api.get(path + "?date_from=").status_code == 400
    api.force_authenticate(outsider)
    assert api.get(path).status_code == 404


@pytest.mark.django_db
def test_the_annotators_page_counts_only_suggestions_that_were_shown(project):
    from analysis.dashboards.annotators import build_annotators

    rows = make_anchoring_project(project, pull=0.5)
    people = build_annotators(project, DashboardFilters())["data"]["annotators"]
    for person in people:
        mine = [r for r in rows if r["annotator_id"] == person["id"] and r["suggestion_arm"] == "shown"]
        assert person["suggestions_shown"] == 3 * len(mine)
        assert person["suggestions_kept"] == sum(v for r in mine for v in r["suggestion_accepted"].values())


@pytest.mark.django_db
def test_changing_the_share_refreshes_the_cached_page(project):
    from analysis import dashboards

    make_anchoring_project(project, pull=0.5, n_items=12)
    first = dashboards.get_dashboard(project=project, page="anchoring", filters=DashboardFilters())
    assert first["data"]["running"] and first["data"]["share"] == 0.5
    project.suggestion_share = 1.0
    project.save()
    again = dashboards.get_dashboard(project=project, page="anchoring", filters=DashboardFilters())
    assert not again["data"]["running"] and "not running now" in again["notes"][0]
