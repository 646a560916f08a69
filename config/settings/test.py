"""Tests run against PostgreSQL (the production database), with a fast hasher."""

import os
from pathlib import Path

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/affect_studio")

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 0
# Tasks run eagerly in the test process unless a test starts a real worker
# (tests/conftest.py: celery_worker_process), which passes the broker's URL.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"
else:
    # A test's worker listens on that test's own queue only (see the fixture),
    # so tasks it sends on must go there too, not to the per-kind queues.
    CELERY_TASK_ROUTES = {}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "affect-studio-tests"}}
# A test whose worker must share the test's cache (tests/analysis/conftest.py: shared_cache) names a folder.
if os.environ.get("TEST_CACHE_DIR"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ["TEST_CACHE_DIR"],
        }
    }
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "models": {"BACKEND": "inference.storage.ModelDirStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# A worker process started by a test is told where that test keeps its files.
MEDIA_ROOT = Path(os.environ.get("TEST_MEDIA_ROOT", BASE_DIR / "var" / "test-media"))
MODEL_DIR = Path(os.environ.get("TEST_MODEL_DIR", BASE_DIR / "var" / "test-models"))
# Tests (and the live server of browser tests) serve static files from the
# app folders through the finders, not from a collectstatic output.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
