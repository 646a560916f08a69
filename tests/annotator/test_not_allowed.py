"""A service's NotAllowed is a 403 with its message on every path: an HTML
page (Django's 403 page), the JSON API, never a form error, a flashed
message or a 500. It used to be a DomainError, which the import pages
caught and showed as a form error on a 200.

The views check the role before calling a service, so here the service is
made to refuse as it does when its own check disagrees (a role changed by
another lead between the two checks)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.errors import DomainError, NotAllowed
from annotator.models import ImportJob
from annotator.services import import_jobs as import_services

pytestmark = pytest.mark.django_db

MESSAGE = "Only the project's leads can import items."


def refuse(**kwargs):
    raise NotAllowed(MESSAGE)


def test_not_allowed_is_a_permission_denied_and_no_domain_error():
    assert issubclass(NotAllowed, PermissionDenied)
    assert not issubclass(NotAllowed, DomainError)
    assert NotAllowed(MESSAGE).message == MESSAGE


def test_a_refused_upload_is_a_403_page_with_the_reason_not_a_form_error(lead_client, project, monkeypatch):
    monkeypatch.setattr(import_services, "create_import_job", refuse)
    form = {"file": SimpleUploadedFile("items.csv", b"id,text\nx1,hello\n"), "on_duplicate": "skip"}

    response = lead_client.post(reverse("annotator:import-upload", args=[project.slug]), form)

    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot do this here" in html and MESSAGE.replace("'", "&#x27;") in html
    assert 'class="errorlist"' not in html


@pytest.mark.parametrize(
    "action, view",
    [("confirm_import", "import-confirm"), ("retry_import", "import-retry"), ("discard_import", "import-discard")],
)
def test_a_refused_import_action_is_a_403_page_not_a_flashed_message(
    lead_client, lead, project, monkeypatch, action, view
):
    job = ImportJob.objects.create(project=project, created_by=lead, original_name="items.csv")
    monkeypatch.setattr(import_services, action, refuse)

    response = lead_client.post(reverse(f"annotator:{view}", args=[project.slug, job.pk]), {"on_duplicate": "skip"})

    assert response.status_code == 403
    assert MESSAGE.replace("'", "&#x27;") in response.content.decode()


def test_a_refused_api_call_is_a_json_403_with_the_reason(api, lead, project, monkeypatch):
    job = ImportJob.objects.create(project=project, created_by=lead, original_name="items.csv")
    monkeypatch.setattr(import_services, "discard_import", refuse)
    api.force_authenticate(lead)

    response = api.post(reverse("api:import-discard", args=[project.slug, job.pk]))

    assert response.status_code == 403
    assert response.json() == {"detail": MESSAGE}
