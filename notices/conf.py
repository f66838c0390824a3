"""The notices app's settings, read in one place, each with its documented default.

Delivery numbers may be tuned per deployment (NOTICES_* settings); the legal numbers live in
notices.rules and may not. The organisation's identity comes from core.organisation (ORGANISATION).
"""

from django.conf import settings


def max_attempts() -> int:
    """NOTICES_MAX_ATTEMPTS (default 5): delivery attempts before a notice is marked failed."""
    return int(getattr(settings, "NOTICES_MAX_ATTEMPTS", 5))


def retry_base_seconds() -> int:
    """NOTICES_RETRY_BASE_SECONDS (default 60): the first backoff after a failed attempt."""
    return int(getattr(settings, "NOTICES_RETRY_BASE_SECONDS", 60))


def retry_max_seconds() -> int:
    """NOTICES_RETRY_MAX_SECONDS (default 3600): the longest backoff between attempts."""
    return int(getattr(settings, "NOTICES_RETRY_MAX_SECONDS", 3600))


def sending_lease_seconds() -> int:
    """NOTICES_SENDING_LEASE_SECONDS (default 15 minutes): how long a claim may stay unrecorded."""
    return int(getattr(settings, "NOTICES_SENDING_LEASE_SECONDS", 15 * 60))


def dispatch_grace_seconds() -> int:
    """NOTICES_DISPATCH_GRACE_SECONDS (default 5 minutes): a queued task that never ran is orphaned."""
    return int(getattr(settings, "NOTICES_DISPATCH_GRACE_SECONDS", 5 * 60))


def smtp_timeout_seconds() -> int:
    """NOTICES_SMTP_TIMEOUT_SECONDS (default 30): the mail connection's timeout."""
    return int(getattr(settings, "NOTICES_SMTP_TIMEOUT_SECONDS", 30))


def reply_to() -> str:
    """NOTICES_REPLY_TO (default none): a Reply-To address for every notice."""
    return getattr(settings, "NOTICES_REPLY_TO", "") or ""


def from_email() -> str:
    """DEFAULT_FROM_EMAIL (Django's): the sender of every notice, and the Message-ID domain."""
    return settings.DEFAULT_FROM_EMAIL


def site_url() -> str:
    """SITE_URL (default http://127.0.0.1:8000): the base of absolute links in notices."""
    return getattr(settings, "SITE_URL", "http://127.0.0.1:8000")


def privacy_office_email() -> str:
    """PRIVACY_OFFICE_EMAIL (default none): receives breach clock reminders; empty sends none."""
    return getattr(settings, "PRIVACY_OFFICE_EMAIL", "") or ""


def hash_key() -> str:
    """HASH_KEY (required): the key of the address hash kept once a subject is erased."""
    return settings.HASH_KEY


def delivery_batch_size() -> int:
    """NOTICES_DELIVERY_BATCH (default 200): notices one worker claims, renders and sends over one
    SMTP connection (bulk enqueue queues them in batches of this size)."""
    return int(getattr(settings, "NOTICES_DELIVERY_BATCH", 200))
