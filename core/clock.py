"""The business's calendar: whose date "today", a receipt date or a hold's last day means.

Shared by every app that compares a calendar date with the clock (request deadlines, legal holds), so a
date entered by an officer and a date the law counts are read in the same time zone. The setting is
PRIVACY_TIME_ZONE (default America/Los_Angeles; docs/regulations.md, "Counting conventions").
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

DEFAULT_TIME_ZONE = "America/Los_Angeles"


def business_time_zone() -> str:
    """A California business counts its days in Pacific time; UTC would move late-afternoon dates a day."""
    return getattr(settings, "PRIVACY_TIME_ZONE", DEFAULT_TIME_ZONE)


def business_zone() -> ZoneInfo:
    return ZoneInfo(business_time_zone())


def business_time(at: datetime) -> datetime:
    """`at` (aware) as the business's wall clock shows it: the instant, read where the business is."""
    return timezone.localtime(at, business_zone())


def business_date(at: datetime) -> date:
    """The calendar date of `at` in the business's time zone (16:30 Pacific is that day, not UTC's next)."""
    return business_time(at).date()


def business_today() -> date:
    return business_date(timezone.now())


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[start, end) of a calendar year in the business's time zone: a year counted as its dates are."""
    zone = business_zone()
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)
