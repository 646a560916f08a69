"""Every response carries a Content-Security-Policy that allows no inline
script: HTML pages, API JSON, the API docs and their script, errors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_token

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.status_code} {response.get('Content-Type')}"
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def assert_strict(response) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"], policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


def test_html_pages_carry_the_policy(lead_client, project):
    for url in (
        reverse("annotator:project-list"),
        reverse("annotator:project-detail", args=[project.slug]),
        reverse("api-docs"),
    ):
        response = lead_client.get(url)
        assert response.status_code == 200, url
        assert_strict(response)


def test_the_login_page_and_a_redirect_carry_the_policy(client):
    assert_strict(client.get(reverse("login")))
    response = client.get(reverse("annotator:project-list"))
    assert response.status_code == 302
    assert_strict(response)


def test_api_json_carries_the_policy(api, lead, project):
    api.credentials(HTTP_AUTHORIZATION=f"Token {make_token(lead)}")
    response = api.get(reverse("api-schema"), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert_strict(response)
    refused = api.__class__().get(reverse("api-schema"))
    assert refused.status_code in (401, 403)
    assert_strict(refused)


def test_a_404_carries_the_policy(lead_client):
    response = lead_client.get("/no/such/page/")
    assert response.status_code == 404
    assert_strict(response)


def test_the_api_docs_page_has_no_inline_script_and_its_assets_are_local(lead_client):
    response = lead_client.get(reverse("api-docs"))
    html = response.content.decode()
    assert "<script>" not in html  # every script has a src
    assert "cdn" not in html.lower() and "https://" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    script = lead_client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert_strict(script)


def test_static_files_carry_the_policy_too(client):
    response = client.get("/static/js/annotate.js")
    assert response.status_code == 200
    assert_strict(response)
    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and icon["Location"].endswith("favicon.svg")
    assert_strict(icon)


def test_the_cached_header_is_django_csps_and_per_response_policies_still_apply(settings):
    from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
    from django.http import HttpResponse
    from django.test import RequestFactory

    from config.csp import CSPMiddleware

    plain = CSPMiddleware(lambda request: HttpResponse("x"))
    reference = DjangoCSPMiddleware(lambda request: HttpResponse("x"))(RequestFactory().get("/"))[
        "Content-Security-Policy"
    ]
    first, second = (plain(RequestFactory().get("/")) for _ in range(2))
    assert first["Content-Security-Policy"] == second["Content-Security-Policy"] == reference

    def updated(request):
        response = HttpResponse("x")
        response._csp_update = {"img-src": ["https://tiles.example.org"]}
        return response

    widened = CSPMiddleware(updated)(RequestFactory().get("/"))["Content-Security-Policy"]
    assert "https://tiles.example.org" in widened
    assert "https://tiles.example.org" not in plain(RequestFactory().get("/"))["Content-Security-Policy"]

    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {
            **settings.CONTENT_SECURITY_POLICY["DIRECTIVES"],
            "img-src": ["'self'", "https://changed.example.org"],
        }
    }
    assert (
        "https://changed.example.org" in plain(RequestFactory().get("/"))["Content-Security-Policy"]
    )  # a changed setting is seen
