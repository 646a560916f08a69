"""Who may create projects, and why a project never loses its last lead."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotator.errors import DomainError
from annotator.models import Membership, Project
from annotator.services import projects as project_services
from tests.factories import UserFactory, allow_project_creation, make_member

pytestmark = pytest.mark.django_db

REFUSAL = "Only staff, or people a staff member allows, can create projects."


def test_a_signed_in_user_without_the_permission_cannot_create_projects_through_the_api(api, annotator):
    api.force_authenticate(annotator)
    response = api.post(reverse("api:project-list"), {"name": "Fuzzed", "template": "sentiment"}, format="json")
    assert response.status_code == 403 and response.json()["detail"] == REFUSAL
    assert not Project.objects.filter(name="Fuzzed").exists()


def test_a_signed_in_user_without_the_permission_cannot_create_projects_in_the_page(annotator_client):
    page = annotator_client.get(reverse("annotator:project-create"))
    assert page.status_code == 403 and REFUSAL in page.content.decode()
    response = annotator_client.post(
        reverse("annotator:project-create"),
        {"name": "Fuzzed", "template": "msed", "votes_per_item": 5, "queue_order": "finish_first"},
    )
    assert response.status_code == 403 and not Project.objects.filter(name="Fuzzed").exists()


def test_the_new_project_button_shows_only_to_those_who_may_create(annotator_client, annotator):
    url = reverse("annotator:project-create")
    assert url not in annotator_client.get(reverse("annotator:project-list")).content.decode()
    allow_project_creation(annotator)
    assert url in annotator_client.get(reverse("annotator:project-list")).content.decode()


def test_a_user_a_staff_member_allowed_creates_projects(api, annotator):
    allow_project_creation(annotator)
    api.force_authenticate(annotator)
    response = api.post(reverse("api:project-list"), {"name": "Allowed", "template": "sentiment"}, format="json")
    assert response.status_code == 201
    assert Membership.objects.get(project__slug=response.json()["slug"], user=annotator).role == Membership.Role.LEAD


def test_staff_create_projects_without_a_grant(api):
    staff = UserFactory(username="stella-staff", is_staff=True)
    api.force_authenticate(staff)
    assert api.post(reverse("api:project-list"), {"name": "Staff study"}, format="json").status_code == 201


def test_the_admin_action_grants_and_revokes_project_creation(client, annotator):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    changelist = reverse("admin:auth_user_changelist")
    client.post(changelist, {"action": "allow_project_creation", "_selected_action": [annotator.pk]})
    annotator = type(annotator).objects.get(pk=annotator.pk)
    assert annotator.has_perm("annotator.add_project")
    client.post(changelist, {"action": "disallow_project_creation", "_selected_action": [annotator.pk]})
    annotator = type(annotator).objects.get(pk=annotator.pk)
    assert not annotator.has_perm("annotator.add_project")


def test_the_create_project_command_still_works_for_any_lead(capsys):
    UserFactory(username="cmd-lead")
    call_command("create_project", "From the shell", "--lead", "cmd-lead")
    slug = capsys.readouterr().out.strip().splitlines()[-1]
    assert Project.objects.get(slug=slug).memberships.get().role == Membership.Role.LEAD


def test_the_demo_lead_may_create_projects():
    from annotator.services.demo import LEAD, seed_demo_project

    seed_demo_project(items=5)
    lead = type(UserFactory()).objects.get(username=LEAD)
    from annotator.selectors import can_create_projects

    assert can_create_projects(lead)


# ------------------------------------------------------------------ last lead


def test_the_last_lead_cannot_be_demoted(project, lead):
    with pytest.raises(DomainError, match="at least one lead"):
        project_services.add_member(project=project, user=lead, role=Membership.Role.ANNOTATOR)
    assert Membership.objects.get(project=project, user=lead).role == Membership.Role.LEAD


def test_a_lead_can_be_demoted_when_another_active_lead_remains(project, lead):
    make_member(project, role=Membership.Role.LEAD, username="second-lead")
    project_services.add_member(project=project, user=lead, role=Membership.Role.ANNOTATOR)
    assert Membership.objects.get(project=project, user=lead).role == Membership.Role.ANNOTATOR


def test_an_inactive_lead_does_not_count_as_the_remaining_lead(project, lead):
    other = make_member(project, role=Membership.Role.LEAD, username="gone-lead")
    other.is_active = False
    other.save()
    with pytest.raises(DomainError, match="at least one lead"):
        project_services.remove_member(project=project, user=lead)
    with pytest.raises(DomainError, match="at least one lead"):
        project_services.add_member(project=project, user=lead, role=Membership.Role.ANNOTATOR)


def test_demoting_the_last_lead_is_a_400_in_the_api(api, project, lead):
    api.force_authenticate(lead)
    response = api.post(
        reverse("api:member-list", args=[project.slug]), {"username": lead.username, "role": "annotator"}, format="json"
    )
    assert response.status_code == 400 and "at least one lead" in response.json()["detail"]
    response = api.delete(reverse("api:member-delete", args=[project.slug, lead.pk]))
    assert response.status_code == 400 and "at least one lead" in response.json()["detail"]


def test_demoting_the_last_lead_shows_the_reason_in_the_members_page(lead_client, project, lead):
    response = lead_client.post(
        reverse("annotator:project-members", args=[project.slug]), {"username": lead.username, "role": "annotator"}
    )
    assert response.status_code == 200 and "at least one lead" in response.content.decode()
    response = lead_client.post(reverse("annotator:member-remove", args=[project.slug, lead.pk]), follow=True)
    assert "at least one lead" in response.content.decode()
    assert Membership.objects.get(project=project, user=lead).role == Membership.Role.LEAD


def test_the_admin_refuses_to_deactivate_a_projects_last_active_lead(client, project, lead):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = reverse("admin:auth_user_change", args=[lead.pk])
    form = {"username": lead.username, "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "is_active": ""}
    response = client.post(url, form)
    assert response.status_code == 200 and "only active lead of Desire study" in response.content.decode()
    lead.refresh_from_db()
    assert lead.is_active
    make_member(project, role=Membership.Role.LEAD, username="second-lead")
    assert client.post(url, form).status_code == 302
    lead.refresh_from_db()
    assert not lead.is_active
