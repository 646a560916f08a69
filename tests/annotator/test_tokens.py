"""API tokens: hashed at rest, shown once, listed / rotated / revoked by their
owner only (page and API), expiring, ended by a password change or a
deactivation, and visible to staff in the admin."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.models import ApiToken, SecurityEvent
from annotator.services import security
from tests.factories import PASSWORD, UserFactory, login, make_token

pytestmark = pytest.mark.django_db


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def works(key: str) -> bool:
    status = token_client(key).get(reverse("api:project-list")).status_code
    assert status in (200, 401), status
    return status == 200


# ------------------------------------------------------------------ storage and lifetime


def test_a_token_is_stored_only_as_a_digest_and_a_short_prefix(annotator):
    token, key = security.create_api_token(user=annotator, name="laptop")
    assert len(key) == 64
    row = ApiToken.objects.get(pk=token.pk)
    assert row.digest == hashlib.sha512(key.encode()).hexdigest()
    assert row.token_key == key[:15]
    stored = [str(getattr(row, f.attname)) for f in ApiToken._meta.concrete_fields]
    assert not any(key in value for value in stored)
    assert works(key)


def test_a_token_expires_after_the_configured_days(annotator, settings):
    settings.API_TOKEN_TTL_DAYS = 7
    token, key = security.create_api_token(user=annotator)
    assert abs(token.expiry - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert works(key)
    ApiToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert not works(key)


def test_changing_the_password_on_the_page_ends_every_token(client, annotator):
    key = make_token(annotator)
    assert login(client, annotator)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-passphrase-42",
            "new_password2": "a-new-long-passphrase-42",
        },
    )
    assert response.status_code == 302
    assert not works(key)
    assert not annotator.api_tokens.exists()


def test_a_password_changed_without_save_signals_still_ends_tokens(annotator):
    from django.contrib.auth.hashers import make_password

    key = make_token(annotator)
    type(annotator).objects.filter(pk=annotator.pk).update(password=make_password("changed-behind-our-back"))
    assert not works(key)


def test_a_token_made_after_the_password_change_works(annotator):
    annotator.set_password("a-new-long-passphrase-42")
    annotator.save()
    assert works(make_token(annotator))


def test_deactivating_an_account_ends_its_tokens_for_good(annotator):
    key = make_token(annotator)
    annotator.is_active = False
    annotator.save(update_fields=["is_active"])
    assert not works(key)
    assert not annotator.api_tokens.exists()
    annotator.is_active = True
    annotator.save(update_fields=["is_active"])
    assert not works(key)


def test_an_inactive_account_cannot_make_tokens(annotator):
    annotator.is_active = False
    annotator.save()
    with pytest.raises(Exception, match="inactive"):
        security.create_api_token(user=annotator)


def test_last_use_is_written_at_most_once_a_minute(annotator, project):
    token, key = security.create_api_token(user=annotator)
    assert token.last_used is None
    client = token_client(key)
    client.get(reverse("api:project-list"))
    first = ApiToken.objects.get(pk=token.pk).last_used
    assert first is not None
    client.get(reverse("api:project-list"))
    assert ApiToken.objects.get(pk=token.pk).last_used == first
    ApiToken.objects.filter(pk=token.pk).update(last_used=first - timedelta(seconds=61))
    client.get(reverse("api:project-list"))
    assert ApiToken.objects.get(pk=token.pk).last_used > first


def test_a_request_with_a_fresh_token_reads_it_in_one_query(annotator, project, django_assert_max_num_queries):
    token, key = security.create_api_token(user=annotator)
    ApiToken.objects.filter(pk=token.pk).update(last_used=timezone.now())
    from rest_framework.test import APIRequestFactory

    from annotator.api.authentication import TokenAuthentication

    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
    with django_assert_max_num_queries(1):
        user, auth = TokenAuthentication().authenticate(request)
    assert user == annotator and auth.pk == token.pk


def test_drf_tokens_are_moved_into_the_hashed_table(annotator):
    migration = __import__("annotator.migrations.0007_move_drf_tokens_to_apitoken", fromlist=["move_tokens"])
    key = "a" * 40
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS authtoken_token (key varchar(40) PRIMARY KEY, user_id integer, created timestamptz)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, now())", [key, annotator.pk])
    with connection.schema_editor() as editor:
        migration.move_tokens(apps, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert works(key)


# ------------------------------------------------------------------ API


def test_create_list_rotate_and_revoke_through_the_api(api, annotator, project):
    api.force_authenticate(annotator)
    created = api.post(reverse("api:token-list"), {"name": "nightly script"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "nightly script" and body["key"].startswith(body["starts_with"])
    assert works(body["key"])
    listed = api.get(reverse("api:token-list")).json()
    assert [t["id"] for t in listed] == [body["id"]] and "key" not in listed[0]
    rotated = api.post(reverse("api:token-rotate", args=[body["id"]]))
    assert rotated.status_code == 201 and rotated.json()["name"] == "nightly script"
    assert not works(body["key"]) and works(rotated.json()["key"])
    assert api.delete(reverse("api:token-revoke", args=[rotated.json()["id"]])).status_code == 204
    assert not works(rotated.json()["key"])
    assert api.get(reverse("api:token-list")).json() == []


def test_a_token_can_manage_tokens_with_the_token_header(annotator):
    client = token_client(make_token(annotator))
    assert client.post(reverse("api:token-list"), {"name": "second"}, format="json").status_code == 201
    assert len(client.get(reverse("api:token-list")).json()) == 2


def test_a_too_long_token_name_is_a_400(api, annotator):
    api.force_authenticate(annotator)
    response = api.post(reverse("api:token-list"), {"name": "x" * 101}, format="json")
    assert response.status_code == 400 and "name" in response.json()


@pytest.mark.parametrize(
    "method, name, needs_id",
    [
        ("get", "api:token-list", False),
        ("post", "api:token-list", False),
        ("delete", "api:token-revoke", True),
        ("post", "api:token-rotate", True),
    ],
)
def test_anonymous_requests_to_the_token_api_are_refused(api, annotator, method, name, needs_id):
    token, _ = security.create_api_token(user=annotator)
    url = reverse(name, args=[token.public_id] if needs_id else [])
    assert getattr(api, method)(url).status_code in (401, 403)
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_nobody_sees_rotates_or_revokes_another_persons_token(api, annotator, outsider, lead):
    theirs, key = security.create_api_token(user=annotator, name="annotator's")
    security.create_api_token(user=outsider, name="outsider's")
    for intruder in (outsider, lead):
        api.force_authenticate(intruder)
        assert all(t["id"] != str(theirs.public_id) for t in api.get(reverse("api:token-list")).json())
        assert api.delete(reverse("api:token-revoke", args=[theirs.public_id])).status_code == 404
        assert api.post(reverse("api:token-rotate", args=[theirs.public_id])).status_code == 404
    assert works(key)


def test_an_unknown_token_id_is_a_404(api, annotator):
    api.force_authenticate(annotator)
    assert api.delete(reverse("api:token-revoke", args=[uuid.uuid4()])).status_code == 404


def test_the_token_api_is_in_the_openapi_schema(api, annotator):
    api.force_authenticate(annotator)
    schema = api.get(reverse("api-schema"), {"format": "json"}).json()
    assert {"get", "post"} <= set(schema["paths"]["/api/tokens/"])
    assert "delete" in schema["paths"]["/api/tokens/{public_id}/"]
    assert "post" in schema["paths"]["/api/tokens/{public_id}/rotate/"]


# ------------------------------------------------------------------ page


def test_the_page_creates_shows_the_key_once_and_lists_only_mine(annotator_client, annotator, outsider):
    security.create_api_token(user=outsider, name="outsider-secret-script")
    url = reverse("annotator:api-tokens")
    assert reverse("annotator:api-tokens") in annotator_client.get(reverse("annotator:project-list")).content.decode()
    response = annotator_client.post(url, {"name": "<b>laptop</b>"})
    assert response.status_code == 201
    page = response.content.decode()
    (token,) = annotator.api_tokens.all()
    key = response.context["new_key"]
    assert key in page and works(key)
    assert "&lt;b&gt;laptop&lt;/b&gt;" in page and "<b>laptop</b>" not in page
    again = annotator_client.get(url).content.decode()
    assert key not in again and token.token_key in again
    assert "outsider-secret-script" not in again


def test_the_page_rotates_and_revokes(annotator_client, annotator):
    token, key = security.create_api_token(user=annotator, name="ci")
    response = annotator_client.post(reverse("annotator:api-token-rotate", args=[token.public_id]))
    assert response.status_code == 201 and not works(key)
    new_key = response.context["new_key"]
    assert works(new_key)
    (new_token,) = annotator.api_tokens.all()
    response = annotator_client.post(reverse("annotator:api-token-revoke", args=[new_token.public_id]))
    assert response.status_code == 302 and not works(new_key)


def test_the_page_refuses_anonymous_people(client, annotator):
    token, _ = security.create_api_token(user=annotator)
    for url in (
        reverse("annotator:api-tokens"),
        reverse("annotator:api-token-revoke", args=[token.public_id]),
        reverse("annotator:api-token-rotate", args=[token.public_id]),
    ):
        response = client.post(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_the_page_never_reaches_another_persons_token(outsider_client, annotator):
    token, key = security.create_api_token(user=annotator)
    assert outsider_client.post(reverse("annotator:api-token-revoke", args=[token.public_id])).status_code == 404
    assert outsider_client.post(reverse("annotator:api-token-rotate", args=[token.public_id])).status_code == 404
    assert works(key)


def test_revoke_and_rotate_need_a_post(annotator_client, annotator):
    token, _ = security.create_api_token(user=annotator)
    assert annotator_client.get(reverse("annotator:api-token-revoke", args=[token.public_id])).status_code == 405


def test_the_page_has_no_inline_script(annotator_client):
    page = annotator_client.get(reverse("annotator:api-tokens")).content.decode()
    assert "<script" not in page.split("<body>")[-1] and " on" + "click=" not in page


# ------------------------------------------------------------------ admin


def test_staff_see_who_holds_which_token_and_revoke_it(annotator):
    token, key = security.create_api_token(user=annotator, name="lab machine")
    ApiToken.objects.filter(pk=token.pk).update(last_used=timezone.now())
    staff = APIClient()
    staff.force_login(UserFactory(username="sam-staff", is_staff=True, is_superuser=True))
    url = reverse("admin:annotator_apitoken_changelist")
    response = staff.get(url)
    page = response.content.decode()
    assert annotator.username in page and "lab machine" in page and token.token_key in page
    assert {"created", "expiry", "last_used"} <= set(response.context["cl"].list_display)
    assert staff.get(reverse("admin:annotator_apitoken_add")).status_code == 403
    response = staff.post(url, {"action": "revoke_tokens", "_selected_action": [token.pk]}, follow=True)
    assert "Revoked 1 token(s)." in response.content.decode()
    assert not works(key)
    (event,) = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.TOKEN_REVOKED)
    assert event.actor.username == "sam-staff" and event.target == annotator


def test_a_non_staff_user_cannot_open_the_token_admin(annotator_client):
    response = annotator_client.get(reverse("admin:annotator_apitoken_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_services_refuse_someone_elses_token(annotator, outsider):
    from annotator.errors import DomainError

    token, key = security.create_api_token(user=annotator)
    with pytest.raises(DomainError, match="not yours"):
        security.revoke_api_token(user=outsider, token=token)
    staff = UserFactory(username="sam-staff", is_staff=True)
    with pytest.raises(DomainError, match="not yours"):  # staff revoke, but never see a new key
        security.rotate_api_token(user=staff, token=token)
    assert works(key)
