"""One exception handler for every DRF view (all under /api/, settings
REST_FRAMEWORK["EXCEPTION_HANDLER"]): NotAllowed becomes a 403 and domain
errors a 400, each carrying the service's message; anything unexpected is
logged once with its traceback and answered as a JSON 500 with no internals
(not Django's HTML error page)."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ..errors import DomainError, NotAllowed

log = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, NotAllowed):
        return Response({"detail": exc.message}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DomainError):
        body = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        log.error("Unexpected error in %s", view.__class__.__name__ if view else "an API view", exc_info=exc)
        set_rollback()  # as DRF does for its own errors: no half-done ATOMIC_REQUESTS transaction
        response = Response(
            {"detail": "Something went wrong on our side and was logged. Try again, or tell an administrator."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return response
