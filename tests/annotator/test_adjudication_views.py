"""The adjudication queue and an item's gold table: no label is chosen for
the lead, each label shows its votes, an empty choice is refused, and
"Set gold" moves on to the next disputed item."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotator.models import Gold
from tests.annotator.factories import MSED_LABELS, claim_and_submit, make_items, members
from tests.factories import make_project


@pytest.fixture
def tied(lead):
    """Two items, each with a 1-1 sentiment tie (positive vs negative)."""
    project = make_project(lead=lead, name="Ties", votes_per_item=2)
    items = make_items(project, 2, image=True)
    a, b = members(project, 2)
    for _ in items:
        claim_and_submit(a, project)
        claim_and_submit(b, project, labels={**MSED_LABELS, "sentiment": "negative"})
    return project, items


def queue_url(project):
    return reverse("annotator:adjudication", args=[project.slug])


def adjudicate_url(project, item):
    return reverse("annotator:item-adjudicate", args=[project.slug, item.pk])


def test_the_queue_starts_with_no_label_chosen_and_shows_each_labels_votes(lead_client, tied):
    project, (first, _) = tied
    html = lead_client.get(queue_url(project)).content.decode()
    assert "checked" not in html and "selected" not in html
    assert "Positive (1)" in html and "Negative (1)" in html and "Neutral (0)" in html
    assert "desire → sentiment → emotion" in html  # the annotators' inference orders
    assert first.text in html and reverse("annotator:item-image", args=[project.slug, first.pk]) in html
    assert "js/adjudication.js" in html and "<kbd>Enter</kbd>" in html


def test_the_item_page_starts_with_no_label_chosen(lead_client, tied):
    project, (first, _) = tied
    html = lead_client.get(reverse("annotator:item-detail", args=[project.slug, first.pk])).content.decode()
    gold = html.split('id="gold"')[1].split('id="votes"')[0]
    assert "checked" not in gold and "<select" not in gold
    assert "Positive (1)" in gold and "Negative (1)" in gold and "Family (2)" in gold


def test_setting_gold_without_a_label_is_refused(lead_client, tied):
    project, (first, _) = tied
    response = lead_client.post(
        adjudicate_url(project, first), {"task": "sentiment", "next": "adjudication"}, follow=True
    )
    assert "Choose a Sentiment label before setting the gold: nothing was saved." in response.content.decode()
    gold = Gold.objects.get(item=first, task__key="sentiment")
    assert gold.is_tie and gold.source == Gold.Source.MAJORITY


def test_set_gold_goes_to_the_next_disputed_item(lead_client, tied):
    project, (first, second) = tied
    response = lead_client.post(
        adjudicate_url(project, first), {"task": "sentiment", "label": "negative", "next": "adjudication"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{queue_url(project)}?after={second.pk - 1}#item-{second.pk}"
    response = lead_client.post(adjudicate_url(project, second), {"task": "sentiment", "label": "positive"})
    assert response["Location"] == reverse("annotator:item-detail", args=[project.slug, second.pk])
    html = lead_client.get(response["Location"]).content.decode()
    assert "No disputed items are left." in html


def test_set_gold_from_an_item_page_opens_the_next_disputed_item(lead_client, tied):
    project, (first, second) = tied
    response = lead_client.post(adjudicate_url(project, first), {"task": "sentiment", "label": "negative"})
    assert response["Location"] == reverse("annotator:item-detail", args=[project.slug, second.pk]) + "#gold"


def test_the_provenance_line_reads_naturally(lead_client, lead, tied):
    project, (first, _) = tied
    lead_client.post(adjudicate_url(project, first), {"task": "sentiment", "label": "negative"})
    gold = Gold.objects.get(item=first, task__key="sentiment")
    html = lead_client.get(reverse("annotator:item-detail", args=[project.slug, first.pk])).content.decode()
    when = f"{gold.adjudicated_at:%-d %b %Y, %H:%M}"
    assert f"Adjudicated by {lead.username} on {when}" in re.sub(r"\s+", " ", html)
    assert "by a lead by" not in html
