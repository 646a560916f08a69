"""The signed-in person's own account: API tokens; the sign-in lockout page."""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .. import selectors
from ..errors import DomainError
from ..forms import ApiTokenForm
from ..middleware import SESSION_KEY
from ..services import security


def lockout_message() -> str:
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return (
        "Too many failed sign-ins for this account from your address; "
        f"try again in {minutes} minute{'s' if minutes != 1 else ''} or ask a staff member to unlock it."
    )


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in: the sign-in page again,
    saying why and for how long (each failure during a lockout restarts it)."""
    # Unbound: validating the form again would count one more failed sign-in.
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {"form": form, "next": request.POST.get("next", ""), "lockout_message": lockout_message()}
    return render(request, "registration/login.html", context, status=429)


def _tokens_page(request, form, new_key=None, new_token=None, status=200):
    context = {
        "tokens": selectors.list_api_tokens_of(request.user),
        "form": form,
        "new_key": new_key,
        "new_token": new_token,
        "ttl_days": settings.API_TOKEN_TTL_DAYS,
    }
    return render(request, "annotator/api_tokens.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, key = security.create_api_token(user=request.user, name=form.cleaned_data["name"], request=request)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            # Rendered, not redirected: the key is shown on this one response only.
            return _tokens_page(request, ApiTokenForm(), new_key=key, new_token=token, status=201)
    return _tokens_page(request, form)


@login_required
@require_POST
def api_token_revoke(request, public_id):
    token = get_object_or_404(selectors.list_api_tokens_of(request.user), public_id=public_id)
    security.revoke_api_token(user=request.user, token=token, request=request)
    messages.success(request, f"Token {token.token_key}… revoked; scripts using it now get 401.")
    return redirect("annotator:api-tokens")


@login_required
@require_POST
def api_token_rotate(request, public_id):
    token = get_object_or_404(selectors.list_api_tokens_of(request.user), public_id=public_id)
    new_token, key = security.rotate_api_token(user=request.user, token=token, request=request)
    return _tokens_page(request, ApiTokenForm(), new_key=key, new_token=new_token, status=201)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change; choosing a password also ends the
    "one-time password" restriction (annotator.middleware)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        security.clear_password_change(user=form.user)
        self.request.session.pop(SESSION_KEY, None)
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["one_time_password"] = bool(self.request.session.get(SESSION_KEY))
        return context
