"""The inventory app's settings, read in one place (set from the environment in privacyops/settings.py).

Read on every call, not at import: key rotation and tests change them at run time.
"""

from django.conf import settings


def data_master_keys() -> tuple[str, ...]:
    """DATA_MASTER_KEYS: the Fernet master keys that wrap each subject's data key, newest first.

    No default: an empty tuple makes every wrap/unwrap fail with ImproperlyConfigured.
    """
    return tuple(getattr(settings, "DATA_MASTER_KEYS", ()))


def demo_seeding_allowed() -> bool:
    """Demo data may be seeded without --force only when DEBUG is on (default off)."""
    return bool(getattr(settings, "DEBUG", False))


def data_key_cache_seconds() -> float:
    """DATA_KEY_CACHE_SECONDS: how long an unwrapped data key is used before re-reading it (default 30).

    The bound that evicts keys of erased subjects even when the shared key epoch can't be reached.
    """
    return float(getattr(settings, "DATA_KEY_CACHE_SECONDS", 30))


def data_key_cache_size() -> int:
    """DATA_KEY_CACHE_SIZE: unwrapped data keys a process keeps (default 100,000, about 0.55 KB each).

    A key not kept is unwrapped again (Fernet, HKDF: ~16 µs) the next time a batch needs it; bulk
    consent ingest over a population larger than this pays that for most of its rows.
    """
    return int(getattr(settings, "DATA_KEY_CACHE_SIZE", 100_000))


def discovery_prepared_statements() -> bool:
    """DISCOVERY_PREPARED_STATEMENTS: run discovery's one statement as a prepared statement (default on).

    Turn off behind a pooler in transaction mode (PgBouncer before 1.21): it may run EXECUTE on a
    session that never saw the PREPARE.
    """
    return bool(getattr(settings, "DISCOVERY_PREPARED_STATEMENTS", True))
