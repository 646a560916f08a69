"""The labelling loop's hand-written statements (annotator/sql.py): rows
become the model instances the ORM would load, statements run as prepared
statements with one generic plan, and they are logged where Django logs
queries."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator import selectors
from annotator.models import ApiToken, Item, Project
from annotator.services import queue
from tests.annotator.factories import claim_and_submit, make_image, make_items, members
from tests.factories import make_token

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_an_item_row_loads_as_the_orm_would(project):
    item = Item.objects.create(
        project=project,
        external_id="post-1",
        text="Café by the river",
        image=make_image(1),
        metadata={"author": "é", "likes": [1, 2.5, None], "nested": {"ok": True}},
    )
    loaded = selectors.get_item_in(project, item.pk)
    assert _fields(loaded) == _fields(Item.objects.get(pk=item.pk))
    assert loaded.metadata["nested"] == {"ok": True}
    assert selectors.get_item_in(project, item.pk + 1000) is None


def test_a_project_row_with_membership_loads_as_the_orm_would(project, annotator, outsider):
    loaded = selectors.get_project_for(annotator, project.slug)
    assert _fields(loaded) == _fields(Project.objects.get(pk=project.pk))
    assert selectors.get_role(annotator, loaded) == "annotator"
    assert selectors.get_role(outsider, selectors.get_project_for(outsider, project.slug)) is None
    assert selectors.get_project_for(annotator, "no-such-project") is None


def test_a_token_loads_its_user_as_the_orm_would(annotator, django_assert_num_queries):
    key = make_token(annotator)
    with django_assert_num_queries(1):
        token = selectors.get_api_token(key, timezone.now())
        loaded = token.user
    assert _fields(loaded) == _fields(get_user_model().objects.get(pk=annotator.pk))
    assert _fields(token) == _fields(ApiToken.objects.get(pk=token.pk))
    assert selectors.get_api_token("0" * 64, timezone.now()) is None
    assert selectors.get_api_token(key[:-1] + ("0" if key[-1] != "0" else "1"), timezone.now()) is None


def test_the_queue_runs_prepared_statements_with_generic_plans(lead):
    project = make_project_with_items(lead)
    people = members(project, 3)
    for _ in range(4):
        for person in people:
            claim_and_submit(person, project)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%FOR UPDATE SKIP LOCKED%"],
        )
        plans = cursor.fetchall()
    # The queue's head was parsed and planned once, then reused: no re-planning per claim.
    assert plans and sum(generic for generic, _ in plans) >= 10 and sum(custom for _, custom in plans) == 0


def test_hand_written_statements_are_logged_where_django_logs_queries(lead):
    project = make_project_with_items(lead)
    (person,) = members(project, 1)
    with CaptureQueriesContext(connection) as ctx:
        queue.claim_next_item(annotator=person, project=project)
    assert any("FOR UPDATE SKIP LOCKED" in q["sql"] for q in ctx.captured_queries)


def make_project_with_items(lead):
    from tests.factories import make_project

    project = make_project(lead=lead, name="Prepared")
    make_items(project, 30)
    return project
