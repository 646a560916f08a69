"""The labelling page, the annotator's history and the lead's item pages."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotator.models import AnnotationEdit, Claim, Gold
from tests.annotator.factories import MSED_LABELS, claim_and_submit, make_items, members
from tests.factories import login, make_project


@pytest.fixture
def item(project):
    return make_items(project, 1)[0]


def page_urls(project, item):
    return {
        "annotate": reverse("annotator:item-annotate", args=[project.slug]),
        "mine": reverse("annotator:my-annotations", args=[project.slug]),
    }


def lead_urls(project, item):
    return {
        "detail": reverse("annotator:item-detail", args=[project.slug, item.pk]),
        "adjudication": reverse("annotator:adjudication", args=[project.slug]),
    }


def adjudicate_url(project, item):
    return reverse("annotator:item-adjudicate", args=[project.slug, item.pk])


def test_outsiders_get_404_on_every_page(outsider_client, project, item):
    for url in [*page_urls(project, item).values(), *lead_urls(project, item).values()]:
        assert outsider_client.get(url).status_code == 404, url
    assert (
        outsider_client.post(adjudicate_url(project, item), {"task": "sentiment", "label": "neutral"}).status_code
        == 404
    )


def test_annotators_get_403_on_the_lead_pages(annotator_client, project, item):
    for url in lead_urls(project, item).values():
        assert annotator_client.get(url).status_code == 403, url
    assert (
        annotator_client.post(adjudicate_url(project, item), {"task": "sentiment", "label": "neutral"}).status_code
        == 403
    )
    assert not Gold.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, project, item):
    response = client.get(page_urls(project, item)["annotate"])
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_labelling_page_paints_the_claimed_item(annotator_client, annotator, project, item):
    response = annotator_client.get(page_urls(project, item)["annotate"])
    assert response.status_code == 200
    html = response.content.decode()
    start = json.loads(html.split('id="annotate-start" type="application/json">')[1].split("</script>")[0])
    assert start["mode"] == "work" and start["item"]["id"] == item.pk and start["item"]["text"] == item.text
    assert Claim.objects.get(annotator=annotator).item == item
    assert 'data-hotkey="1"' in html and "The need to take care of one&#x27;s offspring." in html
    assert "css/annotate.css" in html and "js/annotate.js" in html


def test_reloading_the_labelling_page_keeps_the_same_item(annotator_client, annotator, project):
    make_items(project, 3)
    url = reverse("annotator:item-annotate", args=[project.slug])
    annotator_client.get(url)
    annotator_client.get(url)
    assert Claim.objects.filter(annotator=annotator).count() == 1


def test_the_labelling_page_says_when_nothing_is_left(annotator_client, annotator, project):
    make_items(project, 1)
    claim_and_submit(annotator, project)
    html = annotator_client.get(reverse("annotator:item-annotate", args=[project.slug])).content.decode()
    assert '"mode": "done"' in html and "Nothing left for you to label" in html
    assert "no items yet" not in html


def test_an_empty_project_says_it_has_no_items_yet_not_thank_you(annotator_client, project):
    html = annotator_client.get(reverse("annotator:item-annotate", args=[project.slug])).content.decode()
    assert '"mode": "done"' in html and "This project has no items yet" in html
    assert "Thank you" not in html and "Nothing left" not in html
    assert reverse("annotator:import-upload", args=[project.slug]) not in html  # annotators cannot import


def test_an_empty_project_links_its_lead_to_import(lead_client, project):
    html = lead_client.get(reverse("annotator:item-annotate", args=[project.slug])).content.decode()
    assert "This project has no items yet" in html
    assert f'href="{reverse("annotator:import-upload", args=[project.slug])}">Import items</a>' in html


def test_a_single_task_project_has_no_inference_order_panel(lead, client):
    project = make_project(lead=lead, name="One task", template="sentiment")
    make_items(project, 1)
    (ana,) = members(project, 1)
    assert login(client, ana)
    html = client.get(reverse("annotator:item-annotate", args=[project.slug])).content.decode()
    assert 'id="submit-btn"' in html and 'id="order"' not in html and "Inference order" not in html


def test_the_text_round_page_carries_no_image(lead, client):
    project = make_project(lead=lead, name="Unimodal page", unimodal_rounds=True)
    (item,) = make_items(project, 1, image=True)
    (ana,) = members(project, 1)
    assert login(client, ana)
    html = client.get(reverse("annotator:item-annotate", args=[project.slug])).content.decode()
    image_url = reverse("annotator:item-image", args=[project.slug, item.pk])
    assert item.text in html and image_url not in html
    assert client.get(image_url).status_code == 403


def test_the_edit_mode_opens_only_your_own_annotation(annotator_client, other_annotator, project):
    make_items(project, 2)
    theirs = claim_and_submit(other_annotator, project).annotation
    url = reverse("annotator:item-annotate", args=[project.slug])
    assert annotator_client.get(f"{url}?edit={theirs.pk}").status_code == 404


def test_my_annotations_lists_only_mine(annotator_client, annotator, other_annotator, project):
    make_items(project, 2)
    mine = claim_and_submit(annotator, project).annotation
    claim_and_submit(other_annotator, project, labels={**MSED_LABELS, "desire": "romance"})
    html = annotator_client.get(reverse("annotator:my-annotations", args=[project.slug])).content.decode()
    assert f"?edit={mine.pk}" in html
    assert "Romance" not in html.split("<tbody>")[1]


def test_the_project_page_offers_to_start_annotating(annotator_client, project):
    html = annotator_client.get(reverse("annotator:project-detail", args=[project.slug])).content.decode()
    assert reverse("annotator:item-annotate", args=[project.slug]) in html
    assert reverse("annotator:adjudication", args=[project.slug]) not in html


def test_the_item_list_links_to_the_item_record(lead_client, project, item):
    html = lead_client.get(reverse("annotator:item-list", args=[project.slug])).content.decode()
    assert reverse("annotator:item-detail", args=[project.slug, item.pk]) in html


def test_the_item_record_shows_votes_gold_and_history(lead_client, annotator, project, item):
    from annotator.services import votes

    annotation = claim_and_submit(annotator, project).annotation
    votes.edit_annotation(annotation=annotation, editor=annotator, labels={**MSED_LABELS, "emotion": "fear"})
    html = lead_client.get(lead_urls(project, item)["detail"]).content.decode()
    assert "ana-annotator" in html and "desire → sentiment → emotion" in html
    assert "emotion=fear" in html and "emotion=happiness" in html  # the edit, old and new
    assert "Majority vote" in html


def test_a_lead_adjudicates_from_the_item_page(lead_client, lead, annotator, project, item):
    claim_and_submit(annotator, project)
    response = lead_client.post(adjudicate_url(project, item), {"task": "sentiment", "label": "neutral"})
    assert response.status_code == 302
    gold = Gold.objects.get(item=item, task__key="sentiment")
    assert (gold.label.key, gold.source, gold.adjudicated_by) == ("neutral", Gold.Source.ADJUDICATED, lead)


def test_the_adjudication_queue_lists_disputed_items(lead_client, lead):
    project = make_project(lead=lead, name="Disputes", votes_per_item=2)
    (item,) = make_items(project, 1)
    a, b = members(project, 2)
    claim_and_submit(a, project)
    claim_and_submit(b, project, labels={**MSED_LABELS, "sentiment": "negative"})
    html = lead_client.get(reverse("annotator:adjudication", args=[project.slug])).content.decode()
    assert item.external_id in html and "tie" in html
    lead_client.post(adjudicate_url(project, item), {"task": "sentiment", "label": "negative", "next": "adjudication"})
    html = lead_client.get(reverse("annotator:adjudication", args=[project.slug])).content.decode()
    assert item.external_id not in html.split("data-adjudication")[1]
    assert not AnnotationEdit.objects.exists()
