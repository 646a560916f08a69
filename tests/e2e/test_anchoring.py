"""The anchoring dashboard in a real browser: its headline and every figure drawn, no script errors."""

from __future__ import annotations

import os

import pytest

from tests.analysis.factories import make_anchoring_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_anchoring_page_draws_its_plots_in_chromium(logged_in_page, project, lead):
    make_anchoring_project(project, pull=0.5)
    page = logged_in_page(lead)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"/analysis/projects/{project.slug}/anchoring/")
    page.wait_for_selector("#chart-effects .js-plotly-plot .main-svg")
    assert page.inner_text("#anchoring-headline").startswith("Yes, the pre-labels pull annotators")
    figures = page.locator("[data-figure]").count()
    assert figures == 2 + 3  # the effects, the annotators, one label distribution per task
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length === {figures}")
    # One dot per measure: pooled, agreement and kappa per task, kept every suggestion.
    assert page.locator("#chart-effects .scatterlayer .point").count() == 1 + 2 * 3 + 1
    if os.environ.get("ANCHORING_SCREENSHOT"):
        page.screenshot(path=os.environ["ANCHORING_SCREENSHOT"], full_page=True)
    assert not errors, errors
