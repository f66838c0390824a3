"""The one settings module, driven by environment variables (django-environ).

Every variable is documented in .env.example and the README. Unset variables fall back to the
embedded default: SQLite and eager Celery tasks, so `make run` works with no services at all.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # Refuse to start: a guessable key would let anyone forge sessions and signed links.
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Master keys wrapping each subject's data key, newest first (comma separated, Fernet keys).
# The development default is only for DEBUG; production must set its own.
_DEV_DATA_KEYS = ["NymaYYQRL5QtIFToAsuHtB7fVeBkwnKPeAqRl1a9cuU="]
DATA_MASTER_KEYS = env.list("DATA_MASTER_KEYS", default=[])
if not DATA_MASTER_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("DATA_MASTER_KEYS must be set when DEBUG is off.")
    DATA_MASTER_KEYS = _DEV_DATA_KEYS
# Key for the keyed hashes (HMAC) that outlive erasure: suppression list, hashed fields.
HASH_KEY = env.str("HASH_KEY", default="") or ("dev-hash-key" if DEBUG else "")
if not HASH_KEY:
    raise ImproperlyConfigured("HASH_KEY must be set when DEBUG is off.")

INSTALLED_APPS = [
    "privacyops.admin_apps.PrivacyAdminConfig",  # django.contrib.admin with two-factor sign-in
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "privacyops",
    # Domain apps, bottom of the import stack first (see docs/design.md, "Layers").
    "audit",
    "inventory",
    "notices",
    "consent",
    "retention",
    "disclosures",
    "requests_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns lock-outs into a clear response.
    "axes.middleware.AxesMiddleware",
]

# Login throttling and lock-out (django-axes): after AXES_FAILURE_LIMIT failures for a username from
# one IP address, sign-in is refused for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Two-factor sign-in for the admin (django-otp, TOTP): required whenever DEBUG is off.
OTP_ADMIN_REQUIRED = env.bool("OTP_ADMIN_REQUIRED", default=not DEBUG)
OTP_TOTP_ISSUER = "privacyops"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # its log lines would carry IP addresses
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0) or None

ROOT_URLCONF = "privacyops.urls"
WSGI_APPLICATION = "privacyops.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"

# Email: EMAIL_URL such as smtp+tls://user:pass@host:587 or consolemail:// (development default).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="privacy@example.com")
# The address at which privacy officers receive operational reports (sweep reports, ...).
PRIVACY_OFFICE_EMAIL = env.str("PRIVACY_OFFICE_EMAIL", default="privacy-office@example.com")
# The controller's identity named in notices, receipts and the §1798.83 notice (core.organisation):
# a JSON object overriding some fields, e.g. {"name": "...", "privacy_email": "..."}; empty keeps the
# privacy policy's identity.
ORGANISATION: dict = env.json("ORGANISATION", default={})
# Directory (outside the database's backups) where every erasure-journal entry is mirrored, so
# `replay_erasures` still knows about erasures made after the backup that a restore brings back.
RETENTION_JOURNAL_MIRROR = env.str("RETENTION_JOURNAL_MIRROR", default="")
# Sweep fan-out: rows per task (one task per model and id range) and rows per short transaction.
RETENTION_SWEEP_BATCH_ROWS = env.int("RETENTION_SWEEP_BATCH_ROWS", default=250_000)
RETENTION_SWEEP_WINDOW_ROWS = env.int("RETENTION_SWEEP_WINDOW_ROWS", default=50_000)
# Base URL used to build absolute links (unsubscribe, verification) in emails. Unset, links follow the
# address `make run PORT=...` serves (PORT, default 8000), so a mailed link opens the running site.
PORT = env.int("PORT", default=8000)
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{PORT}")

# --- Celery --------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# No broker configured: run tasks eagerly in-process (the embedded default).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Periodic tasks live in django-celery-beat's tables: each app declares its defaults (core.schedules),
# `manage.py setup_schedules` installs them, and the admin edits them afterwards.

# --- REST API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token or session only (no basic auth). Token first: an anonymous caller gets 401 with
    # `WWW-Authenticate: Token` from every endpoint, not a bare 403 from some.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
        "intake": env.str("API_THROTTLE_INTAKE", default="10/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "privacyops API",
    "DESCRIPTION": "Inventory, consent, disclosures and privacy requests.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs describe every endpoint and filter: for signed-in users and API clients only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Production hardening (active whenever DEBUG is off) -----------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "privacyops.logging.RedactPersonalData"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
