"""The dashboards' and the models' JSON endpoints moved from
/analysis/api/projects/<slug>/… and /inference/api/projects/<slug>/… to
/api/projects/<slug>/… (one API root, one OpenAPI schema). Each old path
answers 308 Permanent Redirect to its new one, query string included: a 308
keeps the method and the body, so a script that follows redirects works
unchanged (curl needs -L; Python's requests follows it and keeps the token,
the host being the same). Only the old endpoints redirect; anything else
under the old prefixes stays a 404."""

from __future__ import annotations

from importlib import import_module

from django.http import HttpResponsePermanentRedirect
from django.urls import URLPattern, get_script_prefix, path
from django.utils.encoding import iri_to_uri
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # it changes nothing; the endpoint it points to checks CSRF for session requests
def moved_to_api(request, old_prefix: str, **route):
    rest = request.path_info.removeprefix(f"/{old_prefix}")
    location = iri_to_uri(f"{get_script_prefix()}api/{rest}")
    if request.META.get("QUERY_STRING"):
        location += "?" + request.META["QUERY_STRING"]
    return HttpResponsePermanentRedirect(location, preserve_request=True)  # 308, not 301


def redirects(old_prefix: str, module: str) -> list[URLPattern]:
    """One redirect per route of `module` (mounted at /api/projects/<slug>/)
    that moved, from the same route under `old_prefix` + projects/<slug>/.
    A module whose routes grew since lists the moved ones in
    `moved_urlpatterns`; endpoints added after the move never had an old path."""
    routes = import_module(module)
    return [
        path(f"{old_prefix}projects/<slug:slug>/{entry.pattern}", moved_to_api, {"old_prefix": old_prefix})
        for entry in getattr(routes, "moved_urlpatterns", routes.urlpatterns)
    ]
