"""The inference app's side of annotator's suggestion interface
(annotator/suggestions.py): suggestions come from the latest succeeded
prediction run of the project's pre-labeller, and new items and changed
gold go to the pre-labeller's hooks. Registered in InferenceConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.db.models import Exists, OuterRef, QuerySet

from annotator.models import Item, Project
from annotator.suggestions import ItemSuggestion, SuggestedLabel, SuggestionProvider

from . import selectors
from .models import PredictionRun, Suggestion
from .services import prelabelling, simulated


class PrelabellerSuggestions(SuggestionProvider):
    def current_run_id(self, project: Project) -> int | None:
        return selectors.get_current_prediction_run_id(project)

    def labels_for_item(self, *, run_id: int, item_id: int) -> dict[str, SuggestedLabel]:
        rows = Suggestion.objects.filter(run_id=run_id, item_id=item_id).values_list(
            "task__key", "label__key", "probability"
        )
        return {task: SuggestedLabel(label=label, probability=p) for task, label, p in rows}

    def label_ids_for_item(self, *, project: Project, run_id: int, item_id: int) -> dict[int, int] | None:
        if not PredictionRun.objects.filter(pk=run_id, project=project).exists():
            return None
        return dict(Suggestion.objects.filter(run_id=run_id, item_id=item_id).values_list("task_id", "label_id"))

    def list_for_item(self, item: Item) -> list[ItemSuggestion]:
        rows = (
            Suggestion.objects.filter(item=item).select_related("task", "label").order_by("-run_id", "task__position")
        )
        return [
            ItemSuggestion(run_id=s.run_id, task=s.task, label=s.label, probability=s.probability, entropy=s.entropy)
            for s in rows
        ]

    def filter_items(self, items: QuerySet[Item], *, suggested: bool) -> QuerySet[Item]:
        any_run = Exists(Suggestion.objects.filter(item=OuterRef("pk")))
        return items.filter(any_run if suggested else ~any_run)

    def store_simulated_run(
        self, *, project: Project, probabilities: Mapping[int, Mapping[str, Sequence[float]]], name: str
    ) -> int | None:
        return simulated.store_simulated_run(project=project, probabilities=probabilities, name=name).pk

    def on_gold_changed(self, *, project: Project) -> None:
        prelabelling.on_gold_changed(project=project)

    def on_items_added(self, *, project: Project, item_ids: Iterable[int]) -> None:
        prelabelling.on_items_added(project=project, item_ids=item_ids)
