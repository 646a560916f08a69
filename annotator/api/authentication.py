"""API authentication."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .. import selectors


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, reading token and user in one query.

    It runs on every request of the labelling loop. `request.auth` is the
    token's key (nothing here reads the Token row itself)."""

    def authenticate_credentials(self, key):
        user = selectors.get_user_by_token(key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, key
