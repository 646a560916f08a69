"""The labelling page in headless Chromium, driven from the keyboard.

Waits are written as functions ("() => ..."): Playwright evaluates a bare
expression with eval, which the Content-Security-Policy refuses."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.conf import settings
from django.urls import reverse

from annotator.models import Annotation, AnnotationEdit, ImageAsset, Item, Vote
from tests.annotator.factories import make_items, make_suggestions, members
from tests.e2e.browser import wait_for
from tests.factories import make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# MSED hotkeys: desire 1-7 (4 = family), sentiment q/w/e, emotion a-h (a = happiness, s = sad).


def annotate_url(project) -> str:
    return reverse("annotator:item-annotate", args=[project.slug])


def shown_item(page) -> str:
    return page.locator("#item-id").inner_text()


def store_image(n: int) -> ImageAsset:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (30 * n % 255, 120, 200)).save(buffer, format="PNG")
    data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    path = settings.MEDIA_ROOT / "images" / f"{sha}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ImageAsset.objects.create(
        sha256=sha, file=f"images/{sha}.png", format="PNG", width=40, height=30, size_bytes=len(data)
    )


def test_three_items_labelled_from_the_keyboard_with_a_reordered_inference_order(lead, logged_in_page):
    project = make_project(lead=lead, name="Keyboard")
    items = make_items(project, 3)
    (ana,) = members(project, 1)
    page = logged_in_page(ana)
    page.goto(annotate_url(project))
    page.wait_for_selector("#annotate[data-ready]")
    seen = []
    for n in range(3):
        current = shown_item(page)
        seen.append(current)
        for key in ("e", "4", "a"):  # answered sentiment, desire, emotion
            page.keyboard.press(key)
        assert page.locator("#order .chip").all_inner_texts() == ["Sentiment", "Desire", "Emotion"]
        # The cursor is on the last answered task; move it to sentiment and push sentiment one step later.
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("]")
        assert page.locator("#order .chip").all_inner_texts() == ["Desire", "Sentiment", "Emotion"]
        page.keyboard.press("Enter")
        if n < 2:
            page.wait_for_function("(shown) => document.getElementById('item-id').textContent !== shown", arg=current)
    page.wait_for_selector("#done:not([hidden])")
    assert sorted(seen) == sorted(i.external_id for i in items)
    wait_for(lambda: Annotation.objects.count() == 3, message="three annotations")
    for annotation in Annotation.objects.all():
        assert annotation.inference_order == ["desire", "sentiment", "emotion"]
        assert {v.task.key: v.label.key for v in annotation.votes.all()} == {
            "desire": "family",
            "sentiment": "negative",
            "emotion": "happiness",
        }
        assert annotation.duration_ms is not None and annotation.duration_ms > 0
    assert page.locator("#mine-count").inner_text().startswith("3 /")


def test_going_back_to_change_an_annotation_keeps_its_history(lead, logged_in_page):
    project = make_project(lead=lead, name="Going back")
    make_items(project, 3)
    (ana,) = members(project, 1)
    page = logged_in_page(ana)
    page.goto(annotate_url(project))
    page.wait_for_selector("#annotate[data-ready]")
    first = shown_item(page)
    for key in ("1", "q", "a", "Enter"):
        page.keyboard.press(key)
    page.wait_for_function("(shown) => document.getElementById('item-id').textContent !== shown", arg=first)
    current = shown_item(page)
    wait_for(lambda: Annotation.objects.count() == 1, message="the first annotation")
    page.keyboard.press("3")  # an unfinished choice on the current item, kept while looking back

    page.keyboard.press("<")
    page.wait_for_selector("#edit-banner:not([hidden])")
    assert shown_item(page) == first
    assert page.locator(".label-btn.chosen").all_inner_texts()[1].strip().endswith("Positive")
    page.keyboard.press("e")  # sentiment: negative
    page.keyboard.press("Enter")
    page.wait_for_selector("#edit-banner", state="hidden")
    assert shown_item(page) == current
    assert page.locator(".label-btn.chosen").count() == 1  # the desire chosen before looking back

    wait_for(lambda: AnnotationEdit.objects.exists(), message="the edit")
    edit = AnnotationEdit.objects.get()
    assert edit.old["labels"]["sentiment"] == "positive" and edit.new["labels"]["sentiment"] == "negative"
    assert Vote.objects.get(task__key="sentiment", annotation=edit.annotation).label.key == "negative"
    assert Annotation.objects.count() == 1


def test_unimodal_rounds_never_send_the_hidden_modality(lead, logged_in_page, responses):
    project = make_project(lead=lead, name="Rounds in a browser", unimodal_rounds=True, votes_per_item=1)
    item = Item.objects.create(
        project=project, external_id="pair-1", text="Finally home with my little ones", image=store_image(1)
    )
    image_url = reverse("annotator:item-image", args=[project.slug, item.pk])
    (ana,) = members(project, 1)
    page = logged_in_page(ana)
    seen = responses(page)
    image_requests = []
    page.on("request", lambda request: image_requests.append(request.url) if image_url in request.url else None)
    page.goto(annotate_url(project))
    page.wait_for_selector("#annotate[data-ready]")

    # Text round: the text, no image anywhere (DOM, page, JSON), and the image URL refuses.
    assert page.locator("#round-badge").inner_text() == "Text only"
    assert page.locator("#item-text").inner_text() == item.text
    assert page.locator("#image-button").is_hidden()
    assert "hidden in this round" in page.locator("#image-absent").inner_text()
    assert page.locator("#item-image").get_attribute("src") is None
    assert all(image_url not in body for _, _, body in seen)
    assert page.request.get(image_url).status == 403
    for key in ("4", "q", "a", "Enter"):
        page.keyboard.press(key)

    # Image round: the image, and the text nowhere in what this round received.
    page.wait_for_function("() => document.getElementById('round-badge').textContent === 'Image only'")
    received_before = len(seen)
    assert page.locator("#item-text").is_hidden()
    assert page.locator("#item-text").inner_text() == ""
    assert "hidden in this round" in page.locator("#text-absent").inner_text()
    page.wait_for_function(
        "() => document.getElementById('item-image').complete && document.getElementById('item-image').naturalWidth > 0"
    )
    for key in ("4", "w", "a", "Enter"):
        page.keyboard.press(key)

    # Both.
    page.wait_for_function("() => document.getElementById('round-badge').textContent === 'Text and image'")
    assert page.locator("#item-text").inner_text() == item.text
    assert page.locator("#image-button").is_visible()
    for key in ("4", "w", "a", "Enter"):
        page.keyboard.press(key)
    page.wait_for_selector("#done:not([hidden])")
    wait_for(lambda: Annotation.objects.count() == 3, message="three rounds")

    # Every work payload the browser received carried only its round's modality.
    payloads = []
    for url, status, body in seen:
        if "/queue/next/" in url and status == 200:
            work = json.loads(body)["work"]
            if work:
                payloads.append(work["item"])
    assert payloads, "the page fetched items through the API"
    for shown in payloads:
        if shown["round"] == "text":
            assert shown["image_url"] is None and image_url not in json.dumps(shown)
        if shown["round"] == "image":
            assert shown["text"] is None and item.text not in json.dumps(shown)
    image_round_bodies = [
        body for _, _, body in seen[:received_before] if '"round": "image"' in body or '"round":"image"' in body
    ]
    assert all(item.text not in body for body in image_round_bodies)
    # The image was only ever requested after the text round was submitted.
    assert image_requests and Annotation.objects.filter(round="text").exists()
    assert [a.round for a in Annotation.objects.order_by("id")] == ["text", "image", "multimodal"]


@pytest.mark.parametrize("after_first_choice", [False, True])
def test_a_suggestion_is_shown_and_its_acceptance_recorded(lead, logged_in_page, after_first_choice):
    project = make_project(lead=lead, name="Suggested", show_suggestions=True)
    project.suggestions_after_first_choice = after_first_choice
    project.save()
    (item,) = make_items(project, 1)
    run = make_suggestions(
        project, {item: 1.2}, label_keys={"desire": "family", "sentiment": "neutral", "emotion": "sad"}
    )
    (ana,) = members(project, 1)
    page = logged_in_page(ana)
    page.goto(annotate_url(project))
    page.wait_for_selector("#annotate[data-ready]")
    suggested = page.locator(".label-btn.suggested")
    if after_first_choice:
        assert suggested.count() == 0  # not before the annotator's own first choice
        page.keyboard.press("4")
    else:
        page.keyboard.press("4")
    assert suggested.count() == 3
    assert (
        page.locator('.label-btn[data-task="sentiment"][data-label="neutral"] .suggestion').inner_text() == "model 80%"
    )
    page.keyboard.press("w")  # sentiment: neutral, as suggested
    page.keyboard.press("a")  # emotion: happiness, not the suggested sad
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    wait_for(lambda: Annotation.objects.exists(), message="the annotation")
    annotation = Annotation.objects.get()
    assert annotation.suggestion_run_id == run.pk
    assert annotation.suggestion_accepted == {"desire": True, "sentiment": True, "emotion": False}
