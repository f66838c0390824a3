"""The client's IP address, from one trusted-proxy setting shared by every rate limit and django-axes.

TRUSTED_PROXY_COUNT (0): how many reverse proxies we run in front of the app. Each appends the address
it received the request from to X-Forwarded-For, so the client is the entry that many places from the
end; anything before it was written by the client and is ignored. With 0, REMOTE_ADDR is the client.
Used by the public form's rate limit, DRF's throttles (NUM_PROXIES) and axes (AXES_CLIENT_IP_CALLABLE),
so behind a proxy visitors are not all one address, and a forged header moves no limit.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def trusted_proxy_count() -> int:
    return int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)


def client_ip(request: HttpRequest) -> str:
    """The address the outermost trusted proxy saw (REMOTE_ADDR when there is none); "" if unknown."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = trusted_proxy_count()
    if count:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= count:
            try:
                return str(ipaddress.ip_address(forwarded[-count]))
            except ValueError:
                return ""
    return remote


def rate_limit_bucket(request: HttpRequest) -> str:
    """What a rate limit counts: the IPv4 address, or the IPv6 /64 (one subscriber's whole network,
    which hands its devices any of 2^64 addresses)."""
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)
