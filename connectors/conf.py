"""The connectors' settings with their defaults, read in one place."""

from django.conf import settings


def row_cap_default() -> int:
    return int(getattr(settings, "CONNECTORS_ROW_CAP", 10_000))


def max_erasure_passes() -> int:
    """Erasure re-traverses after a truncated pass; this bounds the passes of one run."""
    return int(getattr(settings, "CONNECTORS_MAX_ERASURE_PASSES", 20))


def http_timeout_seconds() -> float:
    return float(getattr(settings, "CONNECTORS_HTTP_TIMEOUT", 10.0))


def http_max_retries() -> int:
    return int(getattr(settings, "CONNECTORS_HTTP_MAX_RETRIES", 4))


def http_max_retry_after_seconds() -> float:
    """A Retry-After longer than this fails the attempt (the Celery retry takes over) instead of sleeping."""
    return float(getattr(settings, "CONNECTORS_HTTP_MAX_RETRY_AFTER", 30.0))
