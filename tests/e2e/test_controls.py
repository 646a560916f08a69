"""A control item in an annotator's stream, in headless Chromium: it arrives
on the labelling page like any other item, is labelled from the keyboard,
and (the project gives feedback) the page then says whether the labels
matched its known answers, written as text.

Waits are written as functions ("() => ..."): Playwright evaluates a bare
expression with eval, which the Content-Security-Policy refuses."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse

from annotator.models import Annotation, Item, Project, Vote
from annotator.services import queue
from tests.annotator.factories import make_control, make_items, members
from tests.e2e.browser import Watched, wait_for
from tests.factories import make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# MSED hotkeys: desire 1-7 (4 = family), sentiment q/w/e (e = negative), emotion a-h (a = happiness).
HOSTILE_ID = '<img src=x onerror="window.__xss=1">check-1'


def test_a_control_item_arrives_in_the_stream_is_submitted_and_its_feedback_shown(
    lead, logged_in_page, live_server, monkeypatch
):
    monkeypatch.setattr(queue, "control_rng", random.Random(1))  # the live server runs in this process
    project = make_project(lead=lead, name="Checks")
    Project.objects.filter(pk=project.pk).update(control_every=1, control_feedback=True)  # every claim draws one
    ordinary = make_items(project, 2)
    control_item = Item.objects.create(project=project, external_id=HOSTILE_ID, text="A couple laughing at a fair.")
    make_control(control_item, {"sentiment": "negative", "emotion": "sad"})
    (ana,) = members(project, 1)
    page = logged_in_page(ana)
    watched = Watched(page, live_server.url)

    watched.goto(reverse("annotator:item-annotate", args=[project.slug]))
    page.wait_for_selector("#annotate[data-ready]")
    # The control item comes first (control_every = 1) and looks like any item: its id as text, no flag.
    assert page.locator("#item-id").inner_text() == HOSTILE_ID
    assert "control" not in page.locator("#annotate-start").text_content().lower()
    assert page.locator("#message").is_hidden()

    for key in ("e", "4", "a"):  # sentiment negative (known), desire family, emotion happiness (known: sad)
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_function("(shown) => document.getElementById('item-id').textContent !== shown", arg=HOSTILE_ID)

    page.wait_for_selector("#message[data-feedback]")
    toast = page.locator("#message").inner_text()
    assert HOSTILE_ID in toast  # written as text, not markup
    assert "Sentiment: matched" in toast and "Emotion: the known answer is Sad" in toast
    assert page.locator("#message").get_attribute("data-feedback") == "missed"
    wait_for(lambda: Annotation.objects.filter(item=control_item, is_control=True).count() == 1, message="saved")
    assert set(Vote.objects.filter(item=control_item).values_list("is_control", flat=True)) == {True}
    assert Item.objects.get(pk=control_item.pk).vote_count == 0

    # The next item is an ordinary one: labelled, with no feedback.
    shown = page.locator("#item-id").inner_text()
    assert shown in {item.external_id for item in ordinary}
    for key in ("e", "4", "a"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    wait_for(lambda: Annotation.objects.filter(annotator=ana, is_control=False).count() == 1, message="ordinary")
    assert page.locator("#message[data-feedback]").count() == 0  # the submit cleared the earlier feedback
    watched.assert_clean("labelling with a control item")
    watched.leave()
