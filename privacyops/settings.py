"""The one settings module, driven by environment variables (django-environ).

Every variable is documented in .env.example and the README. Unset variables fall back to the
embedded default: SQLite and eager Celery tasks, so `make run` works with no services at all.
"""

from datetime import timedelta
from pathlib import Path

import environ

from privacyops import secret_rules

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)


def _refuse_to_start(message: str) -> None:
    """One line naming the variable, no traceback: the operator sees what to fix at once."""
    raise SystemExit(f"privacyops refuses to start: {message}")


_DEV_SECRET_KEY = secret_rules.DEV_SECRET_KEY
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # Refuse to start: a guessable key would let anyone forge sessions and signed links.
        _refuse_to_start("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Master keys wrapping each subject's data key, newest first (comma separated, Fernet keys).
# The development default is only for DEBUG; production must set its own.
_DEV_DATA_KEYS = [secret_rules.DEV_DATA_KEY]
DATA_MASTER_KEYS = env.list("DATA_MASTER_KEYS", default=[])
if not DATA_MASTER_KEYS:
    if not DEBUG:
        _refuse_to_start("DATA_MASTER_KEYS must be set when DEBUG is off.")
    DATA_MASTER_KEYS = _DEV_DATA_KEYS
# Key for the keyed hashes (HMAC) that outlive erasure: suppression list, hashed fields.
HASH_KEY = env.str("HASH_KEY", default="") or (secret_rules.DEV_HASH_KEY if DEBUG else "")
if not HASH_KEY:
    _refuse_to_start("HASH_KEY must be set when DEBUG is off.")
if not DEBUG:
    # Published development values and trivially short keys are as good as no key (issue 15 item 4);
    # `check --deploy` reports each of them too (privacyops.checks, privacyops.E010-E012).
    for _name, _problem in secret_rules.problems(
        secret_key=SECRET_KEY, data_master_keys=DATA_MASTER_KEYS, hash_key=HASH_KEY
    ):
        _refuse_to_start(f"{_name} {_problem}.")

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
    "drf_spectacular_sidecar",  # Swagger UI's assets served from our static files, not a CDN
    "django_celery_beat",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "privacyops",
    # Domain apps, bottom of the import stack first (see docs/design.md, "Layers").
    "audit",
    "inventory",
    "notices",
    "connectors",
    "consent",
    "retention",
    "disclosures",
    "requests_app",
    "privacycenter",  # top of the stack: may use requests_app and everything below
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Views marked @public_endpoint (the website's consent endpoint: cross-origin JSON, no session, sign-in,
    # CSRF token or messages) continue behind CommonMiddleware and XFrameOptionsMiddleware only; every
    # other view (the admin, the API, the forms) goes through the whole list below. core/public_endpoints.py.
    "core.public_endpoints.PublicEndpointMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "privacyops.csp.AdminCSPMiddleware",
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
# One trusted-proxy setting for every client-IP decision (core.client_ip): axes' lock-outs, the public
# forms' rate limits and DRF's throttles (core.throttling). AXES_PROXY_COUNT is its former name, still read.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=env.int("AXES_PROXY_COUNT", default=0))
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"

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
# The business's own time zone: receipt dates and "today" for legal deadlines (requests_app.conf;
# docs/regulations.md "Counting conventions"). Storage and logs stay in UTC.
PRIVACY_TIME_ZONE = env("PRIVACY_TIME_ZONE", default="America/Los_Angeles")
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
        "core.api_access.ServiceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Body-size and field-count limits answer as JSON 400 like every other API error (core.api_errors).
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's own, keyed on core.client_ip's bucket: TRUSTED_PROXY_COUNT, IPv6 per /64.
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
    ],
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,  # unused by core.throttling; kept equal for any stock throttle
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
        "intake": env.str("API_THROTTLE_INTAKE", default="10/hour"),
    },
}
# Tokens belong to service accounts (non-staff, explicit permissions): a staff user's token would skip
# the admin's two-factor sign-in, so it is refused unless this is on (core.api_access).
API_ALLOW_STAFF_TOKENS = env.bool("API_ALLOW_STAFF_TOKENS", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "privacyops API",
    "DESCRIPTION": "Inventory, consent, disclosures and privacy requests.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs describe every endpoint and filter: for signed-in users and API clients only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # /api/docs/ works offline and loads no third-party script (drf-spectacular-sidecar).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# Django's Redis cache builds a client per call; ours keeps one per connection pool (core/cache.py).
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "core.cache.RedisCache"
# Unwrapped data keys are used at most this long before being re-read (inventory.crypto); the shared
# cache above carries the key epoch that evicts an erased subject's key from every process at once.
DATA_KEY_CACHE_SECONDS = env.float("DATA_KEY_CACHE_SECONDS", default=30)
DATA_KEY_CACHE_SIZE = env.int("DATA_KEY_CACHE_SIZE", default=100_000)
# Discovery (inventory/discovery.py) prepares its one statement per session; off behind a transaction pooler.
DISCOVERY_PREPARED_STATEMENTS = env.bool("DISCOVERY_PREPARED_STATEMENTS", default=True)
# core.batched (the access package's reference rows) prepares its statements per session; likewise.
BATCHED_PREPARED_STATEMENTS = env.bool("BATCHED_PREPARED_STATEMENTS", default=True)

# The website's consent banner (consent.js, issue 18): see docs/operations.md "Website consent".
CONSENT_WEB_ALLOWED_ORIGINS = env.list(
    "CONSENT_WEB_ALLOWED_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"] if DEBUG else []
)
CONSENT_WEB_REGION_HEADER = env.str("CONSENT_WEB_REGION_HEADER", default="CF-IPCountry")
CONSENT_WEB_DEFAULT_REGION = env.str("CONSENT_WEB_DEFAULT_REGION", default="EU")
_web_rate = env.str("CONSENT_WEB_RATE_LIMIT", default="60/60")  # requests/seconds per client IP
CONSENT_WEB_RATE_LIMIT = tuple(int(part) for part in _web_rate.split("/", 1))
# A web choice's ledger statement is prepared once per database session; off behind a transaction pooler.
CONSENT_WEB_PREPARED_STATEMENTS = env.bool("CONSENT_WEB_PREPARED_STATEMENTS", default=True)

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
# Content-Security-Policy on admin pages (django-csp; privacyops.csp applies it under /admin/): no inline
# or third-party script can run there, so markup slipping out of a preview frame stays inert. The
# admin's own scripts are static files; previews are srcdoc frames, which inherit this policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "privacyops.logging.RedactPersonalData"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # runserver's access log has its own handler in Django's defaults, without our filter: route it here.
    "loggers": {"django.server": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
