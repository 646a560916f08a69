"""Sign-in lockout (django-axes), API throttles and the security event record."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from annotator.models import Membership, SecurityEvent
from annotator.services import security
from tests.factories import PASSWORD, UserFactory, login, make_token

pytestmark = pytest.mark.django_db

LOCKOUT = "Too many failed sign-ins for this account from your address; try again in 15 minutes"


def sign_in(client, username, password, ip="10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# ------------------------------------------------------------------ lockout


def test_sixty_wrong_passwords_lock_the_account_and_the_right_one_then_fails(client, annotator, settings):
    answers = [sign_in(client, annotator.username, f"guess-{i}").status_code for i in range(60)]
    limit = settings.AXES_FAILURE_LIMIT
    assert answers[: limit - 1] == [200] * (limit - 1)  # the form again, "please enter a correct..."
    assert set(answers[limit - 1 :]) == {429}
    response = sign_in(client, annotator.username, PASSWORD)
    assert response.status_code == 429
    assert LOCKOUT in response.content.decode()
    assert "ask a staff member to unlock it" in response.content.decode()
    assert not signed_in(client)


def test_fewer_failures_than_the_limit_do_not_lock(client, annotator, settings):
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, annotator.username, f"guess-{i}")
    assert sign_in(client, annotator.username, PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_lock_holds_one_username_at_one_address(client, annotator, other_annotator, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, annotator.username, f"guess-{i}", ip="10.0.0.1")
    assert sign_in(client, other_annotator.username, PASSWORD, ip="10.0.0.1").status_code == 302
    client.logout()
    assert sign_in(client, annotator.username, PASSWORD, ip="10.0.0.2").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, annotator, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, annotator.username, f"guess-{i}")
    assert sign_in(client, annotator.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert sign_in(client, annotator.username, PASSWORD).status_code == 302


def test_the_failure_limit_and_cool_off_are_settings(client, annotator, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    sign_in(client, annotator.username, "nope")
    response = sign_in(client, annotator.username, "nope again")
    assert response.status_code == 429
    assert "try again in 1 minute or ask" in response.content.decode()


def test_staff_unlock_an_account_in_the_admin(client, annotator, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, annotator.username, f"guess-{i}")
    attempt = AccessAttempt.objects.get(username=annotator.username)
    staff = APIClient()
    staff.force_login(UserFactory(username="sam-staff", is_staff=True, is_superuser=True))
    assert annotator.username in staff.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    staff.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, annotator.username, PASSWORD).status_code == 302


def test_a_lockout_is_logged(client, annotator, settings, caplog):
    with caplog.at_level(logging.INFO):
        for i in range(settings.AXES_FAILURE_LIMIT):
            sign_in(client, annotator.username, f"guess-{i}")
    assert any("Locking out" in r.getMessage() and annotator.username in r.getMessage() for r in caplog.records)
    assert any("security event locked_out" in r.getMessage() for r in caplog.records)


def test_the_test_clients_sign_in_still_counts_for_axes(client, annotator):
    assert login(client, annotator)
    assert not login(client, annotator, password="wrong")


# ------------------------------------------------------------------ API throttles


def test_invalid_tokens_from_one_address_get_429_past_the_limit(project, annotator, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    url = reverse("api:project-list")
    attacker = APIClient(REMOTE_ADDR="10.9.9.9")
    answers = []
    for i in range(5):
        attacker.credentials(HTTP_AUTHORIZATION=f"Token {i:064d}")
        answers.append(attacker.get(url))
    assert [r.status_code for r in answers] == [401, 401, 401, 429, 429]
    assert int(answers[-1]["Retry-After"]) == settings.API_TOKEN_FAILURE_WINDOW_SECONDS
    # Counted per address: another client with a bad token is still told 401.
    other = APIClient(REMOTE_ADDR="10.1.1.1")
    other.credentials(HTTP_AUTHORIZATION="Token " + "f" * 64)
    assert other.get(url).status_code == 401


def test_a_valid_token_never_consults_the_failure_counter(project, annotator, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 0
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {make_token(annotator)}")
    assert api.get(reverse("api:project-list")).status_code == 200


def test_the_user_rate_throttles_the_api(api, project, annotator, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "rate", "3/minute", raising=False)
    api.force_authenticate(annotator)
    answers = [api.get(reverse("api:project-list")).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_the_labelling_loop_is_not_throttled(api, project, annotator, monkeypatch):
    from tests.annotator.factories import make_items

    make_items(project, 3)
    monkeypatch.setattr(UserRateThrottle, "rate", "1/minute", raising=False)
    api.force_authenticate(annotator)
    url = reverse("api:queue-next", args=[project.slug])
    assert [api.post(url, {}, format="json").status_code for _ in range(5)] == [200] * 5


def test_default_rates_are_far_above_a_person(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates["user"] == "1200/minute" and rates["anon"] == "120/minute"


# ------------------------------------------------------------------ security events


def events(kind):
    return list(SecurityEvent.objects.filter(kind=kind).select_related("actor", "target", "project"))


def test_sign_ins_failures_and_lockouts_are_recorded(client, annotator, settings):
    sign_in(client, annotator.username, "wrong", ip="10.0.0.7")
    (failed,) = events(SecurityEvent.Kind.SIGN_IN_FAILED)
    assert failed.target == annotator and failed.actor is None and failed.ip == "10.0.0.7"
    assert failed.detail == {"username": annotator.username}
    assert "wrong" not in str(failed.detail)
    sign_in(client, annotator.username, PASSWORD, ip="10.0.0.7")
    (signed,) = events(SecurityEvent.Kind.SIGN_IN)
    assert signed.actor == annotator and signed.ip == "10.0.0.7"
    client.logout()
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, annotator.username, f"guess-{i}", ip="10.0.0.7")
    locked = events(SecurityEvent.Kind.LOCKED_OUT)
    assert locked and locked[0].target == annotator and locked[0].ip == "10.0.0.7"


def test_a_failure_for_an_unknown_username_is_recorded_without_target(client, db):
    sign_in(client, "nobody-here", "x")
    (failed,) = events(SecurityEvent.Kind.SIGN_IN_FAILED)
    assert failed.target is None and failed.detail["username"] == "nobody-here"


def test_membership_changes_by_a_lead_are_recorded(lead_client, lead, project, outsider, annotator):
    url = reverse("annotator:project-members", args=[project.slug])
    lead_client.post(url, {"username": outsider.username, "role": "annotator"})
    (added,) = [e for e in events(SecurityEvent.Kind.MEMBER_ADDED) if e.target == outsider]
    assert added.actor == lead and added.project == project and added.detail == {"role": "annotator"}
    lead_client.post(url, {"username": outsider.username, "role": "lead"})
    (changed,) = events(SecurityEvent.Kind.ROLE_CHANGED)
    assert changed.actor == lead and changed.target == outsider
    assert changed.detail == {"old_role": "annotator", "role": "lead"}
    lead_client.post(reverse("annotator:member-remove", args=[project.slug, annotator.pk]))
    (removed,) = events(SecurityEvent.Kind.MEMBER_REMOVED)
    assert removed.actor == lead and removed.target == annotator and removed.project == project


def test_membership_changes_through_the_api_are_recorded(api, lead, project, outsider, annotator):
    api.force_authenticate(lead)
    api.post(
        reverse("api:member-list", args=[project.slug]),
        {"username": outsider.username, "role": "annotator"},
        format="json",
    )
    api.delete(reverse("api:member-delete", args=[project.slug, annotator.pk]))
    assert [e.target for e in events(SecurityEvent.Kind.MEMBER_ADDED) if e.actor == lead and e.target != lead] == [
        outsider
    ]
    assert [(e.actor, e.target) for e in events(SecurityEvent.Kind.MEMBER_REMOVED)] == [(lead, annotator)]


def test_an_unchanged_role_records_nothing(lead, project, annotator):
    from annotator.services.projects import add_member

    add_member(project=project, user=annotator, role=Membership.Role.ANNOTATOR, actor=lead)
    assert not events(SecurityEvent.Kind.ROLE_CHANGED)


def test_an_account_created_by_a_lead_is_recorded(lead_client, lead, project):
    lead_client.post(
        reverse("annotator:project-members", args=[project.slug]),
        {"username": "new-person", "role": "annotator", "create": "on"},
    )
    (created,) = events(SecurityEvent.Kind.ACCOUNT_CREATED)
    assert created.actor == lead and created.target.username == "new-person" and created.project == project


def test_token_creation_and_revocation_are_recorded(annotator):
    token, key = security.create_api_token(user=annotator, name="laptop")
    security.revoke_api_token(user=annotator, token=token)
    (created,) = events(SecurityEvent.Kind.TOKEN_CREATED)
    (revoked,) = events(SecurityEvent.Kind.TOKEN_REVOKED)
    assert created.actor == annotator and created.detail == {"token": token.token_key, "name": "laptop"}
    assert revoked.actor == annotator and revoked.target == annotator
    assert key not in str(created.detail) and key not in str(revoked.detail)


def test_exports_are_recorded_from_the_page_the_api_and_the_command(lead_client, api, lead, project, tmp_path):
    response = lead_client.get(reverse("annotator:export", args=[project.slug]), {"format": "csv"})
    b"".join(response.streaming_content)
    api.force_authenticate(lead)
    # (?format= is DRF's renderer override on this endpoint, so the API's default, csv.)
    response = api.get(reverse("api:export", args=[project.slug]))
    b"".join(response.streaming_content)
    call_command("export_items", project.slug, str(tmp_path / "out.csv"), "--format", "csv")
    recorded = sorted(events(SecurityEvent.Kind.EXPORT), key=lambda e: e.pk)
    assert [(e.actor, e.project, e.detail["format"]) for e in recorded] == [
        (lead, project, "csv"),
        (lead, project, "csv"),
        (None, project, "csv"),
    ]
    assert recorded[2].detail["via"] == "export_items"


def test_deactivation_by_staff_is_recorded_and_ends_tokens(annotator):
    staff = UserFactory(username="sam-staff", is_staff=True, is_superuser=True)
    make_token(annotator)
    client = APIClient()
    client.force_login(staff)
    client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "deactivate_accounts", "_selected_action": [annotator.pk]},
    )
    annotator.refresh_from_db()
    assert not annotator.is_active and not annotator.api_tokens.exists()
    (event,) = events(SecurityEvent.Kind.ACCOUNT_DEACTIVATED)
    assert event.actor == staff and event.target == annotator


def test_staff_cannot_deactivate_themselves(db):
    staff = UserFactory(username="sam-staff", is_staff=True)
    with pytest.raises(Exception, match="your own account"):
        security.deactivate_account(actor=staff, user=staff)


def test_an_unknown_event_kind_is_refused(db):
    with pytest.raises(ValueError):
        security.record_security_event(kind="made_up")


def test_staff_read_and_filter_events_in_the_admin_and_cannot_change_them(annotator, client):
    security.record_security_event(kind=SecurityEvent.Kind.EXPORT, actor=annotator)
    security.record_security_event(kind=SecurityEvent.Kind.SIGN_IN, actor=annotator)
    staff = APIClient()
    staff.force_login(UserFactory(username="sam-staff", is_staff=True, is_superuser=True))
    url = reverse("admin:annotator_securityevent_changelist")
    shown = staff.get(url, {"kind__exact": "export"}).context["cl"].result_list
    assert [e.kind for e in shown] == ["export"]
    assert staff.get(url, {"q": annotator.username}).status_code == 200
    event = SecurityEvent.objects.first()
    assert (
        staff.post(reverse("admin:annotator_securityevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    )
    assert staff.get(reverse("admin:annotator_securityevent_add")).status_code == 403
    assert login(client, annotator)
    assert client.get(url).status_code == 302  # not staff: sent to the admin's sign-in


def test_behind_a_proxy_the_lock_follows_the_forwarded_address(client, annotator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.254"

    def via_proxy(password, client_address):
        return client.post(
            reverse("login"),
            {"username": annotator.username, "password": password},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"198.51.100.9, {client_address}",
        )

    for i in range(settings.AXES_FAILURE_LIMIT):
        via_proxy(f"guess-{i}", "203.0.113.5")
    assert via_proxy(PASSWORD, "203.0.113.5").status_code == 429
    assert {e.ip for e in events(SecurityEvent.Kind.LOCKED_OUT)} == {"203.0.113.5"}
    # Everyone else behind the same proxy can still sign in as this user.
    assert via_proxy(PASSWORD, "203.0.113.6").status_code == 302


def test_a_forged_address_is_recorded_as_unknown_not_a_500(client, annotator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = client.post(
        reverse("login"), {"username": annotator.username, "password": "wrong"}, HTTP_X_FORWARDED_FOR="not-an-ip"
    )
    assert response.status_code == 200
    (failed,) = events(SecurityEvent.Kind.SIGN_IN_FAILED)
    assert failed.ip is None


def test_unticking_active_on_the_admin_form_is_recorded_and_ends_tokens(annotator):
    staff_user = UserFactory(username="sam-staff", is_staff=True, is_superuser=True)
    key = make_token(annotator)
    staff = APIClient()
    staff.force_login(staff_user)
    url = reverse("admin:auth_user_change", args=[annotator.pk])
    form = staff.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "is_active"}
    data.update({"username": annotator.username, "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data["groups"], data["user_permissions"] = [], []
    response = staff.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    annotator.refresh_from_db()
    assert not annotator.is_active and not annotator.api_tokens.exists()
    (event,) = events(SecurityEvent.Kind.ACCOUNT_DEACTIVATED)
    assert event.actor == staff_user and event.target == annotator
    assert token_status(key) == 401


def token_status(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(reverse("api:project-list")).status_code


def test_the_deactivate_action_refuses_a_projects_last_active_lead(lead, project):
    staff = UserFactory(username="sam-staff", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(staff)
    response = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "deactivate_accounts", "_selected_action": [lead.pk]},
        follow=True,
    )
    lead.refresh_from_db()
    assert lead.is_active and not events(SecurityEvent.Kind.ACCOUNT_DEACTIVATED)
    assert f"the only active lead of {project.name}" in response.content.decode()
