"""Settings shared by every environment.

Every value comes from the environment through the small helpers below, with
defaults that work on a fresh checkout: SQLite, Celery tasks run in-process
when no broker is configured, and a development secret key only when DEBUG is
on.  `.env.example` documents each variable.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in env(name, default).split(",") if part.strip()]


def env_secret(name: str, default: str = "") -> str:
    """Read NAME, or the file named by NAME_FILE (Docker and Kubernetes secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return env(name, default)


# Models never come from a hub at run time: our machines reach no hub, and a
# silent download would hide a missing local file.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "annotator",
    "analysis",
    "inference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
# The labelling loop's statements run as prepared statements (annotator/sql.py);
# turn off behind a pooler in transaction mode (PgBouncer), which cannot keep them.
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_PREPARED_STATEMENTS:
    # Django turns psycopg's prepared statements off (prepare_threshold=None).
    # Only annotator/sql.py asks for them (prepare=True); a threshold no query
    # reaches keeps every other statement unprepared, as before.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)
    # Plan them once (their SQL is written so that one generic plan fits every
    # parameter): left to choose, PostgreSQL re-plans the queue's head query on
    # every claim. Only prepared statements have plans to reuse.
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c plan_cache_mode=force_generic_plan")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is the zero-config default; WAL and a busy timeout let the web
    # process and an in-process task write without "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "annotator:project-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# plotly.js is served from the copy inside the plotly wheel (never a CDN),
# at static/vendor/plotly/plotly.min.js.
import importlib.util  # noqa: E402

_PLOTLY_DATA = Path(importlib.util.find_spec("plotly").origin).parent / "package_data"
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", _PLOTLY_DATA)]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploaded images live here, named by content hash; they are served only
# through a view that checks project membership, never by the web server.
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
# Trained model artefacts and cached image / text features.
MODEL_DIR = Path(env("MODEL_DIR", str(BASE_DIR / "var" / "models")))
# Text encoders (folders with config.json) and image weights (files) an
# operator places in MODEL_DIR/weights/ are offered to leads by name.

# Queued or running jobs a project may have at once; more are refused with a
# message (one lead cannot fill the workers' queue). Experiments count as one
# each, whatever the size of their grid.
MAX_ACTIVE_TRAINING_RUNS_PER_PROJECT = env_int("MAX_ACTIVE_TRAINING_RUNS_PER_PROJECT", 3)
MAX_ACTIVE_EXPERIMENTS_PER_PROJECT = env_int("MAX_ACTIVE_EXPERIMENTS_PER_PROJECT", 1)
MAX_ACTIVE_PREDICTIONS_PER_PROJECT = env_int("MAX_ACTIVE_PREDICTIONS_PER_PROJECT", 2)

# Upload limits. DATA_UPLOAD_MAX_MEMORY_SIZE bounds non-file request bodies;
# uploaded files above FILE_UPLOAD_MAX_MEMORY_SIZE spill to a temporary file.
MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 1024)
MAX_IMAGE_MB = env_int("MAX_IMAGE_MB", 20)
# Pillow refuses images above this many pixels (decompression bombs).
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000)
# A ZIP whose entries unpack to more than this is refused (zip bombs).
MAX_ZIP_UNCOMPRESSED_MB = env_int("MAX_ZIP_UNCOMPRESSED_MB", 8192)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Celery: with no broker configured, tasks run in-process (eagerly), so the
# app works on a fresh checkout without Redis.
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("CACHE_URL")}
        if env("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "affect-studio"}
    )
}

REST_FRAMEWORK = {
    # Token first: a script's request never loads a session (the browser's
    # requests carry no Authorization header and fall through to the session).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotator.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies only (uploads declare their own multipart parser): form
    # encoding cannot carry the nested and typed values the schema documents.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotator.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Affect Studio API",
    "DESCRIPTION": "Label text-image pairs for desire, sentiment and emotion; measure agreement; train models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "annotator.api_schema.add_error_responses"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
