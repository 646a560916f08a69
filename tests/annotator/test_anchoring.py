"""The anchoring experiment's arms (issue 14.6): each (annotator, item) pair
is assigned to see suggestions or not by a keyed hash, the page shows them
only in the shown arm, and the server records the arm at submit."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse

from annotator import anchoring
from annotator.models import Annotation, Project
from annotator.services import queue
from annotator.services.projects import update_project_settings
from tests.annotator.factories import MSED_LABELS, MSED_ORDER, make_items, make_suggestions
from tests.factories import make_member

pytestmark = pytest.mark.django_db

# Shares so close to 0 and 1 that every pair of a small test lands in one arm.
ALL_HIDDEN = 1e-12
ALL_SHOWN = 1 - 1e-12


def _experiment(project: Project, share: float) -> Project:
    Project.objects.filter(pk=project.pk).update(show_suggestions=True, suggestion_share=share)
    project.refresh_from_db()
    return project


def test_the_arm_is_the_same_on_every_call_and_follows_the_share(project):
    project = _experiment(project, 0.3)
    arms = [anchoring.suggestion_arm(project, annotator_id=a, item_id=i) for a in range(1, 41) for i in range(1, 101)]
    again = [anchoring.suggestion_arm(project, annotator_id=a, item_id=i) for a in range(1, 41) for i in range(1, 101)]
    assert arms == again
    shown = arms.count(anchoring.SHOWN) / len(arms)
    assert 0.27 < shown < 0.33  # 4,000 pairs: 3 standard errors is 0.022
    assert set(arms) == {anchoring.SHOWN, anchoring.HIDDEN}


def test_the_arm_depends_on_the_pair_and_the_project_not_on_a_pattern(project):
    project = _experiment(project, 0.5)
    # Neither the item id's parity nor a fixed annotator decides it.
    by_item = [anchoring.suggestion_arm(project, annotator_id=7, item_id=i) for i in range(200)]
    assert by_item[0::2] != by_item[1::2]
    positions = {anchoring.pair_position(project.pk, 7, i) for i in range(200)}
    other = {anchoring.pair_position(project.pk + 1, 7, i) for i in range(200)}
    assert positions.isdisjoint(other)


def test_the_arm_changes_with_the_secret_key(settings, project):
    before = [anchoring.pair_position(project.pk, 1, i) for i in range(50)]
    settings.SECRET_KEY = "another-key-entirely-" + "x" * 40
    assert [anchoring.pair_position(project.pk, 1, i) for i in range(50)] != before


def test_no_experiment_when_the_share_is_one_or_suggestions_are_off(project):
    Project.objects.filter(pk=project.pk).update(show_suggestions=True)
    project.refresh_from_db()
    assert project.suggestion_share == 1.0
    assert anchoring.suggestion_arm(project, annotator_id=1, item_id=1) == ""
    project = _experiment(project, 0.5)
    Project.objects.filter(pk=project.pk).update(show_suggestions=False)
    project.refresh_from_db()
    assert anchoring.suggestion_arm(project, annotator_id=1, item_id=1) == ""


def test_unimodal_rounds_are_not_in_the_experiment(project):
    project = _experiment(project, ALL_SHOWN)
    assert anchoring.suggestion_arm(project, annotator_id=1, item_id=1, round_="text") == ""
    assert anchoring.suggestion_arm(project, annotator_id=1, item_id=1) == "shown"


def _next(api, project):
    response = api.post(reverse("api:queue-next", args=[project.slug]), {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["work"]


def _submit(api, project, item_id, **extra):
    body = {"labels": MSED_LABELS, "inference_order": MSED_ORDER, "client_key": str(uuid.uuid4()), **extra}
    return api.post(reverse("api:item-submit", args=[project.slug, item_id]), body, format="json")


def test_the_hidden_arm_sees_no_suggestions_in_the_claim_json_or_the_page(api, client, annotator, project):
    (item,) = make_items(project, 1)
    run = make_suggestions(project, {item: 1.0})
    project = _experiment(project, ALL_HIDDEN)
    api.force_authenticate(annotator)
    work = _next(api, project)
    assert work["item"]["id"] == item.pk and work["suggestions"] is None
    client.force_login(annotator)
    html = client.get(reverse("annotator:item-annotate", args=[project.slug])).content.decode()
    start = json.loads(html.split('id="annotate-start" type="application/json">')[1].split("</script>")[0])
    assert start["item"]["id"] == item.pk and start["suggestions"] is None
    assert "by_task" not in html and f'"run": {run.pk}' not in html
    # The same pair in the shown arm gets them.
    project = _experiment(project, ALL_SHOWN)
    assert _next(api, project)["suggestions"]["run"] == run.pk


def _newer_run(run, *, sentiment: str):
    """A later prediction run of the same pre-labeller, suggesting `sentiment` instead."""
    from inference.models import PredictionRun, Suggestion

    newer = PredictionRun.objects.create(
        project=run.project,
        training_run=run.training_run,
        status=run.status,
        finished_at=run.finished_at + timedelta(minutes=1),
    )
    rows = list(Suggestion.objects.filter(run=run).select_related("task"))
    for s in rows:
        s.pk, s.run = None, newer
        if s.task.key == "sentiment":
            s.label = s.task.labels.get(key=sentiment)
    Suggestion.objects.bulk_create(rows)
    return newer


def test_the_server_records_the_hidden_arm_and_the_run_it_would_have_shown(api, annotator, project):
    (item,) = make_items(project, 1)
    older = make_suggestions(project, {item: 1.0})
    current = _newer_run(older, sentiment="negative")
    project = _experiment(project, ALL_HIDDEN)
    api.force_authenticate(annotator)
    work = _next(api, project)
    # A tampered client claims the shown arm and names another run.
    response = _submit(api, project, work["item"]["id"], suggestion_run=older.pk, suggestion_arm="shown")
    assert response.status_code == 201, response.content
    annotation = Annotation.objects.get()
    assert annotation.suggestion_arm == "hidden"
    assert annotation.suggestion_run_id == current.pk
    # Agreement with what the page would have shown, for the dashboard.
    assert annotation.suggestion_accepted == {"desire": True, "sentiment": False, "emotion": True}


def test_the_lead_sees_which_annotations_had_the_suggestions_withheld(api, client, lead, annotator, project):
    (item,) = make_items(project, 1)
    make_suggestions(project, {item: 1.0})
    project = _experiment(project, ALL_HIDDEN)
    api.force_authenticate(annotator)
    assert _submit(api, project, _next(api, project)["item"]["id"]).status_code == 201
    api.force_authenticate(lead)
    record = api.get(reverse("api:item-detail", args=[project.slug, item.pk])).json()
    assert [v["suggestion_arm"] for v in record["annotations"]] == ["hidden"]
    client.force_login(lead)
    html = client.get(reverse("annotator:item-detail", args=[project.slug, item.pk])).content.decode()
    assert ">withheld</span>" in html


def test_the_shown_arm_is_recorded_with_the_run_the_page_showed(api, annotator, project):
    (item,) = make_items(project, 1)
    run = make_suggestions(project, {item: 1.0})
    project = _experiment(project, ALL_SHOWN)
    api.force_authenticate(annotator)
    work = _next(api, project)
    response = _submit(api, project, item.pk, suggestion_run=work["suggestions"]["run"], suggestion_arm="hidden")
    assert response.status_code == 201, response.content
    annotation = Annotation.objects.get()
    assert (annotation.suggestion_arm, annotation.suggestion_run_id) == ("shown", run.pk)
    assert annotation.suggestion_accepted == {"desire": True, "sentiment": True, "emotion": True}


def test_an_edit_updates_whether_the_label_matches_the_suggestion(api, annotator, project):
    from annotator.services.votes import edit_annotation

    (item,) = make_items(project, 1)
    make_suggestions(project, {item: 1.0})
    project = _experiment(project, ALL_HIDDEN)
    api.force_authenticate(annotator)
    assert _submit(api, project, _next(api, project)["item"]["id"]).status_code == 201
    annotation = Annotation.objects.get()
    assert annotation.suggestion_accepted == {"desire": True, "sentiment": True, "emotion": True}
    edit_annotation(annotation=annotation, editor=annotator, labels={**MSED_LABELS, "sentiment": "negative"})
    annotation.refresh_from_db()
    assert annotation.suggestion_accepted == {"desire": True, "sentiment": False, "emotion": True}
    assert annotation.suggestion_arm == "hidden"


def test_without_the_experiment_the_arm_stays_blank(api, annotator, project):
    (item,) = make_items(project, 1)
    run = make_suggestions(project, {item: 1.0})
    Project.objects.filter(pk=project.pk).update(show_suggestions=True)
    api.force_authenticate(annotator)
    work = _next(api, project)
    assert _submit(api, project, item.pk, suggestion_run=work["suggestions"]["run"]).status_code == 201
    assert Annotation.objects.values_list("suggestion_arm", "suggestion_run_id").get() == ("", run.pk)


def test_fetching_ahead_keeps_each_pair_in_its_arm(api, project):
    items = make_items(project, 12)
    make_suggestions(project, dict.fromkeys(items, 1.0))
    project = _experiment(project, 0.5)
    person = make_member(project, username="ahead")
    api.force_authenticate(person)
    seen = {}
    for _ in range(3):
        claim = queue.claim_next_item(annotator=person, project=project)
        work = _next(api, project)  # the same claim, answered again
        expected = anchoring.suggestion_arm(project, annotator_id=person.pk, item_id=claim.item_id)
        assert (work["suggestions"] is not None) == (expected == "shown")
        seen[claim.item_id] = expected
        assert _submit(api, project, claim.item_id).status_code == 201
    recorded = dict(Annotation.objects.values_list("item_id", "suggestion_arm"))
    assert recorded == seen


# ---- the setting


def test_the_share_is_a_setting_checked_between_zero_and_one(api, lead, project):
    api.force_authenticate(lead)
    url = reverse("api:project-detail", args=[project.slug])
    for bad in (1.5, -0.1, "half", True):
        response = api.patch(url, {"suggestion_share": bad}, format="json")
        assert response.status_code == 400 and "suggestion_share" in response.json(), (bad, response.content)
    response = api.patch(url, {"suggestion_share": 0.5}, format="json")
    assert response.status_code == 200 and response.json()["suggestion_share"] == 0.5
    project.refresh_from_db()
    assert project.suggestion_share == 0.5
    with pytest.raises(Exception, match="between 0 and 1"):
        update_project_settings(project=project, suggestion_share=float("nan"))


def test_the_settings_page_explains_and_checks_the_share(lead_client, project):
    url = reverse("annotator:project-settings", args=[project.slug])
    html = lead_client.get(url).content.decode()
    assert 'name="suggestion_share"' in html and "anchoring experiment" in html
    form = {
        "name": project.name,
        "votes_per_item": project.votes_per_item,
        "queue_order": project.queue_order,
        "claim_minutes": project.claim_minutes,
        "dispute_threshold": project.dispute_threshold,
        "show_suggestions": "on",
        "suggestion_share": "2",
        "control_every": 0,
        "gold_strategy": "majority",
        "reliability_threshold": 0.6,
    }
    response = lead_client.post(url, form)
    assert response.status_code == 200 and "less than or equal to 1" in response.content.decode()
    response = lead_client.post(url, {**form, "suggestion_share": "0.5"})
    assert response.status_code == 302, response.content.decode()[:2000]
    project.refresh_from_db()
    assert project.suggestion_share == 0.5 and project.show_suggestions
