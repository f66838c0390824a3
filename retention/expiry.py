"""When a record expires: anchor + period, to the microsecond, the same in Python and in SQL.

Definition (tested): a record whose anchor timestamp is `a` expires at the instant
`a + M calendar months + D days`, months first and clamped to the month's last day (31 January + 1
month = 28/29 February), days then added as 24-hour days in UTC. This is what PostgreSQL computes for
`timestamptz + interval` in a UTC session and what dateutil's relativedelta computes. The record is
expired at that instant and after it (`expires_at <= now`), never before. A record whose anchor is
NULL (say an account that is not closed) never expires by that schedule.

Clamping makes `a -> a + M months` non-monotone within a month's last days, so no single cutoff on the
anchor column is exact. The SQL filter is therefore `a <= L OR (a <= U AND a + period <= now)`: L is a
proven lower bound (every anchor up to L has expired), U = L + 7 days an upper bound (no anchor after
U has); only rows in that one-week band evaluate the interval expression, so the filter stays as cheap
as a plain cutoff and can use an index on the anchor.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import models
from django.db.models import Q, Value
from django.db.models.lookups import LessThanOrEqual

# Anchors later than L + BAND are provably not expired (clamping moves an instant by at most 3 days).
BAND = timedelta(days=7)


@dataclass(frozen=True)
class Period:
    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if self.months < 0 or self.days < 0 or (self.months == 0 and self.days == 0):
            raise ValueError("A retention period must be positive.")

    def expires_at(self, anchor: datetime) -> datetime:
        return anchor + relativedelta(months=self.months) + timedelta(days=self.days)

    def is_expired(self, anchor: datetime | None, now: datetime) -> bool:
        return anchor is not None and self.expires_at(anchor) <= now

    def lower_bound(self, now: datetime) -> datetime:
        """Every anchor at or before this instant has expired at `now`."""
        return now - timedelta(days=self.days) - relativedelta(months=self.months)

    def __str__(self) -> str:
        parts = []
        if self.months:
            years, months = divmod(self.months, 12)
            if years and not months:
                parts.append(f"{years} year{'s' if years > 1 else ''}")
            else:
                parts.append(f"{self.months} month{'s' if self.months > 1 else ''}")
        if self.days:
            parts.append(f"{self.days} day{'s' if self.days > 1 else ''}")
        return " ".join(parts)


class ExpiresAt(models.Func):
    """`anchor + months + days` as a database expression (PostgreSQL and SQLite)."""

    output_field = models.DateTimeField()

    def __init__(self, anchor: str, period: Period):
        self.period = period
        super().__init__(models.F(anchor))

    def as_postgresql(self, compiler, connection, **extra_context):
        anchor, params = compiler.compile(self.source_expressions[0])
        sql = f"({anchor} + make_interval(months => %s) + make_interval(days => %s))"
        return sql, (*params, self.period.months, self.period.days)

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite's '+N months' overflows (31 Jan + 1 month = 3 Mar); clamp to the month's last day to
        # match PostgreSQL. Datetimes are stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' text in UTC. The
        # months and days are validated integers, written as literals.
        a, params = compiler.compile(self.source_expressions[0])
        months, days = int(self.period.months), int(self.period.days)
        first = f"date({a}, 'start of month', '+{months} months')"
        last = f"date({first}, '+1 month', '-1 day')"
        day = f"CAST(strftime('%%d', {a}) AS INTEGER)"
        last_day = f"CAST(strftime('%%d', {last}) AS INTEGER)"
        target = f"(CASE WHEN {day} > {last_day} THEN {last} ELSE date({first}, '+' || ({day} - 1) || ' days') END)"
        sql = f"(date({target}, '+{days} days') || substr({a}, 11))"
        return sql, tuple(params) * sql.count(a) if params else ()

    def as_sql(self, compiler, connection, **extra_context):  # pragma: no cover - other databases
        raise NotImplementedError(f"Retention expiry is not implemented for {connection.vendor}.")


def expired_q(anchor: str, period: Period, now: datetime) -> Q:
    """Rows of a model whose `anchor` field has expired at `now` under `period` (exact, see above)."""
    lower = period.lower_bound(now)
    return Q(**{f"{anchor}__lte": lower}) | (
        Q(**{f"{anchor}__gt": lower, f"{anchor}__lte": lower + BAND}) & Q(_expiry_check(anchor, period, now))
    )


def _expiry_check(anchor: str, period: Period, now: datetime) -> LessThanOrEqual:
    return LessThanOrEqual(ExpiresAt(anchor, period), Value(now, output_field=models.DateTimeField()))
