"""A simulated pre-labeller's suggestions stored as a real prediction run.

The demo project (annotator.services.demo) runs the anchoring experiment
from its first page view, before anyone has trained a model: it simulates a
model's probabilities and stores them here, through annotator's suggestion
interface (annotator.suggestions.SuggestionProvider.store_simulated_run), so
the labelling page, the queue and the dashboards read them like any run's.
The training run is marked (config["simulated"], its name, no model file),
so it cannot be mistaken for a trained one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from django.db import transaction
from django.utils import timezone

from annotator.errors import DomainError
from annotator.models import Project
from annotator.selectors import get_project_schema

from ..models import PredictionRun, RunStatus, Suggestion, TrainingRun
from . import uncertainty


@transaction.atomic
def store_simulated_run(
    *, project: Project, probabilities: Mapping[int, Mapping[str, Sequence[float]]], name: str
) -> PredictionRun:
    """A succeeded pre-labeller training run (simulated, no model file) and
    its succeeded prediction run with one suggestion per item and task:
    {item id: {task key: probabilities in the task's label order}}."""
    if TrainingRun.objects.filter(project=project, is_prelabeller=True).exists():
        raise DomainError("This project already has a pre-labeller; a simulated one would replace its suggestions.")
    schema = get_project_schema(project)
    now = timezone.now()
    training = TrainingRun.objects.create(
        project=project,
        name=name,
        config={"simulated": True},
        status=RunStatus.SUCCEEDED,
        is_prelabeller=True,
        phase="simulated: no model was trained",
        started_at=now,
        finished_at=now,
    )
    run = PredictionRun.objects.create(
        project=project,
        training_run=training,
        status=RunStatus.SUCCEEDED,
        reason="simulated",
        items_total=len(probabilities),
        items_done=len(probabilities),
        started_at=now,
        finished_at=now,
    )
    rows = []
    for item_id, by_task in probabilities.items():
        for key, vector in by_task.items():
            task = schema.get_task(key)
            if task is None or len(vector) != task.n_categories:
                raise DomainError(f"Item {item_id}: {key!r} needs one probability per label of a task of the schema.")
            p = [float(x) for x in vector]
            best = max(range(len(p)), key=p.__getitem__)
            rows.append(
                Suggestion(
                    run=run,
                    item_id=item_id,
                    task_id=task.id,
                    label_id=task.label_ids[best],
                    probability=p[best],
                    probabilities=p,
                    entropy=-sum(x * math.log(x) for x in p if x > 0),
                )
            )
    Suggestion.objects.bulk_create(rows, batch_size=5000)
    # The queue's "most uncertain first" order reads the stored totals.
    transaction.on_commit(lambda: uncertainty.refresh_item_uncertainty(project=project))
    return run
