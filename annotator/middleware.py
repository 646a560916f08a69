"""Request middleware of the annotator app."""

from __future__ import annotations

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

# The session remembers, from sign-in (annotator.signals), that the account
# signs in with a one-time password: no query per request on the labelling loop.
SESSION_KEY = "must_change_password"
MESSAGE = "You signed in with a one-time password from a project lead. Choose your own password to continue."


class PasswordChangeRequiredMiddleware:
    """Until an account given a one-time password has chosen its own, every
    page redirects to the password-change page and the API answers 403
    saying why. Signing out, the password pages and static files stay open.
    (API tokens need no check: an account can only make one from a page, and
    a token dies when its owner's password changes.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.session.get(SESSION_KEY) and request.user.is_authenticated and not self._open(request.path):
            # The JSON API, and its old prefixes (now redirects to it): JSON, not a page.
            if request.path.startswith(("/api/", "/analysis/api/", "/inference/api/")):
                return JsonResponse({"detail": MESSAGE, "code": "password_change_required"}, status=403)
            messages.warning(request, MESSAGE)
            return redirect(reverse("password_change"))
        return self.get_response(request)

    @staticmethod
    def _open(path: str) -> bool:
        from django.conf import settings

        allowed = (reverse("password_change"), reverse("password_change_done"), reverse("logout"), reverse("login"))
        return (
            path in allowed or path.startswith(settings.STATIC_URL) or path in ("/favicon.ico", "/healthz", "/readyz")
        )
