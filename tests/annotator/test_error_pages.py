"""403, 404 and 500 look like the app, say why in plain words and link back;
a refusal is one line in the server log."""

from __future__ import annotations

import io
import logging

import pytest
from django.test import RequestFactory
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_403_page_says_why_in_the_apps_layout_and_links_back(annotator_client, project):
    response = annotator_client.get(reverse("annotator:project-settings", args=[project.slug]))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="top"' in html and "css/app.css" in html  # the app's header and styles
    assert "Only the project&#x27;s leads can do this." in html  # the reason the server gave
    assert f'href="{reverse("annotator:project-list")}"' in html
    assert "<title>Not allowed · Affect Studio</title>" in html


def test_404_page_is_styled_and_links_back(outsider_client, project):
    response = outsider_client.get(reverse("annotator:project-detail", args=[project.slug]))
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is nothing here" in html and 'class="top"' in html
    assert "you are not a member of its project" in html
    assert f'href="{reverse("annotator:project-list")}"' in html


def test_500_page_renders_without_a_request_or_the_database(django_assert_num_queries):
    from django.views.defaults import server_error

    request = RequestFactory().get("/boom/")
    with django_assert_num_queries(0):
        response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and "css/app.css" in html
    assert f'href="{reverse("annotator:project-list")}"' in html


@pytest.fixture
def server_log():
    """What the root console handler (settings.LOGGING) writes, as text."""
    from django.conf import settings
    from django.utils.log import configure_logging

    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    stream = io.StringIO()
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    assert handlers
    old = [h.setStream(stream) for h in handlers]
    try:
        yield stream
    finally:
        for h, s in zip(handlers, old):
            h.setStream(s)


def test_a_refusal_is_one_line_in_the_server_log_without_a_traceback(annotator_client, project, server_log, settings):
    settings.DEBUG = True  # Django's own console handler only printed under DEBUG: the refusal came twice
    response = annotator_client.get(reverse("annotator:project-settings", args=[project.slug]))
    assert response.status_code == 403
    lines = [line for line in server_log.getvalue().splitlines() if line.strip()]
    refusals = [line for line in lines if "Forbidden" in line]
    assert refusals == [
        f"Forbidden (Permission denied): {reverse('annotator:project-settings', args=[project.slug])}"
    ], lines
    assert "Traceback" not in server_log.getvalue()


def test_a_server_error_keeps_its_traceback_in_the_log(server_log):
    logger = logging.getLogger("django.request")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        logger.error("Internal Server Error: /x", exc_info=exc, extra={"status_code": 500})
    assert "Traceback" in server_log.getvalue() and "RuntimeError: boom" in server_log.getvalue()
