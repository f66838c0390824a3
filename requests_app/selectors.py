"""Reads about cases: deadlines, queues for reminders, dashboard figures, the §7102 metrics."""

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from core import clock
from core.csv_safety import safe_row

from . import conf, deadlines
from .models import OPEN_STATUSES, CaseEvent, PrivacyRequest, RequestType, Status

DUE_SOON_DAYS = 7


@dataclass(frozen=True)
class CaseDeadlines:
    received_on: date
    acknowledge_due_on: date | None
    first_due_on: date | None
    due_on: date | None
    extended: bool
    extension_possible_until: date | None  # last day an extension notice may go out
    days_left: int | None
    state: str  # "closed" | "overdue" | "due_soon" | "on_track" | "unknown"
    source: str


def due_state(case: PrivacyRequest, today: date | None = None) -> str:
    """Colour class of a case's deadline; no query (used per changelist row)."""
    if case.status not in OPEN_STATUSES:
        return "closed"
    if case.due_on is None:
        return "unknown"
    today = today or deadlines.business_today()
    if case.due_on < today:
        return "overdue"
    if case.due_on <= today + timedelta(days=DUE_SOON_DAYS):
        return "due_soon"
    return "on_track"


def case_deadlines(case: PrivacyRequest, today: date | None = None) -> CaseDeadlines:
    today = today or deadlines.business_today()
    rule = deadlines.rule_for(regime=case.regime, request_type=case.type)
    can_extend = rule.extension is not None and case.extended_at is None and case.first_due_on is not None
    return CaseDeadlines(
        received_on=deadlines.received_on(case.received_at),
        acknowledge_due_on=case.acknowledge_due_on,
        first_due_on=case.first_due_on,
        due_on=case.due_on,
        extended=case.extended_at is not None,
        extension_possible_until=case.first_due_on if can_extend else None,
        days_left=(case.due_on - today).days if case.due_on else None,
        state=due_state(case, today),
        source=rule.source,
    )


def cases_open() -> QuerySet[PrivacyRequest]:
    return PrivacyRequest.objects.filter(status__in=OPEN_STATUSES)


def cases_overdue(today: date | None = None) -> QuerySet[PrivacyRequest]:
    return cases_open().filter(due_on__lt=today or deadlines.business_today())


def cases_due_within(days: int = DUE_SOON_DAYS, today: date | None = None) -> QuerySet[PrivacyRequest]:
    today = today or deadlines.business_today()
    return cases_open().filter(due_on__gte=today, due_on__lte=today + timedelta(days=days))


def cases_stuck() -> QuerySet[PrivacyRequest]:
    return cases_open().exclude(stuck_reason="")


def cases_unassigned_for_reminder(now: datetime | None = None) -> QuerySet[PrivacyRequest]:
    now = now or timezone.now()
    return (
        cases_open()
        .filter(
            assignee__isnull=True,
            unassigned_reminder_at__isnull=True,
            received_at__lte=now - conf.reminder_unassigned_after(),
        )
        .select_related("subject")
        .order_by("received_at")
    )


def cases_due_soon_for_reminder(today: date | None = None) -> QuerySet[PrivacyRequest]:
    today = today or deadlines.business_today()
    return (
        cases_open()
        .filter(assignee__isnull=False, due_on__gte=today, due_on__lte=today + conf.reminder_before_due())
        .filter(Q(due_reminder_for__isnull=True) | ~Q(due_reminder_for=F("due_on")))
        .select_related("subject", "assignee")
        .order_by("due_on")
    )


def requests_to_know_in_window(*, subject_id: int, at: datetime | None = None) -> int:
    """CCPA §1798.130(b): requests to know in the preceding 12 months (shown on the case)."""
    at = at or timezone.now()
    return PrivacyRequest.objects.filter(
        subject_id=subject_id,
        type__in=[RequestType.ACCESS, RequestType.PORTABILITY],
        received_at__gt=at - timedelta(days=deadlines.CCPA_FREQUENCY_WINDOW_DAYS),
        received_at__lte=at,
    ).count()


def case_timeline(case: PrivacyRequest) -> QuerySet[CaseEvent]:
    return case.events.order_by("at", "id")


# --- dashboard and metrics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFigures:
    open_by_status: dict[str, int]
    due_this_week: int
    overdue: int
    stuck: int
    median_days_to_close: float | None


def _median_days(rows) -> float | None:
    days = [(closed - received).total_seconds() / 86400 for received, closed in rows]
    return round(statistics.median(days), 1) if days else None


