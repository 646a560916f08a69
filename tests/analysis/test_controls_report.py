"""The control-items report (analysis.dashboards.controls): the Wilson
interval, each annotator's accuracy and each control item's record, and
the JSON a lead reads from the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analysis.metrics import wilson_interval
from annotator.models import Annotation, Label, Vote
from tests.annotator.factories import make_control, make_items
from tests.factories import make_member

WILSON_CASES = [(0, 5), (3, 4), (7, 7), (45, 60), (1, 1000)]


@pytest.mark.parametrize(("successes", "trials"), WILSON_CASES)
def test_the_wilson_interval_is_statsmodels_one(successes, trials):
    from statsmodels.stats.proportion import proportion_confint

    low, high = wilson_interval(successes, trials)
    expected = proportion_confint(successes, trials, alpha=0.05, method="wilson")
    assert low == pytest.approx(expected[0], abs=1e-6) and high == pytest.approx(expected[1], abs=1e-6)
    assert 0 <= low <= successes / trials <= high <= 1


def test_the_wilson_interval_is_undefined_without_trials():
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def _answer(item, user, answers: dict[str, str]) -> None:
    annotation = Annotation.objects.create(item=item, annotator=user, is_control=True)
    for task_key, label_key in answers.items():
        label = Label.objects.select_related("task").get(task__project=item.project, task__key=task_key, key=label_key)
        Vote.objects.create(
            annotation=annotation,
            item=item,
            annotator=user,
            round="multimodal",
            task=label.task,
            label=label,
            is_control=True,
        )


@pytest.mark.django_db
def test_the_report_gives_accuracy_with_an_interval_per_annotator_and_a_record_per_item(api, client, lead, project):
    first, second, _ordinary = make_items(project, 3)
    make_control(first, {"sentiment": "positive", "emotion": "sad"})
    make_control(second, {"sentiment": "negative"})
    good, careless = make_member(project, username="good"), make_member(project, username="careless")
    _answer(first, good, {"sentiment": "positive", "emotion": "sad", "desire": "family"})
    _answer(second, good, {"sentiment": "negative"})
    _answer(first, careless, {"sentiment": "neutral", "emotion": "happiness"})
    _answer(second, careless, {"sentiment": "negative"})

    api.force_authenticate(lead)
    response = api.get(reverse("api:controls", args=[project.slug]))

    assert response.status_code == 200
    body = response.json()
    by_name = {a["username"]: a for a in body["annotators"]}
    assert (by_name["good"]["correct"], by_name["good"]["total"]) == (3, 3)
    assert (by_name["careless"]["correct"], by_name["careless"]["total"]) == (1, 3)
    low, high = wilson_interval(1, 3)
    assert by_name["careless"]["low"] == pytest.approx(low) and by_name["careless"]["high"] == pytest.approx(high)
    assert by_name["careless"]["weeks"][0]["total"] == 3 and "-W" in by_name["careless"]["weeks"][0]["week"]
    items = {row["external_id"]: row for row in body["items"]}
    assert set(items) == {first.external_id, second.external_id}
    assert items[first.external_id]["seen"] == 2
    assert (items[first.external_id]["correct"], items[first.external_id]["total"]) == (2, 4)
    assert [a["task"] for a in items[first.external_id]["answers"]] == ["Sentiment", "Emotion"]
    assert body["control_every"] == 0 and body["control_feedback"] is False

    client.force_login(lead)
    page = client.get(reverse("analysis:controls", args=[project.slug]) + "?format=csv&chart=control-accuracy")
    assert page.status_code == 200 and b"careless" in page.content
