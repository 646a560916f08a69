"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging


class RefusalsOnOneLine(logging.Filter):
    """A refused request (a 4xx: 403 Permission denied, 404, 400) is a normal
    event, not a fault: log it as its one line ("Forbidden (Permission
    denied): /path"), without the traceback Django attaches. Server errors
    (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.name.startswith("django.") and status is not None and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
