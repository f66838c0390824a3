"""Settings for bench/web_consent.py's gunicorn: the project's, with web_consent_urls (adds a bare 204 view).

Used only by the benchmark (DJANGO_SETTINGS_MODULE=web_consent_site with bench/ on the path).
"""

from privacyops.settings import *  # noqa: F403

ROOT_URLCONF = "web_consent_urls"
