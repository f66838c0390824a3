"""The retention app's settings, read in this one place, each with its default.

Functions, not constants: tests and the benchmark change settings at run time, and every caller must
see the current value. Deployment documents these in docs/operations.md (environment variables).
"""

from pathlib import Path

from django.conf import settings

# Records per fan-out task (one `retention.sweep_batch` each) and per transaction (an id window inside
# a task): big enough to keep per-task overhead small, small enough that a crash loses little work and
# row locks are held briefly.
SWEEP_BATCH_ROWS = 250_000
SWEEP_WINDOW_ROWS = 50_000


def sweep_batch_rows() -> int:
    """RETENTION_SWEEP_BATCH_ROWS: records per sweep task (default 250,000)."""
    return int(getattr(settings, "RETENTION_SWEEP_BATCH_ROWS", SWEEP_BATCH_ROWS))


def sweep_window_rows() -> int:
    """RETENTION_SWEEP_WINDOW_ROWS: records per sweep transaction (default 50,000)."""
    return int(getattr(settings, "RETENTION_SWEEP_WINDOW_ROWS", SWEEP_WINDOW_ROWS))


def sweep_report_enabled() -> bool:
    """RETENTION_SWEEP_REPORT: send the privacy officers a report after each sweep (default True)."""
    return bool(getattr(settings, "RETENTION_SWEEP_REPORT", True))


def journal_mirror_dir() -> Path | None:
    """RETENTION_JOURNAL_MIRROR: directory mirroring the erasure journal outside the database, on storage
    a restore does not roll back (default empty: no mirror)."""
    value = getattr(settings, "RETENTION_JOURNAL_MIRROR", "")
    return Path(value) if value else None


def privacy_office_email() -> str:
    """PRIVACY_OFFICE_EMAIL (project setting): where sweep reports go; empty means no report."""
    return getattr(settings, "PRIVACY_OFFICE_EMAIL", "") or ""


def site_url() -> str:
    """SITE_URL (project setting): the admin's base address, for links in reports (no trailing slash)."""
    return str(getattr(settings, "SITE_URL", "")).rstrip("/")


def hash_key() -> str:
    """HASH_KEY (project setting, required): the key of the HMAC that replaces values erased by HASH."""
    return settings.HASH_KEY
