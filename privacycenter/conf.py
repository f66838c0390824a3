"""The privacy center's settings with their defaults, read in one place."""

from datetime import timedelta

from django.conf import settings


def link_max_age() -> timedelta:
    """How long an emailed sign-in link works (short: it is a bearer credential in a mailbox)."""
    return getattr(settings, "PRIVACY_CENTER_LINK_MAX_AGE", timedelta(minutes=30))


def session_max_age() -> timedelta:
    """How long a signed-in privacy-center session lasts after the link was used."""
    return getattr(settings, "PRIVACY_CENTER_SESSION_MAX_AGE", timedelta(minutes=30))


def link_rate_limit() -> tuple[int, int]:
    """(requests, seconds) per client (IPv4 address or IPv6 /64) for asking a link."""
    return getattr(settings, "PRIVACY_CENTER_LINK_RATE_LIMIT", (10, 3600))


def drp_rate_limit() -> tuple[int, int]:
    """(calls, seconds) per client (IPv4 address or IPv6 /64) on the DRP endpoints. Generous: an agent
    such as Permission Slip files every consumer's request from a few addresses."""
    return getattr(settings, "PRIVACY_CENTER_DRP_RATE_LIMIT", (600, 3600))
