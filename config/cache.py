"""A Redis cache that degrades to "no cache" while Redis is unreachable.

Everything this app keeps in the cache can be recomputed (dashboard payloads,
live import progress, the membership and schema caches), so an outage of the
cache server must cost speed, never a 500: a read misses, a write is dropped,
and one warning a minute goes to the log. Short socket timeouts (set in
settings) keep a hanging server from hanging the page.
"""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
OUTAGES = (RedisConnectionError, RedisTimeoutError, OSError)
WARN_EVERY_S = 60


def _fail_soft(fallback):
    """Run the cache call; on an outage log (at most once a minute) and return fallback(args)."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except OUTAGES:
                now = time.monotonic()
                if now - self._last_warning >= WARN_EVERY_S:
                    self._last_warning = now
                    logger.warning("cache unreachable: %s() answered without the cache", method.__name__, exc_info=True)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


class FailSoftRedisCache(RedisCache):
    _last_warning = float("-inf")

    @_fail_soft(lambda key, default=None, version=None: default)
    def get(self, key, default=None, version=None):
        return super().get(key, default, version)

    @_fail_soft(lambda *a, **k: None)
    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return super().set(key, value, timeout, version)

    @_fail_soft(lambda *a, **k: False)
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return super().add(key, value, timeout, version)

    @_fail_soft(lambda *a, **k: False)
    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return super().touch(key, timeout, version)

    @_fail_soft(lambda *a, **k: False)
    def delete(self, key, version=None):
        return super().delete(key, version)

    @_fail_soft(lambda *a, **k: {})
    def get_many(self, keys, version=None):
        return super().get_many(keys, version)

    @_fail_soft(lambda *a, **k: False)
    def has_key(self, key, version=None):
        return super().has_key(key, version)

    @_fail_soft(lambda data, *a, **k: list(data))
    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return super().set_many(data, timeout, version)

    @_fail_soft(lambda *a, **k: None)
    def delete_many(self, keys, version=None):
        return super().delete_many(keys, version)

    @_fail_soft(lambda *a, **k: False)
    def clear(self):
        return super().clear()
