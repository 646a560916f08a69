"""The one schema type (annotator.schemas.ProjectSchema) and its selector
(annotator.selectors.get_project_schema)."""

import dataclasses
import subprocess
import sys
import uuid

import pytest

from annotator.models import Label, Project, Task
from annotator.schemas import MSED, SCHEMA_TEMPLATES, LabelSpec, ProjectSchema, TaskSpec, template_tasks
from annotator.selectors import get_project_schema
from annotator.services.projects import save_schema
from tests.factories import make_project

# --------------------------------------------------------------------------- the dataclass (no database)


def test_a_template_round_trips_through_the_wire_shape():
    for name in SCHEMA_TEMPLATES:
        assert ProjectSchema.from_dicts(template_tasks(name)).as_dicts() == template_tasks(name)
    assert ProjectSchema.from_dicts(template_tasks("msed")) == MSED


def test_wire_shape_defaults_names_to_keys_and_tasks_to_required():
    schema = ProjectSchema.from_dicts([{"key": "sarcasm", "labels": [{"key": "yes"}, {"key": "no"}]}])
    task = schema.task("sarcasm")
    assert (task.name, task.required, task.label_names) == ("sarcasm", True, ("yes", "no"))
    assert task.labels[0] == LabelSpec(key="yes", name="yes")


def test_lookups_by_key_and_position():
    desire = MSED.task("desire")
    assert MSED.keys == ("desire", "sentiment", "emotion")
    assert desire.n_categories == 7 and desire.label_keys[-1] == "none"
    assert desire.position("family") == 3 and desire.position("joy") is None
    assert desire.label("romance").name == "Romance" and desire.label("Romance") is None
    assert MSED.get_task("sarcasm") is None
    with pytest.raises(KeyError):
        MSED.task("sarcasm")
    assert MSED.as_modeling_schema() == [("desire", 7), ("sentiment", 3), ("emotion", 6)]


def test_lenient_matching_ignores_case_spaces_and_hyphens_and_prefers_keys():
    assert MSED.match_task("  EMOTION ") == "emotion"
    assert MSED.task("desire").match_label("social contact") == "social-contact"
    assert MSED.task("desire").match_label("courage") is None
    # A label named like another label's key: the key wins.
    task = TaskSpec(key="t", name="T", labels=(LabelSpec(key="a", name="b"), LabelSpec(key="b", name="B label")))
    assert task.match_label("B") == "b" and task.match_label("b label") == "b"


def test_label_ids_index_labels_by_task_and_position():
    task = TaskSpec(
        key="sentiment",
        name="Sentiment",
        id=10,
        labels=(LabelSpec(key="pos", name="Pos", id=7, task_id=10), LabelSpec(key="neg", name="Neg", id=5, task_id=10)),
    )
    schema = ProjectSchema(tasks=(task,))
    assert task.label_ids == (7, 5)
    assert dict(schema.label_index) == {7: ("sentiment", 0), 5: ("sentiment", 1)}
    assert schema.label_by_id(5).key == "neg" and schema.label_by_id(6) is None


def test_a_schema_is_frozen_and_its_lookups_read_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MSED.tasks = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        MSED.task("desire").labels[0].name = "Revenge"
    with pytest.raises(TypeError):
        MSED.label_index[1] = ("desire", 0)
    assert hash(MSED) == hash(ProjectSchema.from_dicts(template_tasks("msed")))


def test_the_schema_module_and_io_import_without_django():
    code = (
        "import sys; import annotator.schemas, annotator.io.validate, annotator.io.samples, annotator.demo; "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- the selector


@pytest.mark.django_db
def test_selector_reads_tasks_and_labels_in_order_with_their_ids(lead):
    project = make_project(lead=lead)
    schema = get_project_schema(project)
    assert schema.as_dicts() == template_tasks("msed")
    for task in schema.tasks:
        row = Task.objects.get(project=project, key=task.key)
        assert (task.id, task.name, task.required) == (row.pk, row.name, row.required)
        ids = list(Label.objects.filter(task=row).order_by("position").values_list("id", flat=True))
        assert list(task.label_ids) == ids
        assert all(label.task_id == row.pk for label in task.labels)


@pytest.mark.django_db
def test_selector_takes_one_query_then_none_from_the_cache(lead, django_assert_num_queries):
    project = make_project(lead=lead, template="sentiment")
    project.schema_token = uuid.uuid4()  # a token never read before: the cache is cold
    Project.objects.filter(pk=project.pk).update(schema_token=project.schema_token)
    with django_assert_num_queries(1):
        first = get_project_schema(project)
    fresh = Project.objects.get(pk=project.pk)  # another request's instance of the same row
    with django_assert_num_queries(0):
        assert get_project_schema(fresh) is first
        assert get_project_schema(project) is first


@pytest.mark.django_db
def test_a_schema_change_changes_what_the_selector_returns(lead):
    project = make_project(lead=lead, template="sentiment")
    before = get_project_schema(project)
    tasks = before.as_dicts()
    tasks[0]["labels"].append({"key": "mixed", "name": "Mixed"})
    tasks[0]["labels"][0]["name"] = "Positive (pleasant)"
    save_schema(project=project, tasks=tasks)

    after = get_project_schema(Project.objects.get(pk=project.pk))
    assert after.task("sentiment").label_keys == ("positive", "neutral", "negative", "mixed")
    assert after.task("sentiment").label("positive").name == "Positive (pleasant)"
    assert before.task("sentiment").label_keys == ("positive", "neutral", "negative")  # the old one is untouched
    assert get_project_schema(project) is after  # save_schema moved the caller's instance to the new token


@pytest.mark.django_db
def test_a_task_without_labels_is_kept(lead):
    project = make_project(lead=lead, template="custom")
    Task.objects.create(project=project, key="empty", name="Empty", position=0)
    project.schema_token = uuid.uuid4()
    schema = get_project_schema(project)
    assert schema.keys == ("empty",) and schema.task("empty").labels == ()
