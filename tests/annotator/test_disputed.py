"""One rule decides which gold is disputed: the queryset (dashboards, the
item browser, the adjudication queue) and the row (the item record) agree."""

from __future__ import annotations

import pytest

from annotator.models import Gold, Item
from tests.annotator.factories import make_items

pytestmark = pytest.mark.django_db

# (source, is_tie, votes_for, votes_total) -> disputed at threshold 0.6
CASES = [
    (Gold.Source.MAJORITY, True, 2, 4, True),  # a tie
    (Gold.Source.MAJORITY, False, 2, 5, True),  # 40 % support
    (Gold.Source.MAJORITY, False, 3, 5, False),  # 60 %: at the threshold is settled
    (Gold.Source.MAJORITY, False, 5, 5, False),
    (Gold.Source.ADJUDICATED, True, 1, 4, False),  # a lead settled it
    (Gold.Source.IMPORTED, False, 0, 0, False),  # imported, nobody voted
    (Gold.Source.IMPORTED, False, 1, 3, True),  # imported, the votes disagree
]


def test_the_queryset_and_the_row_agree_on_what_is_disputed(project):
    items = make_items(project, len(CASES))
    task = project.tasks.get(key="sentiment")
    label = task.labels.first()
    for item, (source, tie, votes_for, total, _) in zip(items, CASES):
        Gold.objects.create(
            item=item, task=task, label=label, source=source, is_tie=tie, votes_for=votes_for, votes_total=total
        )
    expected = {item.pk for item, case in zip(items, CASES) if case[-1]}
    rows = Gold.objects.filter(item__project=project)
    assert {g.item_id for g in rows.disputed(0.6)} == expected
    assert {g.item_id for g in rows if g.is_disputed(0.6)} == expected
    assert set(Item.objects.filter(project=project).disputed(project).values_list("pk", flat=True)) == expected
