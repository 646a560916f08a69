"""Dashboard pages: leads see the charts, annotators are refused, outsiders see nothing."""

from __future__ import annotations

import csv
import io
import json
import re

import plotly.graph_objects as go
import pytest
from django.core.cache import cache
from django.urls import reverse

from analysis import dashboards
from analysis.dashboards.common import N_BOOT
from analysis.selectors import DashboardFilters
from annotator.models import Annotation, Gold, Item
from annotator.services.projects import create_project
from tests.analysis.factories import add_votes, make_voted_project
from tests.factories import ItemFactory, make_member

PAGES = list(dashboards.PAGES)
# Pages that need more than plain multimodal votes (unimodal rounds; the
# anchoring experiment's arms): their own tests build that data.
NEEDS_MORE = ("modalities", "anchoring")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def voted(project):
    items, annotators = make_voted_project(project, n_items=24, n_annotators=4)
    return project, items, annotators


def url(page: str, project, query: str = "") -> str:
    return reverse(f"analysis:{page}", args=[project.slug]) + (f"?{query}" if query else "")


def figures_in(html: str) -> dict[str, dict]:
    """The Plotly figures a page ships, by chart id (from its json_script elements)."""
    found = re.findall(r'<script id="figure-([\w-]+)" type="application/json">(.*?)</script>', html, re.S)
    return {chart_id: json.loads(body) for chart_id, body in found}


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_annotator_is_refused_every_dashboard(page, project, annotator_client):
    assert annotator_client.get(url(page, project)).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_outsider_does_not_learn_the_project_exists(page, project, outsider_client):
    assert outsider_client.get(url(page, project)).status_code == 404


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login(project, client):
    response = client.get(url("agreement", project))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("page", [p for p in PAGES if p not in NEEDS_MORE])
def test_lead_sees_every_page_with_its_figures(page, voted, lead_client):
    project, _, _ = voted
    response = lead_client.get(url(page, project))
    assert response.status_code == 200
    html = response.content.decode()
    figures = figures_in(html)
    assert figures, f"{page} shows no figure"
    for figure in figures.values():
        assert figure["data"], "a figure without traces"
        go.Figure(figure)  # Plotly accepts every property (raises ValueError otherwise)
    assert "vendor/plotly/plotly.min.js" in html and "cdn" not in html.lower()
    assert "js/figures.js" in html


@pytest.mark.django_db
def test_agreement_page_shows_every_task_metric_and_the_bootstrap_size(voted, lead_client):
    project, _, _ = voted
    html = lead_client.get(url("agreement", project)).content.decode()
    figures = figures_in(html)
    assert {"summary", "per-category-desire", "pairwise-desire", "over-time"} <= set(figures)
    summary = figures["summary"]
    assert [t["name"] for t in summary["data"]] == ["Percent agreement", "Fleiss' κ", "Krippendorff's α", "Gwet's AC1"]
    assert summary["data"][1]["x"] == ["Desire", "Sentiment", "Emotion"]
    assert all(isinstance(v, float) for v in summary["data"][1]["y"])
    heatmap = figures["pairwise-desire"]["data"][0]
    assert heatmap["type"] == "heatmap" and len(heatmap["x"]) == 4
    assert "shared items" in heatmap["text"][0][1]
    assert f"{N_BOOT} resamples" in html
    assert any(
        f'<span class="badge">{band}</span>' in html
        for band in ("poor", "slight", "fair", "moderate", "substantial", "almost perfect")
    )


@pytest.mark.django_db
def test_filters_change_the_numbers(voted, lead_client):
    project, items, annotators = voted

    def fleiss(query=""):
        data = figures_in(lead_client.get(url("agreement", project, query)).content.decode())["summary"]["data"][1]["y"]
        return data

    everyone = fleiss()
    two = fleiss(f"annotator={annotators[0].pk}&annotator={annotators[3].pk}")
    train = fleiss("split=train")
    assert everyone != two and everyone != train
    html = lead_client.get(url("agreement", project, "split=dev")).content.decode()
    assert "No votes match these filters" in html


@pytest.mark.django_db
def test_date_filter_limits_the_votes(voted, lead_client):
    project, items, _ = voted
    import datetime as dt

    from django.utils import timezone

    Annotation.objects.filter(item__in=items[:12]).update(created_at=timezone.now() - dt.timedelta(days=40))
    recent = lead_client.get(
        url("agreement", project, f"date_from={(timezone.localdate() - dt.timedelta(days=7)).isoformat()}")
    )
    assert "12 items" in recent.content.decode()
    weeks = figures_in(lead_client.get(url("agreement", project)).content.decode())["over-time"]["data"][0]["x"]
    assert len(weeks) == 2


