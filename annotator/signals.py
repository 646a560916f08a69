"""Receivers for events other code announces: sign-ins (Django), lockouts
(django-axes) and saves of user accounts. Each records through the security
service; none holds logic of its own."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import pre_save
from django.dispatch import receiver

from .client_ip import client_ip
from .models import SecurityEvent
from .services import security

User = get_user_model()


def _ip(request) -> str | None:
    return client_ip(request) if request is not None else None


@receiver(user_logged_in, dispatch_uid="annotator-security-sign-in")
def _signed_in(sender, request, user, **kwargs):
    security.record_security_event(kind=SecurityEvent.Kind.SIGN_IN, actor=user, target=user, ip=_ip(request))


@receiver(user_logged_in, dispatch_uid="annotator-password-change-required")
def _remember_one_time_password(sender, request, user, **kwargs):
    """The session remembers a one-time password (annotator.middleware)."""
    if request is not None and hasattr(request, "session") and security.must_change_password(user):
        from .middleware import SESSION_KEY

        request.session[SESSION_KEY] = True


@receiver(user_login_failed, dispatch_uid="annotator-security-sign-in-failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username") or "")[:150]
    target = User.objects.filter(username=username).first() if username else None
    security.record_security_event(
        kind=SecurityEvent.Kind.SIGN_IN_FAILED, target=target, ip=_ip(request), username=username
    )


@receiver(user_locked_out, dispatch_uid="annotator-security-locked-out")
def _locked_out(sender, request, username, ip_address, **kwargs):
    username = str(username or "")[:150]
    target = User.objects.filter(username=username).first() if username else None
    security.record_security_event(
        kind=SecurityEvent.Kind.LOCKED_OUT, target=target, ip=_ip(request), username=username
    )


@receiver(pre_save, sender=User, dispatch_uid="annotator-drop-stale-api-tokens")
def _drop_stale_api_tokens(sender, instance, raw=False, **kwargs):
    """A new password (set_password, by any form or command) or a deactivated
    account ends the user's API tokens. Tokens also check the password at each
    use, so a change that bypasses save() cannot keep one alive."""
    if raw or instance.pk is None:
        return
    if getattr(instance, "_password", None) is not None or not instance.is_active:
        security.drop_stale_api_tokens(instance)
