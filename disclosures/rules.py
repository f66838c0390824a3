"""Cal. Civ. Code §1798.83-84 timing and frequency rules, as data (see docs/regulations.md, §1798.83).

The DSAR case type "1798.83 notice" (requests_app) reads these; it never re-implements them.

- Deadline (§1798.83(b)(1)): 30 days for a request received at the designated postal address, email
  address, or toll-free telephone/fax number; otherwise a reasonable time, at most 150 days.
- Frequency (§1798.83(c)(1)): a customer is owed one notice per calendar year; a second request in the
  same calendar year is flagged (the business may answer it, but need not).
- Who (§1798.83(a), (c)(1)): businesses with 20 or more employees.
- Cure (§1798.84(d)): correcting a failure for every affected customer within 90 days of when the
  business knew or should have known of it is a complete defence (unless wilful).
- Calendar years are counted in California time: the statute is Californian and so is the business.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DeadlineRule:
    at_designated_address: bool
    days: int
    source: str
    note: str


DEADLINE_RULES: tuple[DeadlineRule, ...] = (
    DeadlineRule(True, 30, "Cal. Civ. Code §1798.83(b)(1)", "received at a designated address or number"),
    DeadlineRule(False, 150, "Cal. Civ. Code §1798.83(b)(1)", "received elsewhere: reasonable, at most"),
)
NOTICES_PER_CALENDAR_YEAR = 1  # §1798.83(c)(1)
EMPLOYEE_THRESHOLD = 20  # §1798.83(c)(1): fewer than 20 full- or part-time employees are exempt
CURE_PERIOD_DAYS = 90  # §1798.84(d)
CALENDAR_TIMEZONE = ZoneInfo("America/Los_Angeles")


def deadline_rule(*, at_designated_address: bool) -> DeadlineRule:
    return next(r for r in DEADLINE_RULES if r.at_designated_address == at_designated_address)


def notice_1798_83_due(*, received_at: datetime, at_designated_address: bool) -> datetime:
    """When the notice must be sent: received + 30 calendar days (designated address) or + 150."""
    return received_at + timedelta(days=deadline_rule(at_designated_address=at_designated_address).days)


def prior_1798_83_requests(*, subject_id: int, year: int, exclude_reference: str = "") -> int:
    """How many notices for calendar year `year` were already delivered to this customer on request.

    Counts the DisclosureNoticeRequest rows recorded by `notice_1798_83_deliver` (one per delivered
    notice; corrections under §1798.84(d) are not customer requests and don't count). `year` is the
    calendar year the notice covers, i.e. the year before the one the request was received in, so
    "one notice per year covered" is "one request per calendar year" (§1798.83(c)(1)).
    `exclude_reference` leaves out the asking case itself (its `case_reference`).
    """
    from .models import DisclosureNoticeRequest

    qs = DisclosureNoticeRequest.objects.filter(
        subject_id=subject_id, year=year, kind=DisclosureNoticeRequest.Kind.REQUEST
    )
    if exclude_reference:
        qs = qs.exclude(case_reference=exclude_reference)
    return qs.count()


def is_repeat_request(*, subject_id: int, year: int, exclude_reference: str = "") -> bool:
    """The once-per-calendar-year flag (§1798.83(c)(1))."""
    prior = prior_1798_83_requests(subject_id=subject_id, year=year, exclude_reference=exclude_reference)
    return prior >= NOTICES_PER_CALENDAR_YEAR


def feature_required(employee_count: int | None) -> bool:
    """§1798.83 applies from 20 employees. An unknown head count is treated as "applies" (the safe side)."""
    return employee_count is None or employee_count >= EMPLOYEE_THRESHOLD


def cure_deadline(discovered_at: datetime) -> datetime:
    """The §1798.84(d) clock: 90 days from when the business knew or should have known."""
    return discovered_at + timedelta(days=CURE_PERIOD_DAYS)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[start, end) of a calendar year in California time, as aware datetimes."""
    return (
        datetime(year, 1, 1, tzinfo=CALENDAR_TIMEZONE),
        datetime(year + 1, 1, 1, tzinfo=CALENDAR_TIMEZONE),
    )


def year_of(at: datetime) -> int:
    return at.astimezone(CALENDAR_TIMEZONE).year
