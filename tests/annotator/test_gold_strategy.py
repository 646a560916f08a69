"""Choosing the gold strategy (project and task) from the settings page and the
API, the "Recompute now" action, and the queue of model-based gold in doubt:
who may use them, what they show (hostile names escaped) and where they lead."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator import gold_jobs
from annotator.models import Gold, Label, Project, Task
from tests.annotator.factories import make_items
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db

HOSTILE = '<img src=x onerror="alert(1)">'


class RecordingSender(gold_jobs.GoldJobSender):
    def __init__(self):
        self.sent = []

    def send(self, *, project_id, countdown):
        self.sent.append(project_id)


@pytest.fixture
def sender():
    previous = gold_jobs.get_sender()
    recording = RecordingSender()
    gold_jobs.register_sender(recording)
    yield recording
    gold_jobs.register_sender(previous)


def _model_gold(project, item, *, task_key="sentiment", label="negative", majority="positive", confidence=0.9):
    task = project.tasks.get(key=task_key)
    return Gold.objects.create(
        item=item,
        task=task,
        label=task.labels.get(key=label),
        majority_label=task.labels.get(key=majority) if majority else None,
        source=Gold.Source.DAWID_SKENE,
        confidence=confidence,
        votes_for=1,
        votes_total=3,
        posterior={label: confidence},
    )


# ---------------------------------------------------------------- settings


def test_a_lead_sets_the_gold_strategy_of_the_project_and_of_a_task_in_the_api(api, lead, project, sender):
    api.force_authenticate(lead)
    url = reverse("api:project-detail", args=[project.slug])
    response = api.patch(
        url,
        {"gold_strategy": "mace", "task_gold_strategies": {"emotion": "dawid_skene"}, "reliability_threshold": 0.7},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["gold_strategy"], body["reliability_threshold"]) == ("mace", 0.7)
    assert body["task_gold_strategies"] == {"desire": "", "sentiment": "", "emotion": "dawid_skene"}
    assert Task.objects.get(project=project, key="emotion").gold_strategy == "dawid_skene"
    bad = api.patch(url, {"task_gold_strategies": {"nope": "mace"}}, format="json")
    assert bad.status_code == 400 and "nope" in bad.json()["detail"]
    assert api.patch(url, {"gold_strategy": "vibes"}, format="json").status_code == 400


def test_an_annotator_cannot_change_the_gold_strategy(api, annotator, project):
    api.force_authenticate(annotator)
    response = api.patch(reverse("api:project-detail", args=[project.slug]), {"gold_strategy": "mace"}, format="json")
    assert response.status_code == 403
    assert Project.objects.get(pk=project.pk).gold_strategy == "majority"


def test_the_settings_page_sets_a_tasks_strategy_and_escapes_its_name(lead_client, project):
    Task.objects.filter(project=project, key="desire").update(name=HOSTILE)
    url = reverse("annotator:project-settings", args=[project.slug])
    page = lead_client.get(url).content.decode()
    assert HOSTILE not in page and "&lt;img src=x" in page
    form = {
        "name": project.name,
        "votes_per_item": 5,
        "queue_order": project.queue_order,
        "claim_minutes": 10,
        "dispute_threshold": 0.6,
        "gold_strategy": "majority",
        "reliability_threshold": 0.5,
        "task_gold_strategy__sentiment": "mace",
        "suggestion_share": 1,
        "control_every": 0,
    }
    response = lead_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Task.objects.get(project=project, key="sentiment").gold_strategy == "mace"
    assert Project.objects.get(pk=project.pk).reliability_threshold == 0.5
    assert "Recompute now" in lead_client.get(url).content.decode()


def test_recompute_now_sends_the_job_for_leads_only(
    api, lead, annotator, outsider, project, sender, django_capture_on_commit_callbacks
):
    url = reverse("api:gold-recompute", args=[project.slug])
    api.force_authenticate(annotator)
    assert api.post(url).status_code == 403
    api.force_authenticate(outsider)
    assert api.get(url).status_code == 404
    api.force_authenticate(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url)
    assert response.status_code == 202 and sender.sent == [project.pk]
    status = api.get(url).json()
    assert (status["state"], status["uses_model"], status["computed_at"]) == ("scheduled", False, None)


def test_the_recompute_button_of_the_settings_page(client, lead, annotator, project, sender):
    url = reverse("annotator:gold-recompute", args=[project.slug])
    client.force_login(annotator)
    assert client.post(url).status_code == 403
    client.force_login(lead)
    response = client.post(url)
    assert response.status_code == 302 and response.url.endswith("/settings/#gold")


# ---------------------------------------------------------------- gold in doubt


@pytest.fixture
def doubts(project):
    """Three items: model gold against the majority, model gold agreeing but
    unsure, model gold agreeing and sure (not in doubt); hostile text and label."""
    items = [ItemFactory(project=project, text=f"{HOSTILE} {i}") for i in range(3)]
    Label.objects.filter(task__project=project, key="negative").update(name=HOSTILE)
    _model_gold(project, items[0])
    _model_gold(project, items[1], label="positive", confidence=0.4)
    _model_gold(project, items[2], label="positive", confidence=0.95)
    return items


def test_the_doubt_queue_lists_model_gold_against_the_majority_or_unsure(lead_client, project, doubts):
    url = reverse("annotator:adjudication", args=[project.slug])
    page = lead_client.get(url, {"queue": "model"}).content.decode()
    assert f"item-{doubts[0].pk}" in page and f"item-{doubts[1].pk}" in page
    assert f"item-{doubts[2].pk}" not in page
    assert HOSTILE not in page and "&lt;img src=x onerror=" in page
    lower = lead_client.get(url, {"queue": "model", "below": "0.3"}).content.decode()
    assert f"item-{doubts[1].pk}" not in lower and f"item-{doubts[0].pk}" in lower
    other_task = lead_client.get(url, {"queue": "model", "task": "emotion"}).content.decode()
    assert f"item-{doubts[0].pk}" not in other_task
    assert lead_client.get(url, {"queue": "model", "below": "lots"}).status_code == 200


def test_setting_gold_from_the_doubt_queue_goes_to_the_next_doubt(lead_client, project, doubts):
    response = lead_client.post(
        reverse("annotator:item-adjudicate", args=[project.slug, doubts[0].pk]),
        {"task": "sentiment", "label": "positive", "next": "adjudication", "queue": "model", "below": "0.6"},
    )
    assert response.status_code == 302
    assert "queue=model" in response.url and response.url.endswith(f"#item-{doubts[1].pk}")
    assert Gold.objects.get(item=doubts[0], task__key="sentiment").source == Gold.Source.ADJUDICATED


def test_the_doubts_api_for_leads(api, lead, annotator, project, doubts):
    url = reverse("api:gold-doubts", args=[project.slug])
    api.force_authenticate(annotator)
    assert api.get(url).status_code == 403
    api.force_authenticate(lead)
    body = api.get(url, {"task": "sentiment"}).json()
    assert [i["id"] for i in body["items"]] == [doubts[0].pk, doubts[1].pk]
    row = body["items"][0]["gold"][0]
    assert (row["label"], row["majority_label"], row["confidence"], row["source"]) == (
        "negative",
        "positive",
        0.9,
        "dawid_skene",
    )
    assert api.get(url, {"task": "nope"}).status_code == 400
    assert api.get(url, {"below": "2"}).status_code == 400


def test_an_adjudicated_item_leaves_the_doubt_queue(lead, project, doubts):
    from annotator.selectors import review
    from annotator.services.gold import adjudicate

    task = project.tasks.get(key="sentiment")
    adjudicate(item=doubts[0], task=task, label=task.labels.get(key="positive"), lead=lead)
    page = review.list_model_doubts(project, threshold=0.6)
    assert [i.pk for i in page["items"]] == [doubts[1].pk]
    make_items(project, 1)  # items without gold are never in doubt
    assert len(review.list_model_doubts(project, threshold=0.6)["items"]) == 1
