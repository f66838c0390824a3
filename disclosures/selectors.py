"""Reads of the disclosure log, notices, corrections and exports. No writes (except the settings row's
first creation, which is idempotent and exists only because test flushes and fresh databases lose it)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from core import clock
from core.batched import Slot
from inventory.models import DataSubject, ThirdParty

from . import reference, rules
from .models import (
    CategoryMapping,
    DisclosureBatch,
    DisclosureEvent,
    DisclosureExport,
    DisclosureNoticeRequest,
    DisclosureSettings,
    NoticeCorrection,
    Purpose,
)
from .notice import Business, NoticeContent, ThirdPartyCard, build_content
from .statutory import BY_CODE

# SQLite caps the number of query parameters; PostgreSQL takes one array instead.
_CHUNK = 5000


def disclosure_settings() -> DisclosureSettings:
    """The singleton settings row (seeded by migration 0002; recreated with the policy's defaults)."""
    obj, _ = DisclosureSettings.objects.get_or_create(pk=1, defaults=reference.settings_defaults())
    return obj


@dataclass(frozen=True)
class Requirement:
    """Whether §1798.83 applies to the company, and why (the employee-count gate)."""

    required: bool
    employee_count: int | None
    reason: str
    opt_out_route_enabled: bool


def requirement() -> Requirement:
    s = disclosure_settings()
    if s.employee_count is None:
        reason = (
            "Employee count not set in the §1798.83 settings: treated as 20 or more, so §1798.83 notices "
            "are required."
        )
    elif s.employee_count < rules.EMPLOYEE_THRESHOLD:
        reason = (
            f"Not required: the company has {s.employee_count} employees, fewer than "
            f"{rules.EMPLOYEE_THRESHOLD} (Cal. Civ. Code §1798.83(c)(1))."
        )
    else:
        reason = f"Required: the company has {s.employee_count} employees (20 or more, §1798.83(a))."
    return Requirement(
        required=rules.feature_required(s.employee_count),
        employee_count=s.employee_count,
        reason=reason,
        opt_out_route_enabled=s.opt_out_route_enabled,
    )


def business() -> Business:
    return Business.of(disclosure_settings())


def third_party_cards(ids: Iterable[int] | None = None) -> dict[int, ThirdPartyCard]:
    qs = ThirdParty.objects.all() if ids is None else ThirdParty.objects.filter(pk__in=list(ids))
    return {tp.pk: ThirdPartyCard.of(tp) for tp in qs}


def mapping_index() -> dict[str, dict[str, int]]:
    """{data category code: {field: statutory mask}} from the admin-editable mapping (one query)."""
    index: dict[str, dict[str, int]] = {}
    rows = CategoryMapping.objects.values_list("data_category__code", "field", "statutory_category")
    for code, field, statutory in rows:
        fields = index.setdefault(code, {})
        fields[field] = fields.get(field, 0) | (BY_CODE[statutory].flag if statutory else 0)
    return index


def direct_marketing_disclosures(*, subject_id: int, year: int) -> list[tuple[int, int]]:
    """(third party id, category mask) of a customer's direct-marketing disclosures in a calendar year.

    One query on the (subject, at) index.
    """
    start, end = rules.year_bounds(year)
    return list(
        DisclosureEvent.objects.filter(
            subject_id=subject_id, at__gte=start, at__lt=end, purpose=Purpose.DIRECT_MARKETING
        )
        .values_list("third_party_id", "categories")
        .distinct()
    )


def notice_content(
    *, subject_id: int, year: int, reference: str = "", issued_on: str | None = None
) -> NoticeContent:
    """The §1798.83 notice of one customer for one calendar year, computed from the disclosure log."""
    public_id = DataSubject.objects.values_list("public_id", flat=True).get(pk=subject_id)
    pairs = direct_marketing_disclosures(subject_id=subject_id, year=year)
    return build_content(
        year=year,
        customer_reference=str(public_id),
        disclosures=pairs,
        third_parties=third_party_cards({tp for tp, _ in pairs}),
        business=business(),
        issued_on=issued_on or clock.business_today().isoformat(),
        reference=reference,
    )


@dataclass(frozen=True)
class SubjectCheck:
    found: int
    missing: list[int]
    erased: list[int]


def subjects_check(subject_ids: Sequence[int]) -> SubjectCheck:
    """Do these subjects exist and are they live? One query on PostgreSQL when they all are."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(*) FILTER (WHERE erased_at IS NOT NULL) "
                "FROM inventory_datasubject WHERE id = ANY(%s)",
                [list(subject_ids)],
            )
            found, erased = cursor.fetchone()
        if found == len(subject_ids) and not erased:
            return SubjectCheck(found=found, missing=[], erased=[])
    states: dict[int, bool] = {}
    for i in range(0, len(subject_ids), _CHUNK):
        chunk = subject_ids[i : i + _CHUNK]
        for pk, erased_at in DataSubject.objects.filter(pk__in=chunk).values_list("pk", "erased_at"):
            states[pk] = erased_at is not None
    missing = [i for i in subject_ids if i not in states]
    erased = sorted(i for i, is_erased in states.items() if is_erased)
    return SubjectCheck(found=len(states), missing=missing, erased=erased)


def subject_ids_for_public_ids(public_ids: Sequence[UUID | str]) -> dict[str, int]:
    """{public id (str): subject id} for the ones that exist (used by the API)."""
    found: dict[str, int] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT public_id::text, id FROM inventory_datasubject WHERE public_id = ANY(%s::uuid[])",
                [[str(p) for p in public_ids]],
            )
            return dict(cursor.fetchall())
    for i in range(0, len(public_ids), _CHUNK):
        chunk = [UUID(str(p)) for p in public_ids[i : i + _CHUNK]]
        for public_id, pk in DataSubject.objects.filter(public_id__in=chunk).values_list("public_id", "pk"):
            found[str(public_id)] = pk
    return found


def events_for_subject(*, subject_id: int | Slot) -> QuerySet[DisclosureEvent]:
    """The subject's disclosures, newest first (`subject_id` may be a core.batched.Slot: compiled once)."""
    return DisclosureEvent.objects.filter(subject_id=subject_id).select_related("third_party").order_by("-at")


def batches(*, purpose: str | None = None, third_party_id: int | None = None) -> QuerySet[DisclosureBatch]:
    qs = DisclosureBatch.objects.select_related("third_party").order_by("-id")
    if purpose:
        qs = qs.filter(purpose=purpose)
    if third_party_id:
        qs = qs.filter(third_party_id=third_party_id)
    return qs


def latest_statements_for_year(*, year: int) -> dict[int, DisclosureNoticeRequest]:
    """The last notice each customer was sent for `year` (what they currently believe)."""
    latest: dict[int, DisclosureNoticeRequest] = {}
    for req in DisclosureNoticeRequest.objects.filter(year=year).order_by("subject_id", "id").iterator():
        latest[req.subject_id] = req
    return latest


def corrections_open() -> QuerySet[NoticeCorrection]:
    return NoticeCorrection.objects.filter(
        status__in=[NoticeCorrection.Status.OPEN, NoticeCorrection.Status.LAPSED]
    ).order_by("cure_deadline")


def exports_ready() -> QuerySet[DisclosureExport]:
    return DisclosureExport.objects.filter(status=DisclosureExport.Status.READY)


@dataclass(frozen=True)
class DashboardCounts:
    year: int
    marketing_batches: int
    marketing_members: int
    notices_delivered: int
    repeat_requests: int
    corrections_open: int
    corrections_due_soon: int
    corrections_lapsed: int
    exports_ready: int


def dashboard_counts(*, at: datetime | None = None, due_within_days: int = 14) -> DashboardCounts:
    """The admin index cards: four aggregate queries, whatever the size of the log."""
    now = at or timezone.now()
    year = rules.year_of(now)
    start, end = rules.year_bounds(year)
    marketing = DisclosureBatch.objects.filter(
        purpose=Purpose.DIRECT_MARKETING, at__gte=start, at__lt=end
    ).aggregate(n=Count("id"), members=Sum("member_count"))
    delivered = DisclosureNoticeRequest.objects.filter(
        delivered_at__gte=start, delivered_at__lt=end, kind=DisclosureNoticeRequest.Kind.REQUEST
    ).aggregate(n=Count("id"), repeats=Count("id", filter=Q(repeat_in_year=True)))
    corrections = NoticeCorrection.objects.filter(
        status__in=[NoticeCorrection.Status.OPEN, NoticeCorrection.Status.LAPSED]
    ).aggregate(
        n=Count("id"),
        soon=Count(
            "id",
            filter=Q(
                status=NoticeCorrection.Status.OPEN, cure_deadline__lt=now + timedelta(days=due_within_days)
            ),
        ),
        lapsed=Count("id", filter=Q(status=NoticeCorrection.Status.LAPSED)),
    )
    return DashboardCounts(
        year=year,
        marketing_batches=marketing["n"] or 0,
        marketing_members=marketing["members"] or 0,
        notices_delivered=delivered["n"] or 0,
        repeat_requests=delivered["repeats"] or 0,
        corrections_open=corrections["n"] or 0,
        corrections_due_soon=corrections["soon"] or 0,
        corrections_lapsed=corrections["lapsed"] or 0,
        exports_ready=exports_ready().count(),
    )


def notice_year_due(at: datetime | None = None) -> int:
    """The year the §1798.83 notices requested now must cover: the preceding calendar year (§1798.83(a))."""
    return rules.year_of(at or timezone.now()) - 1


def marketing_disclosures(*, year: int) -> QuerySet[DisclosureEvent]:
    """The log's direct-marketing disclosures in a calendar year (California time): what notices report."""
    start, end = rules.year_bounds(year)
    return DisclosureEvent.objects.filter(purpose=Purpose.DIRECT_MARKETING, at__gte=start, at__lt=end)
