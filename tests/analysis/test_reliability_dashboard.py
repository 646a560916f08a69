"""The Annotators dashboard's reliability part: MACE competence, agreement with
gold, control accuracy (with intervals), Dawid-Skene confusion matrices, the
flags under the lead's threshold, escaping, and the API (issue 14, section 2)."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from analysis.dashboards.annotators import build_annotators
from analysis.figures import confusion_by_annotator, interval_bars, validated
from analysis.metrics.intervals import wilson_interval
from analysis.selectors import DashboardFilters
from annotator.models import Annotation, ControlAnswer, Gold, Item, Project, Vote
from tests.analysis.factories import make_crowd
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db
HOSTILE = "<b onmouseover=alert(1)>x</b>"


def test_wilson_interval_matches_the_textbook_values():
    lower, upper = wilson_interval([8, 0], [10, 0])
    assert (round(float(lower[0]), 4), round(float(upper[0]), 4)) == (0.4902, 0.9433)
    assert np.isnan(lower[1]) and np.isnan(upper[1])


@pytest.fixture
def crowd(project):
    Project.objects.filter(pk=project.pk).update(reliability_threshold=0.6)
    project.refresh_from_db()
    items, truth, careful, spammers = make_crowd(project, n_items=30, seed=7)
    get_user_model().objects.filter(pk=spammers[0].pk).update(username=HOSTILE)
    return items, truth, careful, spammers


def _by_name(payload):
    return {a["id"]: a for a in payload["data"]["annotators"]}


def test_spammers_are_flagged_and_careful_annotators_are_not(project, crowd):
    _, _, careful, spammers = crowd
    payload = build_annotators(project, DashboardFilters())
    rows = _by_name(payload)
    for user in spammers:
        assert rows[user.pk]["flags"], rows[user.pk]
        competence = rows[user.pk]["reliability"]["sentiment"]["competence"]
        assert competence["value"] < 0.6
    for user in careful:
        assert rows[user.pk]["flags"] == []
        competence = rows[user.pk]["reliability"]["sentiment"]["competence"]
        assert competence["lower"] <= competence["value"] <= competence["upper"] and competence["value"] > 0.7
    ids = [c["id"] for c in payload["charts"]]
    assert {"flags", "competence", "gold-agreement", "control-accuracy", "confusion-sentiment"} <= set(ids)


def test_agreement_with_gold_counts_votes_against_the_stored_gold(project, crowd):
    _, _, careful, _ = crowd
    user = careful[0]
    gold = dict(Gold.objects.filter(task__project=project, task__key="sentiment").values_list("item_id", "label_id"))
    votes = Vote.objects.filter(annotator=user, task__key="sentiment")
    matches = sum(gold.get(v.item_id) == v.label_id for v in votes)
    compared = sum(v.item_id in gold and gold[v.item_id] is not None for v in votes)
    entry = _by_name(build_annotators(project, DashboardFilters()))[user.pk]["reliability"]["sentiment"]
    agreement = entry["gold_agreement"]
    lower, upper = wilson_interval(matches, compared)
    assert agreement["value"] == pytest.approx(matches / compared) and agreement["n"] == compared
    assert (agreement["lower"], agreement["upper"]) == (pytest.approx(float(lower)), pytest.approx(float(upper)))


def test_control_votes_give_control_accuracy_and_stay_out_of_agreement(project, crowd):
    _, _, careful, _ = crowd
    user = careful[1]
    task = project.tasks.get(key="sentiment")
    control = ItemFactory(project=project, is_control=True, text="control")
    ControlAnswer.objects.create(item=control, task=task, label=task.labels.get(key="neutral"))
    annotation = Annotation.objects.create(item=control, annotator=user, is_control=True)
    Vote.objects.create(
        annotation=annotation,
        item=control,
        annotator=user,
        round=annotation.round,
        task=task,
        label=task.labels.get(key="positive"),
        is_control=True,
    )
    # Even a stray gold row on a control item would not count toward agreement.
    Gold.objects.create(item=control, task=task, label=task.labels.get(key="positive"), votes_for=1, votes_total=1)
    with_gold = Gold.objects.filter(task=task, label__isnull=False, item__is_control=False).values("item_id")
    before = Vote.objects.filter(annotator=user, task=task, item_id__in=with_gold).count()
    entry = _by_name(build_annotators(project, DashboardFilters()))[user.pk]["reliability"]["sentiment"]
    assert entry["control_accuracy"]["value"] == 0 and entry["control_accuracy"]["n"] == 1
    assert entry["gold_agreement"]["n"] == before
    assert any(
        "control accuracy" in flag for flag in _by_name(build_annotators(project, DashboardFilters()))[user.pk]["flags"]
    )
    assert Item.objects.filter(is_control=True).count() == 1


def test_the_reliability_figures_are_valid_plotly_and_escape_names():
    names = [HOSTILE, "ann"]
    series = {HOSTILE: {"value": [0.5, None], "lower": [0.3, None], "upper": [0.7, None], "n": [10, 0]}}
    bars = validated(interval_bars(names, series, title_y="competence", threshold=0.6))
    heat = validated(confusion_by_annotator(HOSTILE, [HOSTILE, "b"], names, np.full((2, 2, 2), 0.5)))
    for fig in (bars, heat):
        text = fig.to_json()
        assert "<b onmouseover" not in text and "&lt;b onmouseover" in text


def test_the_annotators_api_carries_reliability_for_leads_only(api, lead, annotator, project, crowd):
    url = reverse("api:annotators", args=[project.slug])
    api.force_authenticate(annotator)
    assert api.get(url).status_code == 403
    api.force_authenticate(lead)
    rows = api.get(url).json()["annotators"]
    spammer = next(row for row in rows if row["id"] == crowd[3][0].pk)
    assert spammer["flags"] and spammer["reliability"]["sentiment"]["competence"]["value"] < 0.6


def test_the_cached_page_follows_the_leads_threshold(project, crowd):
    from analysis.dashboards import get_dashboard

    careful = crowd[2][0]
    first = get_dashboard(project=project, page="annotators", filters=DashboardFilters())
    assert _by_name(first)[careful.pk]["flags"] == []
    Project.objects.filter(pk=project.pk).update(reliability_threshold=0.99)
    project.refresh_from_db()
    again = get_dashboard(project=project, page="annotators", filters=DashboardFilters())
    assert _by_name(again)[careful.pk]["flags"]


def test_the_annotators_page_escapes_a_hostile_username_in_flags_and_charts(lead_client, project, crowd):
    url = reverse("analysis:annotators", args=[project.slug])
    page = lead_client.get(url).content.decode()
    assert "Annotators below the reliability threshold" in page
    assert HOSTILE not in page and "&lt;b onmouseover=alert(1)&gt;" in page
