"""The label schema's form editor: add, rename, reorder and set hotkeys in the
browser; it posts the same JSON as the Advanced view, so the server's
messages are unchanged. Runs under the CSP with no console error."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotator.models import Label, Task
from tests.e2e.browser import Watched

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_editing_the_schema_with_the_form_editor(logged_in_page, live_server, project, lead):
    watched = Watched(logged_in_page(lead), live_server.url)
    page = watched.page
    url = reverse("annotator:project-schema", args=[project.slug])
    watched.goto(url)
    page.wait_for_selector("#schema-editor:not([hidden])")
    assert page.evaluate("() => document.getElementById('schema-advanced').open") is False

    page.get_by_label("Name of label 1 of task 1 (Desire)").fill("Vengeance & retaliation")
    page.get_by_role("button", name="Add a label: to task 1 (Desire)").click()
    # The new label's key field has the focus: type straight into it.
    assert page.evaluate("() => document.activeElement.id") == "schema-t0-l7-key"
    page.keyboard.type("travel")
    page.get_by_label("Name of label 8 of task 1 (Desire)").fill("<b>Travel</b>")
    page.get_by_label("Hotkey of label 8 of task 1 (Desire)").fill("t")
    page.get_by_label("Description of label 8 of task 1 (Desire)").fill("The wish to see other places.")
    page.get_by_role("button", name="Move task up: task 2 (Sentiment)").click()
    assert page.locator("legend").first.inner_text() == "Task 1: Sentiment"
    # The Advanced view holds the JSON the form editor made.
    schema = json.loads(page.locator("#id_schema").input_value())
    assert [t["key"] for t in schema] == ["sentiment", "desire", "emotion"]
    page.get_by_role("button", name="Save schema").click()
    page.wait_for_url("**" + reverse("annotator:project-detail", args=[project.slug]))

    assert list(Task.objects.filter(project=project).order_by("position").values_list("key", flat=True)) == [
        "sentiment",
        "desire",
        "emotion",
    ]
    travel = Label.objects.get(task__project=project, key="travel")
    assert (travel.name, travel.hotkey, travel.description) == ("<b>Travel</b>", "t", "The wish to see other places.")
    assert Label.objects.get(task__project=project, key="vengeance").name == "Vengeance & retaliation"
    watched.assert_clean("schema saved")

    # A duplicate hotkey gets the server's message, as with the JSON form.
    watched.goto(url)
    page.wait_for_selector("#schema-editor:not([hidden])")
    page.get_by_label("Hotkey of label 1 of task 2 (Desire)").fill("t")
    page.get_by_role("button", name="Save schema").click()
    page.wait_for_selector(".form-errors")
    assert "is used by both" in page.locator(".form-errors").inner_text()
    # The hostile name is shown as text in the editor, never as markup.
    assert page.locator("#schema-editor b").count() == 0
    assert page.get_by_label("Name of label 8 of task 2 (Desire)").input_value() == "<b>Travel</b>"
    watched.assert_clean("schema refused")


def test_removing_a_task_and_a_label(logged_in_page, live_server, project, lead):
    watched = Watched(logged_in_page(lead), live_server.url)
    page = watched.page
    watched.goto(reverse("annotator:project-schema", args=[project.slug]))
    page.wait_for_selector("#schema-editor:not([hidden])")
    page.get_by_role("button", name="Remove: label 7 of task 1 (Desire)").click()
    page.get_by_role("button", name="Remove task: task 3 (Emotion)").click()
    page.get_by_role("button", name="Save schema").click()
    page.wait_for_url("**" + reverse("annotator:project-detail", args=[project.slug]))
    assert list(Task.objects.filter(project=project).order_by("position").values_list("key", flat=True)) == [
        "desire",
        "sentiment",
    ]
    assert Label.objects.filter(task__project=project, task__key="desire").count() == 6
    watched.assert_clean("schema reduced")
