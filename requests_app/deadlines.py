"""Legal deadlines as data (docs/design.md, "Rules that are data"), each row cited (docs/regulations.md, by topic).

A case's dates are computed from its receipt date, its regime and, for CCPA, its type:

    rule = rule_for(regime=..., request_type=...)
    due = respond_by(rule, received_on)          # first period
    extended = extended_due(rule, received_on)   # first period + the one allowed extension

Counting conventions (stated once, tested in tests/requests_app/test_deadlines.py):
- Whose date: the business's own time zone (setting PRIVACY_TIME_ZONE, default America/Los_Angeles):
  `received_on(received_at)` and `business_today()`; never the server's or UTC's date.
- Calendar months end on the same day-of-month as receipt; when that day does not exist the period ends
  on the last day of the month (31 January + 1 month = 28/29 February), as Regulation (EEC, Euratom)
  No 1182/71 Art. 3(2)(c) counts GDPR periods. We do not roll a GDPR deadline forward over weekends or
  holidays: the earlier date is always safe.
- Calendar days: the day of receipt is day 0.
- Business days skip Saturdays, Sundays and US federal holidays (5 U.S.C. §6103, observed dates); the
  day of receipt is not counted.
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from core import clock


class Unit(StrEnum):
    MONTHS = "months"
    DAYS = "days"
    BUSINESS_DAYS = "business_days"


@dataclass(frozen=True)
class Period:
    amount: int
    unit: Unit

    def after(self, start: date) -> date:
        if self.unit == Unit.MONTHS:
            return add_months(start, self.amount)
        if self.unit == Unit.BUSINESS_DAYS:
            return add_business_days(start, self.amount)
        return start + timedelta(days=self.amount)

    def __str__(self) -> str:
        unit = str(self.unit).replace("_", " ")
        return f"{self.amount} {unit[:-1] if self.amount == 1 else unit}"


@dataclass(frozen=True)
class DeadlineRule:
    """How long the company has to answer one kind of request under one regime."""

    regime: str
    respond: Period | None  # None: the deadline comes from another app's rule (Cal. 1798.83, see below)
    source: str
    acknowledge: Period | None = None
    extension: Period | None = None  # counted from receipt, on top of `respond`
    max_extensions: int = 0
    # The extension notice must reach the requester inside the first period (GDPR Art. 12(3),
    # 11 CCR §7021(b)).
    extension_notice_inside_first_period: bool = True
    acknowledge_source: str = ""
    extension_source: str = ""
    note: str = ""


M1 = Period(1, Unit.MONTHS)

# Regime codes (mirrored by models.Regime).
GDPR, CCPA, CAL_1798_83, COPPA, OTHER = "gdpr", "ccpa", "cal_1798_83", "coppa", "other"

RULES: dict[str, DeadlineRule] = {
    GDPR: DeadlineRule(
        regime=GDPR,
        respond=M1,
        source="GDPR Art. 12(3) (docs/regulations.md 'GDPR response')",
        extension=Period(2, Unit.MONTHS),
        max_extensions=1,
        extension_source="GDPR Art. 12(3): two further months, requester told with reasons inside month 1",
    ),
    CCPA: DeadlineRule(
        regime=CCPA,
        respond=Period(45, Unit.DAYS),
        source="Cal. Civ. Code §1798.130(a)(2)(A); 11 CCR §7021(b) (docs/regulations.md 'CCPA respond')",
        acknowledge=Period(10, Unit.BUSINESS_DAYS),
        acknowledge_source="11 CCR §7021(a) (docs/regulations.md 'CCPA acknowledge')",
        extension=Period(45, Unit.DAYS),
        max_extensions=1,
        extension_source="11 CCR §7021(b): once, with notice and reasons inside the first 45 days",
    ),
    CAL_1798_83: DeadlineRule(
        regime=CAL_1798_83,
        respond=None,
        source="Cal. Civ. Code §1798.83(b)(1) (docs/regulations.md 'Cal. 1798.83 deadline'); "
        "rule owned by disclosures.rules.notice_1798_83_due",
        note="30 days at a designated address, email or toll-free number; otherwise at most 150 days.",
    ),
    COPPA: DeadlineRule(
        regime=COPPA,
        # Policy §9 says "immediately"; stricter than 16 CFR §312.6, so the policy wins (docs/regulations.md
        # preamble). One calendar day is the operational target; erasure itself runs on confirmation.
        respond=Period(1, Unit.DAYS),
        source="Privacy policy §9 ('immediately delete'); 16 CFR §312.6, §312.10 (docs/regulations.md 'COPPA')",
    ),
    OTHER: DeadlineRule(
        regime=OTHER,
        # Policy §7 promises an answer to general requests without a number; we hold ourselves to the
        # GDPR month so no request waits longer than an EU one.
        respond=M1,
        source="Privacy policy §7 (no statutory period; company standard = GDPR Art. 12(3))",
    ),
}

# CCPA opt-out of sale/sharing has its own, shorter clock (11 CCR §7026(f): 15 business days).
CCPA_OPT_OUT = DeadlineRule(
    regime=CCPA,
    respond=Period(15, Unit.BUSINESS_DAYS),
    source="11 CCR §7026 (docs/regulations.md 'CCPA opt-out of sale/sharing')",
)

# The requests CCPA lets a business refuse past two per 12 months (§1798.130(b)).
CCPA_FREQUENCY_LIMIT = 2
CCPA_FREQUENCY_WINDOW_DAYS = 365
CCPA_FREQUENCY_SOURCE = "Cal. Civ. Code §1798.130(b) (docs/regulations.md 'CCPA frequency')"
# CCPA lookback for access: the preceding 12 months; on request back to 2022-01-01 (§1798.130(a)(2)(B)).
CCPA_LOOKBACK_MONTHS = 12
CCPA_LOOKBACK_FLOOR = date(2022, 1, 1)


# CCPA request to limit the use of sensitive personal information: 15 business days (11 CCR §7027(g)).
CCPA_LIMIT_SENSITIVE = DeadlineRule(
    regime=CCPA,
    respond=Period(15, Unit.BUSINESS_DAYS),
    source="Cal. Civ. Code §1798.121; 11 CCR §7027(g) (docs/regulations.md 'CCPA limit sensitive PI')",
)

# §1798.83(c)(2) opt-out: the statute sets no period; we hold it to the CCPA opt-out's 15 business days
# (it is fulfilled at once anyway: no verification, automatic).
CAL_1798_83_OPT_OUT = DeadlineRule(
    regime=CAL_1798_83,
    respond=Period(15, Unit.BUSINESS_DAYS),
    source="Cal. Civ. Code §1798.83(c)(2) (no statutory period; company standard = 11 CCR §7026(f))",
)


def rule_for(*, regime: str, request_type: str = "") -> DeadlineRule:
    if regime == CCPA and request_type == "opt_out":
        return CCPA_OPT_OUT
    if regime == CCPA and request_type == "limit_sensitive":
        return CCPA_LIMIT_SENSITIVE
    if regime == CAL_1798_83 and request_type == "opt_out":
        return CAL_1798_83_OPT_OUT
    return RULES[regime]


# --- whose date ---------------------------------------------------------------------------------------


def business_zone() -> ZoneInfo:
    return clock.business_zone()


def received_on(received_at: datetime) -> date:
    """The receipt date in the business's time zone (a 16:30 Pacific receipt is that day, not UTC's next)."""
    return clock.business_date(received_at)


def business_today() -> date:
    """Today in the business's time zone: what "overdue" and "due soon" compare with."""
    return clock.business_today()


