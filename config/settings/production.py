"""Production: every secret and address must come from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured

os.environ["DEBUG"] = os.environ.get("DEBUG", "0")

from .base import *  # noqa: F403
from .base import DATABASES, DEBUG, env, env_bool, env_int

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")
for required in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"):
    if not (os.environ.get(required) or os.environ.get(f"{required}_FILE")):
        raise ImproperlyConfigured(f"{required} must be set in production (see .env.example).")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Production runs on PostgreSQL: DATABASE_URL must be postgres://...")

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Probes from a load balancer or an orchestrator speak plain HTTP to the pod.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECRET_KEY_FALLBACKS = [k for k in env("SECRET_KEY_FALLBACKS").split(",") if k]
