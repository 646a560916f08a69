"""Projects, schema templates and the additive-only rule once votes exist."""

import pytest

from annotator.errors import DomainError
from annotator.models import Annotation, Label, Membership, Project, Task, Vote
from annotator.selectors import get_project_schema
from annotator.services.projects import (
    add_member,
    create_member_account,
    create_project,
    remove_member,
    save_schema,
    update_project_settings,
    validate_schema,
)
from tests.factories import ItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_msed_template_has_the_papers_schema(lead):
    project = create_project(name="MSED", template="msed", created_by=lead)
    schema = get_project_schema(project).as_dicts()
    assert [t["key"] for t in schema] == ["desire", "sentiment", "emotion"]
    desire = [l["key"] for l in schema[0]["labels"]]
    assert desire == ["vengeance", "curiosity", "social-contact", "family", "tranquility", "romance", "none"]
    assert [l["key"] for l in schema[1]["labels"]] == ["positive", "neutral", "negative"]
    assert [l["key"] for l in schema[2]["labels"]] == ["happiness", "sad", "neutral", "disgust", "anger", "fear"]
    family = next(l for l in schema[0]["labels"] if l["key"] == "family")
    assert family["description"] == "The need to take care of one's offspring."
    assert project.votes_per_item == 5 and project.ask_inference_order
    assert Membership.objects.get(project=project, user=lead).role == Membership.Role.LEAD


def test_a_new_project_shows_suggestions_only_after_the_annotators_first_choice(lead):
    project = create_project(name="Anchoring", created_by=lead, show_suggestions=True)
    project.refresh_from_db()
    assert project.suggestions_after_first_choice is True
    # A lead can still reveal them first: the default is a default, not a rule.
    update_project_settings(project=project, suggestions_after_first_choice=False)
    project.refresh_from_db()
    assert project.suggestions_after_first_choice is False


def test_sentiment_and_custom_templates(lead):
    assert [
        t["key"] for t in get_project_schema(create_project(name="S", template="sentiment", created_by=lead)).as_dicts()
    ] == ["sentiment"]
    assert get_project_schema(create_project(name="C", template="custom", created_by=lead)).as_dicts() == []


def test_unknown_template_is_refused_with_the_choices(lead):
    with pytest.raises(DomainError, match="msed, sentiment, custom"):
        create_project(name="X", template="nope", created_by=lead)


def test_slugs_are_unique(lead):
    a = create_project(name="Same name", created_by=lead)
    b = create_project(name="Same name", created_by=lead)
    assert a.slug != b.slug


def test_duplicate_hotkeys_are_refused_with_both_labels_named():
    tasks = [
        {"key": "a", "labels": [{"key": "x", "hotkey": "1"}, {"key": "y", "hotkey": "2"}]},
        {"key": "b", "labels": [{"key": "z", "hotkey": "1"}, {"key": "w"}]},
    ]
    with pytest.raises(DomainError, match=r"'1' is used by both a/x and b/z"):
        validate_schema(tasks)


@pytest.mark.parametrize(
    "tasks, message",
    [
        ([{"key": "Bad Key", "labels": [{"key": "a"}, {"key": "b"}]}], "lowercase"),
        ([{"key": "t", "labels": [{"key": "a"}]}], "at least two labels"),
        ([{"key": "t", "labels": [{"key": "a"}, {"key": "a"}]}], "used twice"),
        ([{"key": "t", "labels": [{"key": "a"}, {"key": "b"}]}] * 2, "unique"),
        ([{"key": "t", "labels": [{"key": "a", "hotkey": "ab"}, {"key": "b"}]}], "single character"),
        ([{"key": "t", "labels": [{"key": "a", "hotkey": " "}, {"key": "b"}]}], "reserved"),
        ([{"key": "t", "labels": [{"key": "a", "hotkey": ","}, {"key": "b"}]}], "reserved"),  # Back, unshifted
        ([{"key": "t", "labels": [{"key": "a", "hotkey": "."}, {"key": "b"}]}], "reserved"),  # Forward, unshifted
        ("not a list", "must be a list"),
    ],
)
def test_bad_schemas_get_a_message(tasks, message):
    with pytest.raises(DomainError, match=message):
        validate_schema(tasks)


def _vote_once(project, annotator):
    item = ItemFactory(project=project)
    annotation = Annotation.objects.create(item=item, annotator=annotator)
    task = project.tasks.get(key="sentiment")
    Vote.objects.create(
        annotation=annotation,
        item=item,
        annotator=annotator,
        round=annotation.round,
        task=task,
        label=task.labels.get(key="positive"),
    )


