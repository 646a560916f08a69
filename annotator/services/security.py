"""Security events, API tokens and account deactivation."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import selectors, tokens
from ..client_ip import client_ip
from ..errors import DomainError
from ..models import ApiToken, Profile, Project, SecurityEvent

log = logging.getLogger("annotator.security")

# Seconds between two writes of a token's last_used.
LAST_USED_RESOLUTION = 60


def record_security_event(
    *,
    kind: str,
    actor=None,
    target=None,
    project: Project | None = None,
    ip: str | None = None,
    request=None,
    **detail,
) -> SecurityEvent:
    """Append one SecurityEvent (and log it). `request` supplies `ip` when
    not given; `detail` holds a few short JSON values (never a secret)."""
    if kind not in SecurityEvent.Kind.values:
        raise ValueError(f"Unknown security event kind {kind!r}")
    if ip is None and request is not None:
        ip = client_ip(request)
    actor = actor if actor is not None and actor.is_authenticated else None
    event = SecurityEvent.objects.create(kind=kind, actor=actor, target=target, project=project, ip=ip, detail=detail)
    log.info(
        "security event %s actor=%s target=%s project=%s ip=%s %s",
        kind,
        getattr(actor, "pk", None),
        getattr(target, "pk", None),
        getattr(project, "pk", None),
        ip,
        detail,
    )
    return event


@transaction.atomic
def create_api_token(*, user, name: str = "", request=None) -> tuple[ApiToken, str]:
    """A new token for `user`; returns (row, key). The key is never stored:
    show it once."""
    if not user.is_active:
        raise DomainError("An inactive account cannot hold API tokens.")
    name = (name or "").strip()
    if len(name) > 100:
        raise DomainError("A token's name is at most 100 characters.", field="name")
    raw = tokens.new_key()
    token = ApiToken.objects.create(
        digest=tokens.hash_key(raw),
        token_key=raw[: tokens.TOKEN_KEY_LENGTH],
        user=user,
        name=name,
        password_stamp=tokens.password_stamp(user.password),
        expiry=timezone.now() + timedelta(days=settings.API_TOKEN_TTL_DAYS),
    )
    record_security_event(
        kind=SecurityEvent.Kind.TOKEN_CREATED,
        actor=user,
        target=user,
        request=request,
        token=token.token_key,
        name=name,
    )
    return token, raw


@transaction.atomic
def revoke_api_token(*, user, token: ApiToken, request=None) -> None:
    """Delete `token`, which must be `user`'s own (or `user` is staff)."""
    if token.user_id != user.pk and not user.is_staff:
        raise DomainError("That token is not yours.")
    ApiToken.objects.filter(pk=token.pk).delete()
    record_security_event(
        kind=SecurityEvent.Kind.TOKEN_REVOKED,
        actor=user,
        target=token.user,
        request=request,
        token=token.token_key,
        name=token.name,
    )


@transaction.atomic
def rotate_api_token(*, user, token: ApiToken, request=None) -> tuple[ApiToken, str]:
    """Replace `token`, which must be `user`'s own (only its owner may see
    the new key), by a new one with the same name; returns (row, key)."""
    if token.user_id != user.pk:
        raise DomainError("That token is not yours.")
    revoke_api_token(user=user, token=token, request=request)
    return create_api_token(user=user, name=token.name, request=request)


def touch_api_token(token: ApiToken, now: datetime) -> None:
    """Record that `token` was used, at most once per LAST_USED_RESOLUTION:
    the labelling loop authenticates every request with it."""
    if token.last_used is not None and (now - token.last_used).total_seconds() < LAST_USED_RESOLUTION:
        return
    # Conditional, so concurrent requests of one client write once.
    ApiToken.objects.filter(pk=token.pk).exclude(last_used__gt=now - timedelta(seconds=LAST_USED_RESOLUTION)).update(
        last_used=now
    )
    token.last_used = now


def drop_stale_api_tokens(user) -> int:
    """Delete the tokens `user` may no longer use: all of them when the account
    is inactive, else those made before the current password. Returns how many."""
    stale = ApiToken.objects.filter(user=user)
    if user.is_active:
        stale = stale.exclude(password_stamp=tokens.password_stamp(user.password))
    return stale.delete()[0]


@transaction.atomic
def require_not_the_last_lead(user) -> None:
    """A project never loses its last active lead: refuse to deactivate them."""
    led_alone = [project.name for project in selectors.list_projects_led_only_by(user)]
    if led_alone:
        raise DomainError(
            f"{user.username} is the only active lead of {', '.join(led_alone)}; make someone else lead first."
        )


def deactivate_account(*, actor, user, request=None) -> None:
    """Turn `user`'s account off: no sign-in, and every API token is deleted."""
    if user.pk == getattr(actor, "pk", None):
        raise DomainError("You cannot deactivate your own account.")
    if not user.is_active:
        return
    require_not_the_last_lead(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    drop_stale_api_tokens(user)
    record_security_event(kind=SecurityEvent.Kind.ACCOUNT_DEACTIVATED, actor=actor, target=user, request=request)


@transaction.atomic
def require_password_change(*, user) -> None:
    """The account signs in with a password someone else chose (a lead's
    one-time password): until its owner picks their own it may do nothing else."""
    Profile.objects.update_or_create(user=user, defaults={"must_change_password": True})


@transaction.atomic
def clear_password_change(*, user) -> None:
    """Its owner chose a password (or it is a demo account, meant to be tried at once)."""
    Profile.objects.filter(user=user, must_change_password=True).update(must_change_password=False)


def must_change_password(user) -> bool:
    return Profile.objects.filter(user=user, must_change_password=True).exists()
