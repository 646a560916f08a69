"""Pages: login required, membership and role checked, forms give messages."""

import pytest
from django.urls import reverse

from annotator.models import Membership, Project
from tests.factories import ItemFactory, allow_project_creation

pytestmark = pytest.mark.django_db

LEAD_PAGES = [
    "annotator:project-settings",
    "annotator:project-schema",
    "annotator:project-members",
    "annotator:item-list",
    "annotator:import-upload",
    "annotator:export",
]


def test_anonymous_visitors_are_sent_to_login(client, project):
    for url in [reverse("annotator:project-list"), reverse("annotator:project-detail", args=[project.slug])]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["annotator:project-detail", *LEAD_PAGES])
def test_an_outsider_is_refused_every_project_page(outsider_client, project, name):
    assert outsider_client.get(reverse(name, args=[project.slug])).status_code == 404


@pytest.mark.parametrize("name", LEAD_PAGES)
def test_an_annotator_is_refused_lead_pages(annotator_client, project, name):
    assert annotator_client.get(reverse(name, args=[project.slug])).status_code == 403


@pytest.mark.parametrize("name", ["annotator:project-detail", *LEAD_PAGES])
def test_a_lead_sees_every_project_page(lead_client, project, name):
    ItemFactory(project=project)
    assert lead_client.get(reverse(name, args=[project.slug])).status_code == 200


def test_an_outsider_cannot_fetch_an_items_image(outsider_client, project):
    item = ItemFactory(project=project)
    response = outsider_client.get(reverse("annotator:item-image", args=[project.slug, item.pk]))
    assert response.status_code == 404


def test_project_list_shows_only_my_projects(annotator_client, project, lead):
    from annotator.services.projects import create_project

    create_project(name="Secret project", created_by=lead)
    body = annotator_client.get(reverse("annotator:project-list")).content.decode()
    assert project.name in body and "Secret project" not in body


def test_creating_a_project_from_the_msed_template(lead_client, lead):
    allow_project_creation(lead)
    response = lead_client.post(
        reverse("annotator:project-create"),
        {
            "name": "Desire 2026",
            "template": "msed",
            "votes_per_item": 5,
            "queue_order": "finish_first",
            "ask_inference_order": "on",
        },
    )
    project = Project.objects.get(name="Desire 2026")
    assert response.status_code == 302 and response["Location"] == reverse(
        "annotator:project-detail", args=[project.slug]
    )
    page = lead_client.get(response["Location"]).content.decode()
    assert "Social-contact" in page and "Tranquility" in page


def test_a_bad_schema_edit_shows_the_reason(lead_client, project):
    response = lead_client.post(reverse("annotator:project-schema", args=[project.slug]), {"schema": "[{"})
    assert response.status_code == 200 and "not valid JSON" in response.content.decode()
    response = lead_client.post(
        reverse("annotator:project-schema", args=[project.slug]),
        {"schema": '[{"key": "t", "labels": [{"key": "a", "hotkey": "1"}, {"key": "b", "hotkey": "1"}]}]'},
    )
    assert "hotkeys must be unique" in response.content.decode()


@pytest.mark.parametrize(
    "schema, reason",
    [
        ("[" * 1500 + "]" * 1500, "more than 32 levels deep"),
        ('[{"key": "t", "labels": [{"key": "a", "name": "A\\u0000"}, {"key": "b"}]}]', "NUL character"),
        ('[{"key": "t", "labels": [{"key": "a", "name": "A\\ud800"}, {"key": "b"}]}]', "half of a surrogate pair"),
        ('[{"key": "t", "labels": [{"key": "a", "hotkey": NaN}, {"key": "b"}]}]', "NaN is not a number JSON allows"),
    ],
    ids=["deep", "nul", "surrogate", "nan"],
)
def test_a_hostile_schema_edit_is_a_form_error_not_a_500(lead_client, project, schema, reason):
    response = lead_client.post(reverse("annotator:project-schema", args=[project.slug]), {"schema": schema})
    assert response.status_code == 200 and reason in response.content.decode()


def test_guidelines_markdown_is_rendered_without_scripts(lead_client, project):
    project.guidelines = "**Read** this <script>alert(1)</script> <a href='javascript:x()' onclick='y()'>link</a>"
    project.save()
    body = lead_client.get(reverse("annotator:project-detail", args=[project.slug])).content.decode()
    assert "<strong>Read</strong>" in body
    assert "<script>alert" not in body and "onclick" not in body and "javascript:" not in body


def test_a_lead_creates_an_annotator_account_and_sees_the_password_once(lead_client, project):
    response = lead_client.post(
        reverse("annotator:project-members", args=[project.slug]),
        {"username": "fresh", "role": "annotator", "create": "on"},
    )
    assert "password:" in response.content.decode()
    assert Membership.objects.filter(project=project, user__username="fresh").exists()


def test_adding_an_unknown_user_explains_how_to_create_one(lead_client, project):
    response = lead_client.post(
        reverse("annotator:project-members", args=[project.slug]), {"username": "ghost", "role": "annotator"}
    )
    assert "There is no user" in response.content.decode()
