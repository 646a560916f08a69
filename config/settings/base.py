"""Settings shared by every environment.

Every value comes from the environment through the small helpers below, with
defaults that work on a fresh checkout: SQLite, Celery tasks run in-process
when no broker is configured, and a development secret key only when DEBUG is
on.  `.env.example` documents each variable.
"""

import os
from datetime import timedelta
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
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from our static files (no CDN)
    "csp",
    "annotator",
    "analysis",
    "inference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.CSPMiddleware",  # django-csp's, header built once; before WhiteNoise, so static files get it too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx: a view answers an htmx request (HX-Request header) with its partial.
    "django_htmx.middleware.HtmxMiddleware",
    # A redirect answering htmx (an expired sign-in while a progress block polls) moves the whole page.
    "config.htmx.HtmxRedirectMiddleware",
    # An account given a one-time password by a lead must choose its own first.
    "annotator.middleware.PasswordChangeRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused for a locked-out account into the lockout page.
    "axes.middleware.AxesMiddleware",
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
# Off, the labelling loop runs the ORM versions of those statements
# (annotator/loop_orm.py): the benchmark's ORM row (bench/serve.py) and the
# reference the tests compare the SQL with. Slower; nothing else changes.
LABELLING_LOOP_SQL = env_bool("LABELLING_LOOP_SQL", True)
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
    # SQLite is the zero-config default, with the web server and a worker
    # writing to one file. WAL lets readers go on beside a writer; the busy
    # timeout makes a writer wait its turn; IMMEDIATE transactions take the
    # write lock at BEGIN, because a deferred transaction that read first
    # cannot wait for it: it fails at once with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes first: it refuses a locked-out username + address before the
# password is even checked (every authenticate() call must pass `request`).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed sign-ins before a username + IP address is locked out.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
# Minutes a lockout lasts (a failure during it starts it again); staff unlock in the admin.
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "annotator.views.accounts.lockout_response"
# Passwords never reach the axes tables or logs.
AXES_SENSITIVE_PARAMETERS = ["password"]
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none,
# REMOTE_ADDR is the client). Lockouts, throttles and security events use it.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "annotator.client_ip.client_ip"

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
# Every file goes through these storages (annotator/storage.py for media,
# inference/storage.py for model files), so a deployment whose web and worker
# processes run on different machines can swap in S3-compatible storage
# (django-storages; see the README, "Files on S3-compatible storage"). "default": images (content-addressed)
# and uploaded datasets waiting for their import, in MEDIA_ROOT. "models": run
# artefacts and offered weights, in MODEL_DIR.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "models": {"BACKEND": "inference.storage.ModelDirStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploaded images live here, named by content hash; they are served only
# through a view that checks project membership, never by the web server.
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
# Trained model artefacts (runs/) and weights an operator offers (weights/);
# the root of the "models" storage. Cached image / text features live in
# MODEL_DIR/features on each worker (a local cache, never shared storage).
MODEL_DIR = Path(env("MODEL_DIR", str(BASE_DIR / "var" / "models")))
# Training and prediction workers keep local copies of images here when the
# media storage is not a local folder (S3): named by content hash, never stale.
IMAGE_CACHE_DIR = Path(env("IMAGE_CACHE_DIR", str(BASE_DIR / "var" / "image-cache")))
# Text encoders (folders with config.json) and image weights (files) an
# operator places in MODEL_DIR/weights/ are offered to leads by name.

# Queued or running jobs a project may have at once; more are refused with a
# message (one lead cannot fill the workers' queue). Experiments count as one
# each, whatever the size of their grid.
MAX_ACTIVE_TRAINING_RUNS_PER_PROJECT = env_int("MAX_ACTIVE_TRAINING_RUNS_PER_PROJECT", 3)
MAX_ACTIVE_EXPERIMENTS_PER_PROJECT = env_int("MAX_ACTIVE_EXPERIMENTS_PER_PROJECT", 1)
MAX_ACTIVE_PREDICTIONS_PER_PROJECT = env_int("MAX_ACTIVE_PREDICTIONS_PER_PROJECT", 2)

# seed_demo writes the demo accounts' logins here (owner-only file) so that
# `manage.py serve` can print them again once the server is up.
DEMO_LOGINS_FILE = Path(env("DEMO_LOGINS_FILE", str(BASE_DIR / "var" / "demo-logins.json")))

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

# Celery. With no broker configured the web process and the worker meet in a
# folder (kombu's filesystem transport): `make demo` runs a real worker beside
# the web server with no Redis. Production sets CELERY_BROKER_URL (Redis).
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
BROKER_DIR = Path(env("BROKER_DIR", str(BASE_DIR / "var" / "broker")))
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "messages"),
        "data_folder_out": str(BROKER_DIR / "messages"),
        "control_folder": str(BROKER_DIR / "control"),
    }
    for _folder in CELERY_BROKER_TRANSPORT_OPTIONS.values():
        Path(_folder).mkdir(parents=True, exist_ok=True)
