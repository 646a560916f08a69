"""The zero-config default: DEBUG on, SQLite, in-process Celery."""

import os

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403

WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
