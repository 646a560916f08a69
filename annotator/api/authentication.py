"""API authentication."""

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.throttling import BaseThrottle

from .. import selectors
from ..services import security


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>` against the hashed ApiToken table.

    It runs on every request of the labelling loop, so a valid token costs
    one query (token joined to user) and, at most once a minute, a write of
    its last use. Invalid tokens are counted per client address (in the cache,
    on the failure path only) and answered 429 past API_TOKEN_FAILURE_LIMIT.
    `request.auth` is the ApiToken."""

    def authenticate(self, request):
        self._request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        now = timezone.now()
        token = selectors.get_api_token(key, now)
        if token is None:
            self._count_failure()
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        security.touch_api_token(token, now)
        return token.user, token

    def _count_failure(self) -> None:
        window = settings.API_TOKEN_FAILURE_WINDOW_SECONDS
        cache_key = f"api-token-failures:{BaseThrottle().get_ident(self._request)}"
        # add() starts the window; incr() counts within it (atomic on Redis).
        cache.add(cache_key, 0, timeout=window)
        try:
            failures = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=window)
            failures = 1
        if failures > settings.API_TOKEN_FAILURE_LIMIT:
            raise exceptions.Throttled(
                wait=window, detail=str(_("Too many invalid API tokens from your address; try again later."))
            )
