"""Model-based gold (issue 14, section 2): the recompute job's fits and writes,
adjudicated gold never overwritten, control items, switching back to majority,
and the debounced sending from the labelling loop."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import gold_models
from analysis.reliability import dawid_skene
from annotator import gold_jobs
from annotator.models import ControlAnswer, Gold, Item, Project
from annotator.services.gold import adjudicate
from annotator.services.projects import update_project_settings
from tests.analysis.factories import make_crowd
from tests.annotator.factories import claim_and_submit, make_items

pytestmark = pytest.mark.django_db

DS, MACE, MAJORITY = Project.GoldStrategy.DAWID_SKENE, Project.GoldStrategy.MACE, Project.GoldStrategy.MAJORITY


def _accuracy(project, truth, task_key: str) -> float:
    gold = Gold.objects.filter(task__project=project, task__key=task_key).select_related("label")
    return float(np.mean([g.label is not None and g.label.key == truth[g.item_id][task_key] for g in gold]))


def _set(project, **changes):
    update_project_settings(project=project, **changes)
    project.refresh_from_db()


def test_dawid_skene_gold_is_the_models_posterior_and_keeps_the_majority_beside_it(project):
    items, truth, _, _ = make_crowd(project, n_items=40, seed=1)
    majority_accuracy = _accuracy(project, truth, "sentiment")
    _set(project, gold_strategy=DS)
    report = gold_models.recompute_project_gold(project=project)
    assert report.fitted == {"desire": 40, "emotion": 40, "sentiment": 40}

    task = next(t for t in gold_models.get_project_schema(project).tasks if t.key == "sentiment")
    votes = gold_models.get_task_votes(project, task)
    expected = dawid_skene(votes.labels, n_categories=3, max_iter=gold_models.DS_MAX_ITER)
    gold = {g.item_id: g for g in Gold.objects.filter(task_id=task.id).select_related("label", "majority_label")}
    for row, item_id in enumerate(votes.item_ids.tolist()):
        g = gold[item_id]
        assert g.source == Gold.Source.DAWID_SKENE
        assert g.label.key == task.label_keys[expected.labels[row]]
        assert g.confidence == pytest.approx(expected.posteriors[row].max())
        assert sum(g.posterior.values()) == pytest.approx(1, abs=1e-5)
        assert g.votes_total == 5 and g.votes_for == (votes.labels[row] == expected.labels[row]).sum()
    assert any(g.majority_label_id != g.label_id for g in gold.values())  # the spammers sway the majority
    assert _accuracy(project, truth, "sentiment") > majority_accuracy
    assert Project.objects.get(pk=project.pk).gold_computed_at is not None


def test_mace_gold_per_task_leaves_the_other_tasks_majority(project):
    make_crowd(project, n_items=30, seed=2)
    _set(project, task_gold_strategies={"emotion": MACE})
    gold_models.recompute_project_gold(project=project)
    sources = dict(
        Gold.objects.filter(task__project=project).values_list("task__key", "source").distinct().order_by("task__key")
    )
    assert sources == {"desire": Gold.Source.MAJORITY, "emotion": Gold.Source.MACE, "sentiment": Gold.Source.MAJORITY}
    emotion = Gold.objects.filter(task__project=project, task__key="emotion").first()
    assert 0 < emotion.confidence <= 1 and set(emotion.posterior) == {
        "happiness",
        "sad",
        "neutral",
        "disgust",
        "anger",
        "fear",
    }


def test_adjudicated_and_imported_gold_are_never_overwritten(project, lead):
    items, _, _, _ = make_crowd(project, n_items=20, seed=3)
    task = project.tasks.get(key="sentiment")
    negative = task.labels.get(key="negative")
    adjudicate(item=items[0], task=task, label=negative, lead=lead)
    Gold.objects.filter(item=items[1], task=task).update(source=Gold.Source.IMPORTED, label=negative, confidence=None)
    _set(project, gold_strategy=DS)
    gold_models.recompute_project_gold(project=project)
    first, second = (Gold.objects.get(item=i, task=task) for i in items[:2])
    assert (first.source, first.label_id, first.confidence) == (Gold.Source.ADJUDICATED, negative.pk, None)
    assert (second.source, second.label_id) == (Gold.Source.IMPORTED, negative.pk)
    assert Gold.objects.filter(task=task, source=Gold.Source.DAWID_SKENE).count() == 18


def test_switching_back_to_majority_restores_majority_gold(project):
    make_crowd(project, n_items=20, seed=4)
    before = {
        (g.item_id, g.task_id): (g.label_id, g.votes_for, g.confidence)
        for g in Gold.objects.filter(item__project=project)
    }
    _set(project, gold_strategy=MACE)
    gold_models.recompute_project_gold(project=project)
    assert not Gold.objects.filter(item__project=project, source=Gold.Source.MAJORITY).exists()
    _set(project, gold_strategy=MAJORITY)
    gold_models.recompute_project_gold(project=project)
    after = {
        (g.item_id, g.task_id): (g.label_id, g.votes_for, g.confidence)
        for g in Gold.objects.filter(item__project=project)
    }
    assert after == before
    assert set(Gold.objects.filter(item__project=project).values_list("source", "posterior")) == {
        (Gold.Source.MAJORITY, None)
    }


def test_control_items_anchor_dawid_skene_and_get_no_gold(project):
    items, truth, _, _ = make_crowd(project, n_items=20, seed=5)
    task = project.tasks.get(key="sentiment")
    control = items[0]
    Item.objects.filter(pk=control.pk).update(is_control=True)
    Gold.objects.filter(item=control).delete()  # what the controls branch's loop leaves: no gold
    known = task.labels.get(key=truth[control.pk]["sentiment"])
    ControlAnswer.objects.create(item=control, task=task, label=known)
    spec = next(t for t in gold_models.get_project_schema(project).tasks if t.key == "sentiment")
    votes = gold_models.get_task_votes(project, spec)
    row = int(np.searchsorted(votes.item_ids, control.pk))
    assert votes.is_control[row] and votes.control == {row: spec.label_keys.index(known.key)}
    fit = gold_models.fit_task(votes, DS)
    assert fit.posteriors[row].argmax() == spec.label_keys.index(known.key) and fit.posteriors[row].max() == 1
    _set(project, gold_strategy=DS)
    gold_models.recompute_project_gold(project=project)
    assert not Gold.objects.filter(item=control).exists()


# ---------------------------------------------------------------- sending the job


class RecordingSender(gold_jobs.GoldJobSender):
    def __init__(self):
        self.sent = []

    def send(self, *, project_id, countdown):
        self.sent.append((project_id, countdown))


@pytest.fixture
def sender():
    previous = gold_jobs.get_sender()
    recording = RecordingSender()
    gold_jobs.register_sender(recording)
    yield recording
    gold_jobs.register_sender(previous)


def test_votes_on_a_majority_project_send_nothing(project, annotator, sender, django_capture_on_commit_callbacks):
    make_items(project, 2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        claim_and_submit(annotator, project)
    assert sender.sent == [] and callbacks == []


def test_submits_send_one_debounced_job_until_it_starts(
    project, annotator, other_annotator, sender, settings, django_capture_on_commit_callbacks
):
    settings.GOLD_RECOMPUTE_DELAY_S = 30
    make_items(project, 3)
    _set(project, task_gold_strategies={"sentiment": DS})
    sender.sent.clear()  # the strategy change sends one of its own (on commit: not run here)
    for person in (annotator, other_annotator):
        with django_capture_on_commit_callbacks(execute=True):
            claim_and_submit(person, project)
    assert sender.sent == [(project.pk, 30)]
    gold_jobs.job_started(project.pk)
    assert gold_jobs.get_status(project)["state"] == "running"
    with django_capture_on_commit_callbacks(execute=True):
        claim_and_submit(annotator, project)
    assert sender.sent == [(project.pk, 30), (project.pk, 30)]


def test_changing_the_strategy_sends_the_job_at_once(project, sender, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        update_project_settings(project=project, gold_strategy=MACE)
    with django_capture_on_commit_callbacks(execute=True):
        update_project_settings(project=project, gold_strategy=MACE)  # unchanged: nothing
    assert sender.sent == [(project.pk, 0)]
    assert gold_jobs.get_status(project)["state"] == "scheduled"


def test_an_unreachable_queue_is_reported_not_raised(project, django_capture_on_commit_callbacks):
    class Down(gold_jobs.GoldJobSender):
        def send(self, *, project_id, countdown):
            raise ConnectionError("broker down")

    previous = gold_jobs.get_sender()
    gold_jobs.register_sender(Down())
    try:
        with django_capture_on_commit_callbacks(execute=True):
            gold_jobs.request_recompute(project)
    finally:
        gold_jobs.register_sender(previous)
    status = gold_jobs.get_status(project)
    assert status["state"] == "failed" and "unreachable" in status["error"]


def test_the_job_runs_eagerly_after_a_submit_and_records_its_status(
    project, annotator, settings, django_capture_on_commit_callbacks
):
    """Tests run Celery eagerly: the registered sender (analysis's) runs the task in place."""
    settings.GOLD_RECOMPUTE_DELAY_S = 0
    make_crowd(project, n_items=6, seed=6)
    _set(project, gold_strategy=DS)
    make_items(project, 1, start=500)
    with django_capture_on_commit_callbacks(execute=True):
        claim_and_submit(annotator, project)
    project.refresh_from_db()
    assert project.gold_computed_at is not None
    assert gold_jobs.get_status(project)["state"] == "succeeded"
    assert Gold.objects.filter(item__project=project, source=Gold.Source.DAWID_SKENE).count() == 7 * 3


def test_a_failing_fit_is_recorded_as_failed(project, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom <b>")

    monkeypatch.setattr(gold_models, "recompute_project_gold", broken)
    assert gold_models.run_recompute(project.pk) == "failed"
    status = gold_jobs.get_status(project)
    assert status["state"] == "failed" and "boom" in status["error"]


def test_gold_adjudicated_between_the_fit_and_the_write_is_kept(project, lead):
    """The write is conditional on the row's source: a lead's decision taken
    while the job was fitting wins."""
    items, _, _, _ = make_crowd(project, n_items=10, seed=9)
    task = project.tasks.get(key="sentiment")
    spec = next(t for t in gold_models.get_project_schema(project).tasks if t.key == "sentiment")
    fit = gold_models.fit_task(gold_models.get_task_votes(project, spec), DS)
    neutral = task.labels.get(key="neutral")
    adjudicate(item=items[3], task=task, label=neutral, lead=lead)
    assert gold_models.write_task_gold(fit) == 9
    kept = Gold.objects.get(item=items[3], task=task)
    assert (kept.source, kept.label_id, kept.adjudicated_by) == (Gold.Source.ADJUDICATED, neutral.pk, lead)
