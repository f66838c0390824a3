"""The requests app's settings, read in one place, each with the product's default.

settings.py (or the environment through it) may override any of them; nothing else in the app reads
`django.conf.settings` for these names.
"""

from datetime import timedelta
from pathlib import Path

from django.conf import settings


def _setting(name: str, default):
    return getattr(settings, name, default)


def duplicate_window() -> timedelta:
    """REQUESTS_DUPLICATE_WINDOW_DAYS (365): a case of the same subject and type within this is flagged."""
    return timedelta(days=_setting("REQUESTS_DUPLICATE_WINDOW_DAYS", 365))


def verification_max_age() -> timedelta:
    """REQUESTS_VERIFICATION_HOURS (72): how long an identity-verification link works."""
    return timedelta(hours=_setting("REQUESTS_VERIFICATION_HOURS", 72))


def package_ttl() -> timedelta:
    """REQUESTS_PACKAGE_DAYS (14): an access package's download lifetime; then its key is destroyed."""
    return timedelta(days=_setting("REQUESTS_PACKAGE_DAYS", 14))


def package_max_downloads() -> int:
    """REQUESTS_PACKAGE_MAX_DOWNLOADS (5): downloads allowed per package link."""
    return _setting("REQUESTS_PACKAGE_MAX_DOWNLOADS", 5)


def intake_rate() -> tuple[int, int]:
    """REQUESTS_INTAKE_RATE ((5, 3600)): (requests, seconds) per client IP on the public form."""
    return _setting("REQUESTS_INTAKE_RATE", (5, 3600))


def unverified_mail_cap() -> tuple[int, int]:
    """REQUESTS_UNVERIFIED_MAIL_CAP ((3, 86400)): (submissions, seconds) per recipient address on the
    public form. Each submission mails addresses nobody has verified; beyond this the form answers as
    usual but sends (and stores) nothing, so it can't be used to flood someone's mailbox."""
    return _setting("REQUESTS_UNVERIFIED_MAIL_CAP", (3, 86400))


def reminder_unassigned_after() -> timedelta:
    """REQUESTS_REMIND_UNASSIGNED_DAYS (5): an unassigned case is brought to the privacy office."""
    return timedelta(days=_setting("REQUESTS_REMIND_UNASSIGNED_DAYS", 5))


def reminder_before_due() -> timedelta:
    """REQUESTS_REMIND_BEFORE_DUE_DAYS (5): the assignee hears this long before the due date."""
    return timedelta(days=_setting("REQUESTS_REMIND_BEFORE_DUE_DAYS", 5))


def stuck_after() -> timedelta:
    """No heartbeat for this long = the worker died: CELERY_TASK_TIME_LIMIT (1800 s) plus 300 s."""
    return timedelta(seconds=_setting("CELERY_TASK_TIME_LIMIT", 1800) + 300)


def queued_too_long() -> timedelta:
    """REQUESTS_QUEUED_STUCK_MINUTES (60): a queued attempt or notification never picked up is lost."""
    return timedelta(minutes=_setting("REQUESTS_QUEUED_STUCK_MINUTES", 60))


def max_fulfilment_attempts() -> int:
    """REQUESTS_MAX_FULFILMENT_ATTEMPTS (3): after this many lost attempts the case waits for an officer."""
    return _setting("REQUESTS_MAX_FULFILMENT_ATTEMPTS", 3)


def site_url() -> str:
    """SITE_URL (required by settings.py): the public origin links in notices point to."""
    return settings.SITE_URL.rstrip("/")


def privacy_office_email() -> str:
    """PRIVACY_OFFICE_EMAIL (required by settings.py): where unassigned-case reminders go."""
    return settings.PRIVACY_OFFICE_EMAIL


def contact_email() -> str:
    """DEFAULT_FROM_EMAIL: the address the public status page gives for questions."""
    return settings.DEFAULT_FROM_EMAIL


def package_dir() -> Path:
    """MEDIA_ROOT/access_packages: where encrypted access packages are written (created on demand)."""
    path = Path(settings.MEDIA_ROOT) / "access_packages"
    path.mkdir(parents=True, exist_ok=True)
    return path


def release_needs_approval() -> bool:
    """REQUESTS_RELEASE_NEEDS_APPROVAL (True): access, portability and §1798.83 packages leave only after
    an officer approved them from the case page, with a preview of what will be sent (issue 14 item 15)."""
    return bool(_setting("REQUESTS_RELEASE_NEEDS_APPROVAL", True))
