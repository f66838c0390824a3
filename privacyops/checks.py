"""Deployment checks (`manage.py check --deploy`) for settings the security defaults rely on."""

from django.conf import settings
from django.core import checks

from privacyops import secret_rules

LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@checks.register(checks.Tags.security, deploy=True)
def check_shared_cache(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The intake rate limit and the API throttles count in the default cache.

    With a cache local to each process, every gunicorn worker counts alone, so the limits multiply by
    the number of processes (and a dummy cache counts nothing): production needs a shared cache.
    """
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in LOCAL_CACHES:
        return [
            checks.Warning(
                "The default cache is local to each process, so rate limits and API throttles are counted "
                "per process, not per site.",
                hint="Set CACHE_URL to a shared cache, e.g. redis://redis:6379/2 (docker-compose does).",
                id="privacyops.W001",
            )
        ]
    return []


SECRET_CHECK_IDS = {
    "SECRET_KEY": "privacyops.E010",
    "DATA_MASTER_KEYS": "privacyops.E011",
    "HASH_KEY": "privacyops.E012",
}


@checks.register(checks.Tags.security, deploy=True)
def check_secrets(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Published development secrets or trivially short keys: one error per variable.

    settings.py already refuses to start with them when DEBUG is off; this check catches them when
    a configuration is vetted with DEBUG on (`DEBUG=1 manage.py check --deploy`) before going live.
    """
    found = secret_rules.problems(
        secret_key=settings.SECRET_KEY,
        data_master_keys=list(getattr(settings, "DATA_MASTER_KEYS", [])),
        hash_key=getattr(settings, "HASH_KEY", ""),
    )
    return [
        checks.Error(
            f"{name} {problem}.",
            hint=f"Set {name} to a fresh random value (see docs/operations.md).",
            id=SECRET_CHECK_IDS[name],
        )
        for name, problem in found
    ]
