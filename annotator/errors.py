"""Domain errors: raised by services with a message a person can act on."""


class DomainError(Exception):
    """A request that breaks a domain rule; views and the API answer 400 with its message."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The user may not do this in this project."""
