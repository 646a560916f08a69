"""An account a lead made with a one-time password must choose its own first."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from annotator.models import Profile
from annotator.services import projects as project_services
from annotator.services.demo import seed_demo_project
from tests.factories import PASSWORD, login

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-much-better-secret-42"


@pytest.fixture
def fresh(project, lead):
    user, password = project_services.create_member_account(project=project, username="newcomer", actor=lead)
    client = Client()
    assert login(client, user, password)
    return user, password, client


def test_the_members_page_makes_accounts_that_must_change_their_password(lead_client, project):
    response = lead_client.post(
        reverse("annotator:project-members", args=[project.slug]),
        {"username": "nina", "role": "annotator", "create": "on"},
    )
    assert response.status_code == 200 and "choose their own password" in response.content.decode()
    assert Profile.objects.get(user__username="nina").must_change_password


def test_pages_redirect_to_the_password_change_until_it_is_done(fresh, project):
    user, password, client = fresh
    for url in (
        reverse("annotator:project-list"),
        reverse("annotator:project-detail", args=[project.slug]),
        reverse("annotator:api-tokens"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("password_change"), url
    page = client.get(reverse("password_change"))
    assert page.status_code == 200 and "Choose your own password" in page.content.decode()
    response = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not Profile.objects.get(user=user).must_change_password
    assert client.get(reverse("annotator:project-list")).status_code == 200
    # Signing in again later is not stopped either.
    again = Client()
    assert login(again, user, NEW_PASSWORD)
    assert again.get(reverse("annotator:project-list")).status_code == 200


def test_the_api_answers_403_with_the_reason_meanwhile(fresh, project):
    _, _, client = fresh
    for url in (reverse("api:token-list"), reverse("api:queue-next", args=[project.slug])):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "one-time password" in response.json()["detail"]


def test_signing_out_stays_possible(fresh):
    _, _, client = fresh
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] != reverse("password_change")


def test_accounts_with_their_own_password_are_not_stopped(annotator_client):
    assert annotator_client.get(reverse("annotator:project-list")).status_code == 200


def test_the_demos_printed_accounts_are_exempt(settings):
    result = seed_demo_project(items=6)
    User = get_user_model()
    for username, password, _ in result.logins:
        user = User.objects.get(username=username)
        assert not Profile.objects.filter(user=user, must_change_password=True).exists()
        client = Client()
        assert login(client, user, password)
        assert client.get(reverse("annotator:project-list")).status_code == 200, username


def test_reseeding_clears_a_flag_on_a_demo_account():
    from annotator.services.security import require_password_change

    result = seed_demo_project(items=6)
    user = get_user_model().objects.get(username=result.logins[1][0])
    require_password_change(user=user)
    result = seed_demo_project(items=6)
    assert not Profile.objects.get(user=user).must_change_password


def test_a_lead_resets_an_annotators_password_to_a_one_time_one(lead_client, project, annotator):
    url = reverse("annotator:member-reset-password", args=[project.slug, annotator.pk])
    assert (
        f'href="{url}"' in lead_client.get(reverse("annotator:project-members", args=[project.slug])).content.decode()
    )
    assert "Reset the password of ana-annotator?" in lead_client.get(url).content.decode()
    response = lead_client.post(url)
    html = response.content.decode()
    assert response.status_code == 200 and "New one-time password set." in html
    password = html.split("password: ")[1].split("<")[0].strip()
    assert Profile.objects.get(user=annotator).must_change_password
    client = Client()
    assert not login(client, annotator)  # the old password is gone
    assert login(client, annotator, password)
    assert client.get(reverse("annotator:project-list"))["Location"] == reverse("password_change")


def test_a_lead_cannot_reset_a_lead_staff_or_someone_of_another_project(lead_client, project, lead):
    from annotator.models import Membership
    from tests.factories import UserFactory, make_member

    co_lead = make_member(project, role=Membership.Role.LEAD, username="co-lead")
    staff = make_member(project, username="staffer")
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=True)
    elsewhere = make_member(project, username="elsewhere")
    other = project_services.create_project(
        name="Other study", template="msed", created_by=UserFactory(username="other-lead")
    )
    project_services.add_member(project=other, user=elsewhere)
    for user, reason in (
        (co_lead, "Only an annotator"),
        (staff, "administrator"),
        (elsewhere, "projects you do not lead"),
    ):
        response = lead_client.post(
            reverse("annotator:member-reset-password", args=[project.slug, user.pk]), follow=True
        )
        assert reason in response.content.decode(), user
        user.refresh_from_db()
        assert user.check_password(PASSWORD), user
        assert not Profile.objects.filter(user=user, must_change_password=True).exists()


def test_an_annotator_cannot_reset_passwords(annotator_client, project, other_annotator):
    assert (
        annotator_client.post(
            reverse("annotator:member-reset-password", args=[project.slug, other_annotator.pk])
        ).status_code
        == 403
    )