def dashboard_figures(today: date | None = None) -> DashboardFigures:
    today = today or deadlines.business_today()
    by_status = dict(
        cases_open().order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    totals = cases_open().aggregate(
        overdue=Count("id", filter=Q(due_on__lt=today)),
        due_week=Count("id", filter=Q(due_on__gte=today, due_on__lte=today + timedelta(days=DUE_SOON_DAYS))),
        stuck=Count("id", filter=~Q(stuck_reason="")),
    )
    since = timezone.now() - timedelta(days=365)
    closed = PrivacyRequest.objects.filter(
        status__in=[Status.COMPLETED, Status.DENIED], closed_at__gte=since
    ).values_list("received_at", "closed_at")
    return DashboardFigures(
        open_by_status={s: by_status.get(s, 0) for s in OPEN_STATUSES},
        due_this_week=totals["due_week"],
        overdue=totals["overdue"],
        stuck=totals["stuck"],
        median_days_to_close=_median_days(closed),
    )


@dataclass(frozen=True)
class MetricsRow:
    request_type: str
    label: str
    received: int
    complied: int  # in whole or in part
    denied: int
    median_days_to_respond: float | None
    mean_days_to_respond: float | None


def request_metrics(*, year: int) -> list[MetricsRow]:
    """11 CCR §7102(a)(1): per request type, received / complied in whole or in part / denied, and the
    median and mean days to substantively respond, for the calendar year.

    The year is the business's (a request received at 20:00 Pacific on 31 December was received that
    year, as its deadlines count it), not UTC's."""
    start, end = clock.year_bounds(year)
    cases = PrivacyRequest.objects.filter(received_at__gte=start, received_at__lt=end)
    counts = {
        row["type"]: row
        for row in cases.order_by()
        .values("type")
        .annotate(
            received=Count("id"),
            complied=Count("id", filter=Q(status=Status.COMPLETED)),
            denied=Count("id", filter=Q(status=Status.DENIED)),
        )
    }
    durations: dict[str, list[float]] = {}
    for request_type, received, closed in cases.filter(
        status__in=[Status.COMPLETED, Status.DENIED], closed_at__isnull=False
    ).values_list("type", "received_at", "closed_at"):
        durations.setdefault(request_type, []).append((closed - received).total_seconds() / 86400)
    rows = []
    for value, label in RequestType.choices:
        c = counts.get(value, {})
        days = durations.get(value, [])
        rows.append(
            MetricsRow(
                request_type=value,
                label=label,
                received=c.get("received", 0),
                complied=c.get("complied", 0),
                denied=c.get("denied", 0),
                median_days_to_respond=round(statistics.median(days), 1) if days else None,
                mean_days_to_respond=round(statistics.fmean(days), 1) if days else None,
            )
        )
    return rows


def request_metrics_csv(*, year: int) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "request_type",
            "label",
            "received",
            "complied_in_whole_or_part",
            "denied",
            "median_days",
            "mean_days",
        ]
    )
    for r in request_metrics(year=year):
        writer.writerow(
            safe_row(
                [
                    r.request_type,
                    r.label,
                    r.received,
                    r.complied,
                    r.denied,
                    r.median_days_to_respond,
                    r.mean_days_to_respond,
                ]
            )
        )
    return out.getvalue()


def subjects_with_open_access_case() -> QuerySet:
    """Subjects with an open access or portability case: retention sweeps keep their records until the
    case closes, so the package returns what was held when the request came in (retention.hooks).

    A queryset, not a list: the sweep embeds it as a subquery in its one statement per window."""
    return (
        PrivacyRequest.objects.filter(
            type__in=(RequestType.ACCESS, RequestType.PORTABILITY), status__in=OPEN_STATUSES
        )
        .order_by()
        .values_list("subject_id", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class ReleasePreview:
    """What approving a release would send, for the officer's preview (no decrypted record data)."""

    to_email: str
    what: str
    lines: list[str]
    text: str = ""


def release_preview(case: PrivacyRequest) -> ReleasePreview | None:
    """The package or notice waiting for approval: recipient, contents per category, or the notice text."""
    from . import gateways
    from .models import AccessPackage
    from .workflow import verification_address

    if case.status != Status.AWAITING_APPROVAL:
        return None
    to_email = verification_address(case)
    if case.type == RequestType.NOTICE_1798_83:
        year = gateways.notice_1798_83_year_covered(received_at=case.received_at)
        text = gateways.notice_1798_83_preview(
            subject_id=case.subject_id, year=year, reference=str(case.reference)
        )
        return ReleasePreview(to_email, f"California Civil Code §1798.83 notice for {year}", [], text)
    package = (
        AccessPackage.objects.filter(case=case, purged_at__isnull=True).order_by("-created_at", "-id").first()
    )
    if package is None:
        return ReleasePreview(to_email, "No package: it was destroyed; fulfil the case again", [])
    lines = [f"Data category: {code}" for code in package.categories or []]
    what = (
        f"A download link to an encrypted package of {package.record_count} record(s) "
        f"({package.size_bytes} bytes, SHA-256 {package.sha256[:16]}…), valid {conf.package_ttl().days} days"
    )
    return ReleasePreview(to_email, what, lines)
