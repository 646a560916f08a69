"""One form style, the schema's form editor page and confirming a member's removal."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import Membership

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["project-settings", "project-members", "import-upload", "export", "project-schema"])
def test_project_forms_share_one_style_with_labels_above_fields(lead_client, project, name):
    html = lead_client.get(reverse(f"annotator:{name}", args=[project.slug])).content.decode()
    assert 'class="field' in html
    assert "<p><label" not in html  # no more form.as_p


def test_a_field_error_shows_in_red_next_to_its_field(lead_client, project):
    response = lead_client.post(
        reverse("annotator:project-settings", args=[project.slug]),
        {
            "name": "",
            "votes_per_item": "5",
            "queue_order": "finish_first",
            "claim_minutes": "30",
            "dispute_threshold": "0.5",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="field has-error"' in html and 'class="field-error"' in html


def test_removing_a_member_asks_first_and_removes_on_confirmation(lead_client, project, annotator):
    url = reverse("annotator:member-remove", args=[project.slug, annotator.pk])
    members = lead_client.get(reverse("annotator:project-members", args=[project.slug])).content.decode()
    assert f'href="{url}"' in members  # a link to the confirmation step, not a form that removes at once
    page = lead_client.get(url)
    assert page.status_code == 200
    assert f"Remove {annotator.username} from {project.name}?" in page.content.decode()
    assert Membership.objects.filter(project=project, user=annotator).exists()
    response = lead_client.post(url)
    assert response.status_code == 302
    assert not Membership.objects.filter(project=project, user=annotator).exists()


def test_confirming_the_removal_of_a_non_member_explains(lead_client, project, outsider):
    response = lead_client.get(reverse("annotator:member-remove", args=[project.slug, outsider.pk]), follow=True)
    assert "That person is not a member of this project." in response.content.decode()


def test_an_annotator_cannot_see_the_removal_step(annotator_client, project, lead):
    response = annotator_client.get(reverse("annotator:member-remove", args=[project.slug, lead.pk]))
    assert response.status_code == 403


def test_the_schema_page_offers_the_form_editor_and_keeps_the_json_as_advanced(lead_client, project):
    html = lead_client.get(reverse("annotator:project-schema", args=[project.slug])).content.decode()
    assert 'id="schema-editor"' in html and "js/schema_editor.js" in html
    assert '<details id="schema-advanced"' in html and 'name="schema"' in html
    assert '<label for="id_schema">' in html
    assert "<script>" not in html  # no inline script under the CSP


def test_the_schema_page_still_reports_the_servers_message(lead_client, project):
    response = lead_client.post(
        reverse("annotator:project-schema", args=[project.slug]),
        {"schema": '[{"key": "t", "name": "T", "labels": [{"key": "a", "name": "A"}]}]'},
    )
    assert response.status_code == 200
    assert "Task &#x27;t&#x27; needs at least two labels." in response.content.decode()
