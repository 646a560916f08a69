"""The dashboards in a real browser: Plotly draws every figure the server sent, from our own static files."""

from __future__ import annotations

import pytest

from tests.analysis.factories import make_voted_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agreement_page_draws_its_plots_in_chromium(logged_in_page, live_server, project, lead):
    make_voted_project(project, n_items=16, n_annotators=3)
    page = logged_in_page(lead)
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"/analysis/projects/{project.slug}/agreement/")
    page.wait_for_selector("#chart-summary .js-plotly-plot .main-svg")

    figures = page.locator("[data-figure]").count()
    assert figures >= 8  # summary, 3 x per category, 3 x pairwise, over time
    assert page.locator(".js-plotly-plot").count() == figures
    # Bars with their error bars, and the heatmap, are drawn as SVG.
    assert page.locator("#chart-summary .barlayer .point").count() == 4 * 3
    assert page.locator("#chart-pairwise-desire .heatmaplayer image, #chart-pairwise-desire .hm image").count() >= 1
    # The toolbar offers the PNG download (the camera button).
    page.hover("#chart-summary .js-plotly-plot")
    titles = page.eval_on_selector_all(
        "#chart-summary .modebar-btn", "els => els.map(e => e.getAttribute('data-title'))"
    )
    assert any("png" in (t or "").lower() for t in titles), titles
    assert not errors, errors
    assert all(url.startswith(live_server.url) for url in requests), [
        u for u in requests if not u.startswith(live_server.url)
    ]


def test_filters_apply_from_the_form_and_keep_the_plots(logged_in_page, project, lead):
    _, annotators = make_voted_project(project, n_items=12, n_annotators=3)
    page = logged_in_page(lead)
    page.goto(f"/analysis/projects/{project.slug}/agreement/")
    page.select_option("#f-split", "train")
    page.click(".dash-annotators summary")
    page.check(f'input[name="annotator"][value="{annotators[0].pk}"]')
    page.check(f'input[name="annotator"][value="{annotators[1].pk}"]')
    page.click(".dash-filters button[type=submit]")
    page.wait_for_url("**split=train**")
    page.wait_for_selector("#chart-summary .js-plotly-plot .main-svg")
    assert "6 items" in page.inner_text(".dash-note")
    # Tabs keep the filters.
    page.click(".dash-tabs >> text=Confusion")
    page.wait_for_selector("#chart-confusion-desire .js-plotly-plot .main-svg")
    assert "split=train" in page.url