@pytest.mark.django_db
def test_chart_numbers_download_as_csv(voted, lead_client):
    project, _, annotators = voted
    response = lead_client.get(
        url("agreement", project, f"annotator={annotators[0].pk}&annotator={annotators[1].pk}&format=csv&chart=summary")
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["task", "metric", "value"]
    assert len(rows) == 1 + 3 * 4
    assert {r[0] for r in rows[1:]} == {"desire", "sentiment", "emotion"}
    assert lead_client.get(url("agreement", project, "format=csv&chart=nope")).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("page", [p for p in PAGES if p not in NEEDS_MORE])
def test_every_chart_of_every_page_downloads(page, voted, lead_client):
    project, _, _ = voted
    payload = dashboards.get_dashboard(project=project, page=page, filters=DashboardFilters())
    for chart in payload["charts"]:
        if not chart["table"]["rows"]:
            continue
        response = lead_client.get(url(page, project, f"format=csv&chart={chart['id']}"))
        assert response.status_code == 200
        assert response.content.decode().splitlines()[0].split(",")[0] == chart["table"]["columns"][0]


@pytest.mark.django_db
def test_csv_cells_cannot_start_a_spreadsheet_formula(project, lead_client):
    rater = make_member(project, username="=cmd")
    other = make_member(project, username="plain")
    items = [ItemFactory(project=project) for _ in range(3)]
    add_votes(
        project,
        {(i, u): {"desire": "none" if n % 2 else "family"} for n, i in enumerate(items) for u in (rater, other)},
    )
    body = lead_client.get(url("agreement", project, "format=csv&chart=pairwise-desire")).content.decode()
    assert "'=cmd" in body and "\n=cmd" not in body and ",=cmd" not in body


@pytest.mark.django_db
def test_cache_is_used_and_invalidated_by_a_new_vote(voted, lead_client, django_assert_max_num_queries):
    project, items, annotators = voted
    first = lead_client.get(url("agreement", project)).content.decode()
    # Cached: session, user, project, role, votes version (2), members for the filter form.
    with django_assert_max_num_queries(9):
        again = lead_client.get(url("agreement", project)).content.decode()
    assert figures_in(again) == figures_in(first)

    extra = ItemFactory(project=project, split=Item.Split.TRAIN)
    add_votes(
        project, {(extra, a): {"desire": "vengeance", "sentiment": "negative", "emotion": "anger"} for a in annotators}
    )
    after = lead_client.get(url("agreement", project)).content.decode()
    assert "25 items" in after and "24 items" in first
    assert figures_in(after)["summary"] != figures_in(first)["summary"]


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_empty_project_renders_a_helpful_message(page, project, lead_client):
    response = lead_client.get(url(page, project))
    assert response.status_code == 200
    html = response.content.decode()
    assert "dash-empty" in html and not figures_in(html)
    assert any(
        message in html
        for message in ("No votes yet", "no unimodal rounds", "No gold labels yet", "not running the anchoring")
    )


@pytest.mark.django_db
def test_project_without_tasks_says_to_define_the_schema(lead, lead_client):
    project = create_project(name="Blank", template="custom", created_by=lead)
    html = lead_client.get(url("agreement", project)).content.decode()
    assert "define its label schema" in html


@pytest.mark.django_db
def test_undefined_metrics_show_their_reason_instead_of_a_number(project, lead_client):
    raters = [make_member(project, username=f"same-{i}") for i in range(3)]
    items = [ItemFactory(project=project) for _ in range(4)]
    # Everyone says "none" on every item: kappa and alpha are 0/0.
    add_votes(project, {(i, r): {"desire": "none", "sentiment": "neutral"} for i in items for r in raters})
    response = lead_client.get(url("agreement", project))
    assert response.status_code == 200
    html = response.content.decode()
    assert "undefined" in html and "every vote is for category" in html
    # Emotion has no votes at all: its metrics say why too.
    assert "no item has at least 2 votes" in html or "no items" in html


@pytest.mark.django_db
def test_distribution_shows_table_4_and_the_desire_views(voted, lead_client):
    project, _, _ = voted
    html = lead_client.get(url("distribution", project)).content.decode()
    figures = figures_in(html)
    assert {
        "labels-desire",
        "desire-share",
        "within-desire-sentiment",
        "within-desire-emotion",
        "sunburst",
        "orders",
        "orders-by-annotator",
        "orders-by-class",
    } <= set(figures)
    assert figures["sunburst"]["data"][0]["type"] == "sunburst"
    assert "MSED Table 4" in html and "<table" in html
    rows = list(
        csv.reader(
            io.StringIO(lead_client.get(url("distribution", project, "format=csv&chart=table4")).content.decode())
        )
    )
    assert rows[0] == ["task", "label", "train", "dev", "test", "unassigned", "total"]
    desire_total = sum(int(r[-1]) for r in rows[1:] if r[0] == "desire")
    assert (
        desire_total == Gold.objects.filter(item__project=project, task__key="desire", label__isnull=False).count() > 0
    )


@pytest.mark.django_db
def test_distribution_without_desire_task_skips_the_desire_views(lead, lead_client):
    project = create_project(name="Sentiment only", template="sentiment", created_by=lead)
    raters = [make_member(project, username=f"s-{i}") for i in range(3)]
    items = [ItemFactory(project=project) for _ in range(5)]
    add_votes(
        project,
        {
            (i, r): {"sentiment": ["positive", "negative"][(n + k) % 2 if k == 2 else n % 2]}
            for n, i in enumerate(items)
            for k, r in enumerate(raters)
        },
    )
    figures = figures_in(lead_client.get(url("distribution", project)).content.decode())
    assert "labels-sentiment" in figures
    assert not {"desire-share", "sunburst"} & set(figures)


@pytest.mark.django_db
def test_annotators_page_reports_time_agreement_and_suggestions(voted, lead_client):
    project, items, annotators = voted
    Annotation.objects.filter(annotator=annotators[0]).update(suggestion_accepted={"desire": True, "sentiment": False})
    html = lead_client.get(url("annotators", project)).content.decode()
    figures = figures_in(html)
    assert {"annotations", "time", "agreement", "suggestions"} <= set(figures)
    assert figures["annotations"]["data"][0]["y"] == [24, 24, 24, 24]
    assert figures["suggestions"]["data"][0]["y"][0] == 0.5
    # Median durations: annotator a took 2000 + 500 a + 10 i ms on item i (i = 0..23).
    assert figures["time"]["data"][0]["y"][0] == pytest.approx((2000 + 10 * 11.5) / 1000)


@pytest.mark.django_db
def test_keywords_page_has_desire_vs_none_and_per_class_bars(voted, lead_client):
    project, _, _ = voted
    html = lead_client.get(url("keywords", project)).content.decode()
    figures = figures_in(html)
    assert {"keywords-desire-vs-none", "keywords-desire", "keywords-sentiment"} <= set(figures)
    bars = figures["keywords-desire-vs-none"]["data"]
    assert all(trace["orientation"] == "h" for trace in bars)
    assert "word clouds" in html


@pytest.mark.django_db
def test_modalities_page_says_when_there_are_no_unimodal_rounds(voted, lead_client):
    project, _, _ = voted
    html = lead_client.get(url("modalities", project)).content.decode()
    assert "no unimodal rounds" in html and not figures_in(html)


@pytest.mark.django_db
def test_modalities_page_shows_the_ch_sims_matrix(project, lead_client):
    make_voted_project(project, n_items=12, n_annotators=3, with_unimodal=True)
    html = lead_client.get(url("modalities", project)).content.decode()
    figures = figures_in(html)
    heatmap = figures["modalities-sentiment"]["data"][0]
    assert heatmap["x"] == ["Text", "Image", "Multimodal"]
    assert heatmap["z"][0][0] == 0 and heatmap["z"][0][2] is not None
    assert "CH-SIMS eq. 1" in html
    assert "rounds-desire" in figures


@pytest.mark.django_db
def test_confusion_page_has_a_heatmap_per_task(voted, lead_client):
    project, _, _ = voted
    figures = figures_in(lead_client.get(url("confusion", project)).content.decode())
    for task in ("desire", "sentiment", "emotion"):
        z = figures[f"confusion-{task}"]["data"][0]["z"]
        assert sum(v for row in z for v in row) == pytest.approx(1.0)


@pytest.mark.django_db
def test_project_navigation_links_leads_to_the_dashboards(voted, lead_client):
    project, _, _ = voted
    detail = reverse("annotator:project-detail", args=[project.slug])
    assert url("agreement", project) in lead_client.get(detail).content.decode()
