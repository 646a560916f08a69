"""annotator reaches suggestions and the pre-labeller only through
annotator/suggestions.py: the inference app's provider when it is installed,
a do-nothing default otherwise. With the default, annotator works alone:
no suggestions shown or ranked, a suggestion run refused, hooks ignored."""

from __future__ import annotations

import uuid

import pytest

from annotator import suggestions
from annotator.errors import DomainError
from annotator.models import Annotation, Gold, Item, PrelabelPolicy, Project
from annotator.selectors import ItemFilters, labelling, list_items_page, review
from annotator.services import queue, votes
from annotator.services.gold import adjudicate
from tests.annotator.factories import MSED_LABELS, MSED_ORDER, make_items, make_suggestions, set_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def without_inference():
    """annotator on its own: the default provider, as before inference's ready()."""
    installed = suggestions.get_provider()
    suggestions.register_provider(suggestions.SuggestionProvider())
    yield
    suggestions.register_provider(installed)


def test_the_inference_app_installs_its_provider():
    from inference.suggestions import PrelabellerSuggestions

    assert isinstance(suggestions.get_provider(), PrelabellerSuggestions)


def test_the_inference_provider_shows_ranks_and_records_suggestions(annotator, project):
    items = make_items(project, 3)
    Project.objects.filter(pk=project.pk).update(queue_order=Project.QueueOrder.UNCERTAIN, show_suggestions=True)
    project.refresh_from_db()
    run = make_suggestions(project, {items[0]: 0.2, items[2]: 1.5})
    claim = queue.claim_next_item(annotator=annotator, project=project)
    assert claim.item_id == items[2].pk
    view = labelling.get_claim_view(claim, project=project)
    assert view["suggestions"]["run"] == run.pk
    assert view["suggestions"]["by_task"]["desire"] == {"label": "family", "probability": 0.8}
    record = review.get_item_record(items[2], project=project)
    assert {(s.run_id, s.task.key, s.label.key) for s in record["suggestions"]} == {
        (run.pk, key, label) for key, label in MSED_LABELS.items()
    }


def test_without_inference_nothing_is_suggested_and_the_queue_falls_back(annotator, project, without_inference):
    items = make_items(project, 3)
    Project.objects.filter(pk=project.pk).update(queue_order=Project.QueueOrder.UNCERTAIN, show_suggestions=True)
    project.refresh_from_db()
    # Nobody stores the items' uncertainty without the inference app.
    run = make_suggestions(project, {items[0]: 0.2, items[2]: 1.5}, store_uncertainty=False)
    set_counts(items[1], vote_count=1)
    claim = queue.claim_next_item(annotator=annotator, project=project)
    assert claim.item_id == items[1].pk  # finish-first, not the model's ranking
    assert labelling.get_claim_view(claim, project=project)["suggestions"] is None
    with pytest.raises(DomainError, match="does not belong"):
        votes.submit_annotation(
            annotator=annotator,
            item=claim.item,
            labels=MSED_LABELS,
            inference_order=MSED_ORDER,
            client_key=uuid.uuid4(),
            suggestion_run_id=run.pk,
        )
    assert review.get_item_record(items[2], project=project)["suggestions"] == []
    page = list_items_page(project, ItemFilters(suggestion="yes"), page=1)
    assert page["items"] == []
    page = list_items_page(project, ItemFilters(suggestion="no"), page=1)
    assert len(page["items"]) == 3


def test_without_inference_gold_changes_and_imports_tell_nobody(annotator, lead, project, without_inference):
    PrelabelPolicy.objects.create(project=project, retrain_every_n_gold=1)
    (item,) = make_items(project, 1)
    claim = queue.claim_next_item(annotator=annotator, project=project)
    votes.submit_annotation(
        annotator=annotator, item=claim.item, labels=MSED_LABELS, inference_order=MSED_ORDER, client_key=uuid.uuid4()
    )
    task = project.tasks.get(key="sentiment")
    adjudicate(item=item, task=task, label=task.labels.get(key="neutral"), lead=lead)
    assert Annotation.objects.count() == 1 and Gold.objects.filter(item=item).count() == 3


def test_gold_changes_reach_the_provider_only_when_the_policy_retrains(annotator, project):
    calls = []

    class Recording(suggestions.SuggestionProvider):
        def on_gold_changed(self, *, project):
            calls.append(project.pk)

    installed = suggestions.get_provider()
    suggestions.register_provider(Recording())
    try:
        make_items(project, 2)
        for retrain in (0, 5):
            PrelabelPolicy.objects.update_or_create(project=project, defaults={"retrain_every_n_gold": retrain})
            claim = queue.claim_next_item(annotator=annotator, project=Project.objects.get(pk=project.pk))
            votes.submit_annotation(
                annotator=annotator,
                item=Item.objects.select_related("project").get(pk=claim.item_id),
                labels=MSED_LABELS,
                inference_order=MSED_ORDER,
                client_key=uuid.uuid4(),
            )
    finally:
        suggestions.register_provider(installed)
    assert calls == [project.pk]
