"""What annotator needs of a model's suggestions, owned here so annotator
depends on nothing above it (inference -> analysis -> annotator).

The labelling page shows the current suggestions, a submit records which
of them were kept, the item record lists them, and new items and changed
gold are news for whoever keeps a pre-labeller current. (The queue's
"most uncertain first" order reads Item.uncertainty, which the inference
app stores with its suggestions: no call crosses the boundary per claim.) The demo stores a simulated run through it. The inference app implements this interface
(inference/suggestions.py) and registers it in InferenceConfig.ready();
without it the default provider has no suggestions and ignores the news.

Ids, not model instances, cross the boundary (a prediction run is a number
to annotator: Annotation.suggestion_run_id). Each method states how many
queries it may run: the labelling loop's statement count is pinned in
tests/annotator/test_loop_queries.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from .models import Item, Label, Project, Task


@dataclass(frozen=True)
class SuggestedLabel:
    """A model's label for one task of an item, as the labelling page shows it."""

    label: str  # the label's key
    probability: float


@dataclass(frozen=True)
class ItemSuggestion:
    """One suggestion of one prediction run, for the lead's item record."""

    run_id: int
    task: Task
    label: Label
    probability: float
    entropy: float  # of the task's probability vector, in nats


class SuggestionProvider:
    """Suggestions and the pre-labeller's hooks. This base class is the
    do-nothing default: no runs, no suggestions, hooks ignored."""

    def current_run_id(self, project: Project) -> int | None:
        """The prediction run whose suggestions the project shows now, or
        None. At most one query."""
        return None

    def labels_for_item(self, *, run_id: int, item_id: int) -> dict[str, SuggestedLabel]:
        """{task key: suggested label} of `run_id` for one item. One query."""
        return {}

    def label_ids_for_item(self, *, project: Project, run_id: int, item_id: int) -> dict[int, int] | None:
        """{task id: suggested label id} of `run_id` for one item, or None
        when `run_id` is no prediction run of `project`. At most two queries."""
        return None

    def list_for_item(self, item: Item) -> list[ItemSuggestion]:
        """Every run's suggestions for `item`, newest run first, tasks in
        schema order. One query."""
        return []

    def filter_items(self, items: QuerySet[Item], *, suggested: bool) -> QuerySet[Item]:
        """`items` that have (suggested=True) or lack a suggestion of any run."""
        return items.none() if suggested else items

    def store_simulated_run(
        self, *, project: Project, probabilities: Mapping[int, Mapping[str, Sequence[float]]], name: str
    ) -> int | None:
        """Store a simulated pre-labeller's suggestions as the project's
        current run and return its id (None: this provider stores none).

        For the demo (annotator.services.demo), whose anchoring experiment
        needs suggestions before any model is trained: `probabilities` is
        {item id: {task key: probability per label, in schema order}}, and
        the run is named `name` so nobody takes it for a trained model. Call
        it only for a project without a pre-labeller. A few queries and one
        bulk insert."""
        return None

    def on_gold_changed(self, *, project: Project) -> None:
        """Gold labels of `project` changed; called inside the transaction
        that changed them, only when the project's PrelabelPolicy retrains.
        Work it starts must be enqueued on commit."""

    def on_items_added(self, *, project: Project, item_ids: Iterable[int]) -> None:
        """New items of `project` were written (an import), inside its
        transaction. Work it starts must be enqueued on commit."""


_provider: SuggestionProvider = SuggestionProvider()


def register_provider(provider: SuggestionProvider) -> None:
    """Install the provider every later call uses (an AppConfig.ready())."""
    global _provider
    _provider = provider


def get_provider() -> SuggestionProvider:
    return _provider
