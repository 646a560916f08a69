"""A redirect answering an htmx request moves the whole page.

htmx sends its requests with XMLHttpRequest, which follows a redirect by
itself and swaps in whatever page it lands on: a progress block polling
after the session expired would show the sign-in form inside itself. This
middleware turns the redirect into htmx's own (HX-Redirect), so the browser
goes to the sign-in page (and comes back through its `next`), or to the
password-change page an account must visit first.
"""

from __future__ import annotations

from django_htmx.http import HttpResponseClientRedirect


class HtmxRedirectMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.htmx and response.status_code in (301, 302, 303, 307, 308) and response.has_header("Location"):
            return HttpResponseClientRedirect(response["Location"])
        return response
