"""The disclosures app's settings, read in one place, each with its documented default.

Everything else in the app calls these functions instead of reading `django.conf.settings`, so a
newcomer finds every knob here and tests can override them with pytest-django's `settings` fixture.
"""

from datetime import timedelta
from pathlib import Path

from django.conf import settings


def export_stale_after() -> timedelta:
    """How long a RUNNING export may go without finishing before its worker counts as dead.

    Default: Celery's hard task time limit (`CELERY_TASK_TIME_LIMIT`, 1800 s when unset): no live
    worker can still be building the file after that, so a redelivered task may take it over.
    """
    return timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", 1800))


def exports_root() -> Path:
    """Directory for analyst export files: `MEDIA_ROOT/exports` (the files hold customer references)."""
    return Path(settings.MEDIA_ROOT) / "exports"


def site_url() -> str:
    """Absolute base of the links in a customer's notice (`SITE_URL`, no trailing slash)."""
    return settings.SITE_URL.rstrip("/")
