"""The production-like settings both website-consent benches run under (DEBUG off, secrets drawn for this
run only, Redis cache, the bench origin allowed, the rate limit out of the way). No Django import: the
profile applies them before django.setup()."""

import base64
import os
import secrets

ORIGIN = "https://www.example.com"


def production_settings(*, allowed_hosts: str) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_MASTER_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "HASH_KEY": secrets.token_urlsafe(32),
        "DJANGO_SETTINGS_MODULE": "web_consent_site",
        "CONN_MAX_AGE": "600",
        "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/5"),
        "CONSENT_WEB_ALLOWED_ORIGINS": ORIGIN,
        "CONSENT_WEB_RATE_LIMIT": "100000000/60",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": allowed_hosts,
    }