# --- calendar arithmetic -----------------------------------------------------------------------------


def add_months(start: date, months: int) -> date:
    """Same day-of-month, clamped to the month's last day (Reg. 1182/71 Art. 3(2)(c))."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@lru_cache(maxsize=64)
def federal_holidays(year: int) -> dict[date, str]:
    """Observed US federal holidays (5 U.S.C. §6103) falling in `year`, from the maintained `holidays`
    package rather than a hand-kept table (new holidays such as Juneteenth arrive with an upgrade).

    Only weekdays are kept: a holiday on a Saturday is observed the Friday before, one on a Sunday the
    Monday after (§6103(b); Executive Order 11582), and the weekend date is no business day anyway.
    The next year is asked too: 1 January of year+1 on a Saturday is observed on 31 December of `year`.
    """
    calendar_ = holidays.US(years=[year, year + 1], observed=True)
    return {
        day: name.removesuffix(" (observed)")
        for day, name in sorted(calendar_.items())
        if day.year == year and day.weekday() < 5
    }


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in federal_holidays(day.year)


def add_business_days(start: date, days: int) -> date:
    """The `days`-th business day after `start` (the start day itself never counts)."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if is_business_day(current):
            left -= 1
    return current


def business_days_between(start: date, end: date) -> int:
    """Business days after `start` up to and including `end`."""
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        count += is_business_day(current)
    return count


# --- a case's dates ----------------------------------------------------------------------------------


def respond_by(rule: DeadlineRule, received_on: date) -> date:
    if rule.respond is None:
        raise ValueError(f"The {rule.regime} deadline is computed by its owning app ({rule.source}).")
    return rule.respond.after(received_on)


def acknowledge_by(rule: DeadlineRule, received_on: date) -> date | None:
    return rule.acknowledge.after(received_on) if rule.acknowledge else None


def extended_due(rule: DeadlineRule, received_on: date) -> date | None:
    """The due date once extended: receipt + first period + extension (None: no extension allowed).

    GDPR: receipt + 3 months (not "due date + 2 months", which would lose days after a short February).
    """
    if rule.extension is None or rule.respond is None:
        return None
    if rule.respond.unit == rule.extension.unit == Unit.MONTHS:
        return add_months(received_on, rule.respond.amount + rule.extension.amount)
    return rule.extension.after(respond_by(rule, received_on))