def test_schema_changes_before_votes_may_remove_and_reorder(project):
    schema = get_project_schema(project).as_dicts()
    schema = [schema[1], schema[0]]  # drop emotion, swap the others
    save_schema(project=project, tasks=schema)
    assert list(project.tasks.order_by("position").values_list("key", flat=True)) == ["sentiment", "desire"]
    assert not Task.objects.filter(project=project, key="emotion").exists()


def test_once_votes_exist_removing_a_label_is_refused(project, annotator):
    _vote_once(project, annotator)
    schema = get_project_schema(project).as_dicts()
    schema[1]["labels"] = schema[1]["labels"][:2]
    with pytest.raises(DomainError, match="negative.*cannot be removed once votes exist"):
        save_schema(project=project, tasks=schema)
    assert project.tasks.get(key="sentiment").labels.count() == 3


def test_once_votes_exist_removing_a_task_is_refused(project, annotator):
    _vote_once(project, annotator)
    with pytest.raises(DomainError, match="'emotion' already has votes"):
        save_schema(project=project, tasks=get_project_schema(project).as_dicts()[:2])


def test_once_votes_exist_additions_are_accepted(project, annotator):
    _vote_once(project, annotator)
    schema = get_project_schema(project).as_dicts()
    schema[1]["labels"].append({"key": "mixed", "name": "Mixed", "hotkey": "r"})
    schema[1]["labels"][0]["name"] = "Positive (pleasant)"
    schema.append({"key": "sarcasm", "required": False, "labels": [{"key": "yes"}, {"key": "no"}]})
    save_schema(project=project, tasks=schema)
    assert project.tasks.get(key="sentiment").labels.get(key="positive").name == "Positive (pleasant)"
    assert Label.objects.filter(project=project, key="mixed", hotkey="r").exists()
    assert project.tasks.get(key="sarcasm").required is False


def test_once_votes_exist_a_new_required_task_is_refused(project, annotator):
    _vote_once(project, annotator)
    schema = get_project_schema(project).as_dicts() + [{"key": "sarcasm", "labels": [{"key": "yes"}, {"key": "no"}]}]
    with pytest.raises(DomainError, match="must be optional"):
        save_schema(project=project, tasks=schema)


def test_hotkeys_can_be_swapped_between_labels(project):
    schema = get_project_schema(project).as_dicts()
    labels = schema[1]["labels"]
    labels[0]["hotkey"], labels[1]["hotkey"] = labels[1]["hotkey"], labels[0]["hotkey"]
    save_schema(project=project, tasks=schema)
    assert project.tasks.get(key="sentiment").labels.get(key="positive").hotkey == "w"


def test_member_accounts_get_a_one_time_password(project):
    user, password = create_member_account(project=project, username="newbie")
    assert user.check_password(password) and len(password) >= 12
    assert Membership.objects.get(project=project, user=user).role == Membership.Role.ANNOTATOR
    with pytest.raises(DomainError, match="taken"):
        create_member_account(project=project, username="NEWBIE")


def test_adding_an_existing_member_changes_the_role(project, annotator):
    add_member(project=project, user=annotator, role=Membership.Role.LEAD)
    assert Membership.objects.get(project=project, user=annotator).role == Membership.Role.LEAD
    assert Membership.objects.filter(project=project, user=annotator).count() == 1


def test_the_last_lead_cannot_be_removed(project, lead):
    with pytest.raises(DomainError, match="at least one lead"):
        remove_member(project=project, user=lead)


def test_settings_are_validated(project):
    with pytest.raises(DomainError, match="between 1 and 50"):
        update_project_settings(project=project, votes_per_item=0)
    with pytest.raises(DomainError, match="cannot be changed here"):
        update_project_settings(project=project, slug="other")
    update_project_settings(project=project, votes_per_item=3, unimodal_rounds=True)
    project.refresh_from_db()
    assert project.votes_per_item == 3 and project.rounds == ["text", "image", "multimodal"]


def test_database_refuses_an_item_with_neither_text_nor_image(project):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ItemFactory(project=project, text="")


def test_database_refuses_a_second_vote_for_one_task(project, annotator):
    from django.db import IntegrityError, transaction

    _vote_once(project, annotator)
    vote = Vote.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(
            annotation=vote.annotation,
            item=vote.item,
            annotator=annotator,
            round=vote.round,
            task=vote.task,
            label=vote.task.labels.get(key="negative"),
        )


def test_projects_are_listed_only_to_members(project, outsider):
    from annotator.selectors import list_projects_for_member

    assert list(list_projects_for_member(outsider)) == []
    staff = UserFactory(username="root", is_staff=True)
    assert list(list_projects_for_member(staff)) == [project]
    assert Project.objects.count() == 1
