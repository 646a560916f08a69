import pytest


@pytest.fixture
def shared_cache(settings, tmp_path, monkeypatch):
    """One file cache for the test and the worker it starts (request it before
    celery_worker_process, which passes the environment on): the gold job's
    debounce key lives in the cache both sides read, as in a deployment."""
    folder = str(tmp_path / "shared-cache")
    monkeypatch.setenv("TEST_CACHE_DIR", folder)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": folder}
    }
    return folder
