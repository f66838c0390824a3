"""Rate limits that count per client, as `core.client_ip.rate_limit_bucket` names it.

Every limit (the public forms' fixed windows here, DRF's throttles below) keys on the same bucket: the
client address behind TRUSTED_PROXY_COUNT proxies, IPv4 whole and IPv6 per /64, so a visitor can't
step around a limit by rotating through the 2^64 addresses of their own network, and visitors behind
our proxy are not one address. Counters live in Django's default cache (Redis in production).
"""

from django.core.cache import cache
from django.http import HttpRequest
from rest_framework import throttling

from .client_ip import rate_limit_bucket
from .ratelimit import window_count


def _count(key: str, window: int) -> int:
    return window_count(cache, key, window)


def over_limit(request: HttpRequest, scope: str, *, limit: int, window: int) -> bool:
    """Count one hit for this client in `scope` (a fixed window of `window` seconds); True past `limit`."""
    return _count(f"ratelimit:{scope}:{rate_limit_bucket(request)}", window) > limit


def failures_reached(request: HttpRequest, scope: str, *, limit: int) -> bool:
    """Whether this client already failed `limit` times in `scope` (counted by `failure_record`)."""
    return (cache.get(f"ratelimit:{scope}:failures:{rate_limit_bucket(request)}") or 0) >= limit


def failure_record(request: HttpRequest, scope: str, *, window: int) -> None:
    _count(f"ratelimit:{scope}:failures:{rate_limit_bucket(request)}", window)


class ClientBucketIdent:
    """DRF's `get_ident` replaced by the shared bucket (DRF's own keys on the full IPv6 address)."""

    def get_ident(self, request) -> str:
        return rate_limit_bucket(request)


class AnonRateThrottle(ClientBucketIdent, throttling.AnonRateThrottle):
    """API_THROTTLE_ANON per client bucket."""


class UserRateThrottle(ClientBucketIdent, throttling.UserRateThrottle):
    """API_THROTTLE_USER per user (per client bucket when anonymous)."""


class ScopedRateThrottle(ClientBucketIdent, throttling.ScopedRateThrottle):
    """A view's `throttle_scope` rate (e.g. API_THROTTLE_INTAKE) per user, or per client bucket."""
