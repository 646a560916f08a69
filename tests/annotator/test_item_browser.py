"""The item browser: search by parts of ids and texts, filters by status,
split and suggestion, the number of results, numbered pages, and rows that
open their item."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import Item
from tests.annotator.factories import MSED_LABELS, claim_and_submit, make_suggestions, members
from tests.factories import make_project


def url(project) -> str:
    return reverse("annotator:item-list", args=[project.slug])


def ids(response) -> list[str]:
    return [i.external_id for i in response.context["page"]["items"]]


@pytest.fixture
def catalogue(project):
    Item.objects.bulk_create(
        [
            Item(project=project, external_id="demo-00001", text="A family picnic by the lake.", split="train"),
            Item(project=project, external_id="demo-00002", text="Friends cheering at a race.", split="dev"),
            Item(project=project, external_id="new-7", text="An empty street in the rain.", split="test"),
        ]
    )
    return project


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("new-", ["new-7"]),
        ("demo-00001", ["demo-00001"]),
        ("DEMO-0000", ["demo-00001", "demo-00002"]),
        ("PICNIC", ["demo-00001"]),
        ("nothing like it", []),
    ],
)
def test_search_matches_parts_of_ids_and_texts(lead_client, catalogue, q, expected):
    response = lead_client.get(url(catalogue), {"q": q})
    assert ids(response) == expected
    assert response.context["page"]["count"] == len(expected)


def test_the_page_says_how_many_items_match(lead_client, catalogue):
    html = lead_client.get(url(catalogue), {"q": "demo-"}).content.decode()
    assert "2 items match." in html
    html = lead_client.get(url(catalogue)).content.decode()
    assert "3 items." in html
    html = lead_client.get(url(catalogue), {"q": "zzz"}).content.decode()
    assert "No items match." in html


def test_filters_by_split(lead_client, catalogue):
    assert ids(lead_client.get(url(catalogue), {"split": "dev"})) == ["demo-00002"]


def test_filters_by_status(lead_client, lead):
    project = make_project(lead=lead, name="Statuses", votes_per_item=2)
    Item.objects.bulk_create([Item(project=project, external_id=f"s-{n}", text=f"Text {n}") for n in range(3)])
    a, b = members(project, 2)
    claim_and_submit(a, project)  # s-0: 1 of 2 votes
    claim_and_submit(b, project, labels={**MSED_LABELS, "sentiment": "negative"})  # s-0: 2 of 2, a tie
    claim_and_submit(a, project)  # s-1: 1 of 2
    assert ids(lead_client.get(url(project), {"status": "unlabelled"})) == ["s-2"]
    assert ids(lead_client.get(url(project), {"status": "in_progress"})) == ["s-1"]
    assert ids(lead_client.get(url(project), {"status": "complete"})) == ["s-0"]
    assert ids(lead_client.get(url(project), {"status": "disputed"})) == ["s-0"]


def test_filters_by_suggestion(lead_client, catalogue):
    make_suggestions(catalogue, {Item.objects.get(external_id="new-7"): 0.5})
    assert ids(lead_client.get(url(catalogue), {"suggestion": "yes"})) == ["new-7"]
    assert ids(lead_client.get(url(catalogue), {"suggestion": "no"})) == ["demo-00001", "demo-00002"]
    assert ids(lead_client.get(url(catalogue), {"suggestion": "maybe"})) == ["demo-00001", "demo-00002", "new-7"]


def test_pages_are_numbered_with_previous_and_next_keeping_the_filters(lead_client, project):
    Item.objects.bulk_create(
        [Item(project=project, external_id=f"p-{n:03d}", text=f"page text {n}") for n in range(120)]
    )
    first = lead_client.get(url(project), {"q": "page"})
    assert ids(first)[0] == "p-000" and len(ids(first)) == 50
    html = first.content.decode()
    assert "120 items match; showing 1–50." in html
    assert 'href="?q=page&amp;page=2"' in html and 'href="?q=page&amp;page=3"' in html and "Next →" in html
    assert 'aria-current="page">1<' in html
    third = lead_client.get(url(project), {"q": "page", "page": 3})
    assert ids(third) == [f"p-{n:03d}" for n in range(100, 120)]
    assert 'href="?q=page&amp;page=2"' in third.content.decode() and "← Previous" in third.content.decode()
    assert ids(lead_client.get(url(project), {"q": "page", "page": "99"})) == ids(third)  # past the end: the last page
    assert ids(lead_client.get(url(project), {"q": "page", "page": "x"})) == ids(first)


def test_a_whole_row_opens_its_item_through_one_link(lead_client, catalogue):
    item = Item.objects.get(external_id="new-7")
    html = lead_client.get(url(catalogue)).content.decode()
    assert (
        f'<a class="row-link" href="{reverse("annotator:item-detail", args=[catalogue.slug, item.pk])}">new-7</a>'
        in html
    )
    assert "onclick" not in html and "css/items.css" in html