# Tasks run inside the calling process only where a test asks for it.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
# One queue per kind of job, so a two-hour training run never holds the slot
# an import or a prediction waits for: run `celery worker -Q training` on the
# machines meant for training (GPUs) and `-Q imports,predictions,celery` elsewhere.
CELERY_TASK_ROUTES = {
    "annotator.run_import_job": {"queue": "imports"},
    "inference.train_model": {"queue": "training"},
    "inference.predict_items": {"queue": "predictions"},
}
JOB_QUEUES = ["imports", "training", "predictions", "celery"]
# Periodic tasks, run by `celery beat` (compose's beat service; `make demo`'s worker runs it too).
# The sweep fails jobs whose worker is gone, re-sends jobs the broker never got
# and removes stale files (annotator/jobs.py); `manage.py sweep_jobs` runs it at once.
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {"task": "annotator.sweep_jobs", "schedule": 30.0},
    "check-retrain-policies": {"task": "inference.check_retrain_policies", "schedule": 600.0},
}
# Uploads of failed, unconfirmed or invalid imports are kept this long (a
# failed import can be retried without uploading again), then removed.
IMPORT_UPLOAD_RETENTION_DAYS = env_int("IMPORT_UPLOAD_RETENTION_DAYS", 7)
# Model-based gold (Dawid-Skene, MACE) is refitted by a job this many seconds
# after the first vote that changes it: votes arriving meanwhile join that job.
GOLD_RECOMPUTE_DELAY_S = env_int("GOLD_RECOMPUTE_DELAY_S", 30)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# A Redis outage costs speed, not errors: reads miss and writes are dropped
# (config/cache.py), with short timeouts so a hanging server can't hang a page.
CACHES = {
    "default": (
        {
            "BACKEND": "config.cache.FailSoftRedisCache",
            "LOCATION": env("CACHE_URL"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if env("CACHE_URL")
        # Without Redis, a folder every process shares (web and worker), so
        # import and training progress written by the worker show in the page.
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env("CACHE_DIR", str(BASE_DIR / "var" / "cache")),
        }
    )
}

# Largest JSON body an API request may send, in bytes (larger: a 400).
API_MAX_JSON_BYTES = env_int("API_MAX_JSON_BYTES", 1024 * 1024)

REST_FRAMEWORK = {
    # Token first: a script's request never loads a session (the browser's
    # requests carry no Authorization header and fall through to the session).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotator.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies only (uploads declare their own multipart parser): form encoding cannot
    # carry the nested and typed values the schema documents. With a size and depth limit
    # (a 400, never a RecursionError 500); see annotator/api/parsers.py.
    "DEFAULT_PARSER_CLASSES": ["annotator.api.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotator.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": None,
    # Per-IP for anonymous requests, per user otherwise. The labelling loop's
    # endpoints (next, submit, skip, heartbeat) opt out: they are the hot path,
    # and a throttle costs a cache round trip per request.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "NUM_PROXIES": TRUSTED_PROXY_COUNT or None,
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON_RATE", "120/minute"),
        "user": env("API_THROTTLE_USER_RATE", "1200/minute"),
    },
}

# Content-Security-Policy (django-csp 4) on every response: scripts only from our files, no inline script or eval (inline styles: Plotly, Swagger UI).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# API tokens (annotator.ApiToken, hashed as django-rest-knox does) expire this many days after creation.
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 90)
# Invalid API tokens one IP address may send per window before it is answered 429.
API_TOKEN_FAILURE_LIMIT = env_int("API_TOKEN_FAILURE_LIMIT", 20)
API_TOKEN_FAILURE_WINDOW_SECONDS = env_int("API_TOKEN_FAILURE_WINDOW_SECONDS", 600)

SPECTACULAR_SETTINGS = {
    "TITLE": "Affect Studio API",
    "DESCRIPTION": (
        "Label text-image pairs for desire, sentiment and emotion; measure agreement; train models. "
        "Every endpoint is under /api/. The dashboards' and models' endpoints moved there in 2026-12 from "
        "/analysis/api/projects/{slug}/ and /inference/api/projects/{slug}/, which answer 308 Permanent "
        "Redirect to the same endpoint under /api/projects/{slug}/."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # One name for the gold strategies wherever a field offers them (project, task, recompute status).
    "ENUM_NAME_OVERRIDES": {"GoldStrategyEnum": "annotator.models.Project.GoldStrategy"},
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotator.api.openapi.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refusals_on_one_line": {"()": "config.log_filters.RefusalsOnOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["refusals_on_one_line"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # Django's own loggers go to the root handler only: its default "django"
    # config adds a second console handler under DEBUG, which printed every
    # refusal (and its traceback) twice.
    "loggers": {"django": {"handlers": [], "level": env("LOG_LEVEL", "INFO"), "propagate": True}},
}
