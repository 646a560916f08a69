"""Domain errors: raised by services with a message a person can act on."""

from django.core.exceptions import PermissionDenied


class DomainError(Exception):
    """A request that breaks a domain rule; views and the API answer 400 with its message."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(PermissionDenied):
    """The user may not do this in this project: always a 403 with the message.

    Deliberately not a DomainError, so the views that show a DomainError as a
    form error never catch it. As a Django PermissionDenied it reaches
    Django's 403 page (templates/403.html shows the message) from any view;
    the API's exception handler answers a JSON 403 with the message.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
