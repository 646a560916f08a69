"""The pre-labeller: one succeeded training run per project whose
predictions become the suggestions annotators see, and the policy that keeps
them fresh.

Where the hooks are wired:
  * on_items_added(project=..., item_ids=...) after new items are committed
    (imports): the pre-labeller suggests labels for them.
  * on_gold_changed(project=...) after votes or adjudications change gold
    (cheap: one or two indexed queries when the policy is on, one when off).
    The periodic task inference.tasks.check_retrain_policies does the same
    for every project, for deployments that prefer Celery beat.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from annotator.errors import DomainError
from annotator.models import PrelabelPolicy, Project

from .. import selectors
from .. import storage as model_files
from ..models import PredictionRun, RunStatus, TrainingRun
from .runs import enqueue_training, start_prediction_run
from .uncertainty import refresh_item_uncertainty


def mark_prelabeller(*, run: TrainingRun, predict: bool = True, reset_policy: bool = True) -> TrainingRun:
    """Make a succeeded run the project's pre-labeller (one per project) and
    start a prediction run so every unlabelled item gets suggestions."""
    if run.status != RunStatus.SUCCEEDED:
        raise DomainError(
            f"Only a succeeded run can become the pre-labeller; this one is {run.get_status_display().lower()}."
        )
    if not run.artefact_path or not model_files.has_run_files(run.pk):
        raise DomainError("This run's model files are missing from the server; train it again.")
    with transaction.atomic():
        # Serialise concurrent choices on the project row; without the lock
        # two leads could both clear the old flag and one would then hit the
        # one_prelabeller_per_project constraint with an IntegrityError.
        project = Project.objects.select_for_update().get(pk=run.project_id)
        TrainingRun.objects.filter(project=project, is_prelabeller=True).exclude(pk=run.pk).update(is_prelabeller=False)
        TrainingRun.objects.filter(pk=run.pk).update(is_prelabeller=True)
        if reset_policy:
            PrelabelPolicy.objects.filter(project=project).update(
                gold_at_last_training=selectors.count_gold_labels(project)
            )
        run.refresh_from_db()
        if predict:
            start_prediction_run(project=project, training_run=run, reason="new pre-labeller", limit=False)
        # The current suggestions are now this run's latest prediction (or
        # none until its new one succeeds): the queue's stored uncertainty
        # follows once the change is visible to other transactions.
        transaction.on_commit(lambda: refresh_item_uncertainty(project=project))
    return run


def update_policy(*, project: Project, retrain_every_n_gold: int, suggest_new_items: bool) -> PrelabelPolicy:
    """Set the project's pre-labelling policy; counting new gold starts now."""
    if not isinstance(retrain_every_n_gold, int) or not 0 <= retrain_every_n_gold <= 1_000_000:
        raise DomainError(
            "Retrain after this many new gold labels: a whole number from 0 (never) to 1,000,000.",
            field="retrain_every_n_gold",
        )
    with transaction.atomic():
        policy, _ = PrelabelPolicy.objects.select_for_update().get_or_create(project=project)
        if retrain_every_n_gold and retrain_every_n_gold != policy.retrain_every_n_gold:
            policy.gold_at_last_training = selectors.count_gold_labels(project)
        policy.retrain_every_n_gold = retrain_every_n_gold
        policy.suggest_new_items = bool(suggest_new_items)
        policy.save()
    return policy


def on_items_added(*, project: Project, item_ids: Iterable[int]) -> PredictionRun | None:
    """New items were committed (an import): when the project has a
    pre-labeller and its policy allows, queue a prediction run so they get
    suggestions. Features of items seen before come from the cache, so only
    the new items are encoded. Returns the run, or None."""
    if not list(item_ids):
        return None
    policy = selectors.get_policy(project)
    if not policy.suggest_new_items:
        return None
    prelabeller = selectors.get_prelabeller(project)
    if prelabeller is None or prelabeller.status != RunStatus.SUCCEEDED or prelabeller.config.get("simulated"):
        return None  # (a simulated pre-labeller, the demo's, has no model to predict with)
    return start_prediction_run(project=project, training_run=prelabeller, reason="new items", limit=False)


def on_gold_changed(*, project: Project) -> TrainingRun | None:
    """Gold labels changed (votes, adjudication, import): when the project's
    policy says so and retrain_every_n_gold labels were added since the last
    (re)training, queue a retrain of the pre-labeller with the same
    configuration; it becomes the pre-labeller (and predicts) when it
    succeeds. Returns the new run, or None. Safe inside the caller's
    transaction: the task is enqueued on commit."""
    policy = PrelabelPolicy.objects.filter(project=project, retrain_every_n_gold__gt=0).first()
    if policy is None:
        return None
    gold = selectors.count_gold_labels(project)
    if gold - policy.gold_at_last_training < policy.retrain_every_n_gold:
        return None
    prelabeller = selectors.get_prelabeller(project)
    if prelabeller is None or prelabeller.config.get("simulated"):
        return None
    if TrainingRun.objects.filter(
        project=project, auto_promote=True, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
    ).exists():
        return None
    with transaction.atomic():
        # Race: several votes can cross the threshold at once. Only the
        # caller whose conditional update moves the counter starts a retrain.
        moved = PrelabelPolicy.objects.filter(pk=policy.pk, gold_at_last_training=policy.gold_at_last_training).update(
            gold_at_last_training=gold
        )
        if not moved:
            return None
        run = TrainingRun.objects.create(
            project=project,
            name=f"Retrain after {gold - policy.gold_at_last_training} new gold labels",
            config=dict(prelabeller.config),
            epochs_total=int(prelabeller.config.get("epochs", 0)),
            auto_promote=True,
        )
        enqueue_training(run.pk)
    return run
