"""Reads of the notices app: outbox counts, template previews, breach selections, clocks and progress."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from core.clock import business_date, business_today
from inventory.models import DataSubject
from inventory.registry import registry

from . import defaults, rendering, rules
from .context import common_context
from .models import Breach, BreachStatus, Notice, NoticeKind, NoticeStatus, NoticeTemplate
from .templates_lookup import active_template


# --- Outbox ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutboxCounts:
    pending: int  # pending or sending
    failed: int
    sent_today: int


def outbox_counts() -> OutboxCounts:
    """Three index-backed counts (partial open index, status index, sent_at index)."""
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return OutboxCounts(
        pending=Notice.objects.filter(status__in=[NoticeStatus.PENDING, NoticeStatus.SENDING]).count(),
        failed=Notice.objects.filter(status=NoticeStatus.FAILED).count(),
        sent_today=Notice.objects.filter(sent_at__gte=midnight).count(),
    )


# --- Templates ---------------------------------------------------------------------------------------
def template_preview(template: NoticeTemplate) -> rendering.Rendered:
    """The template rendered from its sample context (the admin preview)."""
    return rendering.render(
        subject_template=template.subject_template,
        body_text_template=template.body_text_template,
        body_html_template=template.body_html_template,
        context=defaults.sample_context(template.kind, template.sample_context),
        language=template.language,
    )


# --- Breaches ----------------------------------------------------------------------------------------
def breach_affected_subjects(selection: dict) -> QuerySet[DataSubject]:
    """Subjects matching the stored selection: every filter given must match (categories: holds a
    record of any of them, found through the registry), plus any subject listed by id. Erased subjects
    are not selected, unless their erasure kept data (a legal hold: their data key is still live, so
    the breach may have exposed what was retained; issue 14 item 7). An empty selection selects nobody."""
    subjects = DataSubject.objects.filter(
        Q(erased_at__isnull=True) | Q(data_key__isnull=False, data_key__destroyed_at__isnull=True)
    )
    filters = Q()
    has_filter = False
    codes = selection.get("categories") or []
    if codes:
        has_filter = True
        entries = [e for e in registry if e.category in codes]
        if not any(not e.subject for e in entries):  # the subject's own row holds none of these
            in_category = Q(pk__in=[])
            for entry in entries:
                in_category |= Q(pk__in=entry.all().values(entry.subject_lookup))
            filters &= in_category
    if selection.get("countries"):
        has_filter = True
        filters &= Q(country__in=selection["countries"])
    if selection.get("regions"):
        has_filter = True
        filters &= Q(region__in=selection["regions"])
    if selection.get("created_from"):
        has_filter = True
        filters &= Q(created_at__date__gte=date.fromisoformat(selection["created_from"]))
    if selection.get("created_to"):
        has_filter = True
        filters &= Q(created_at__date__lte=date.fromisoformat(selection["created_to"]))
    listed = Q(pk__in=selection.get("subject_ids") or [])
    if has_filter and selection.get("subject_ids"):
        return subjects.filter(filters | listed)
    if has_filter:
        return subjects.filter(filters)
    if selection.get("subject_ids"):
        return subjects.filter(listed)
    return subjects.none()


@dataclass(frozen=True)
class AffectedCounts:
    total: int
    ca_residents: int
    without_email: int


def breach_affected_counts(selection: dict) -> AffectedCounts:
    found = breach_affected_subjects(selection).aggregate(
        total=Count("pk"),
        ca=Count("pk", filter=Q(country=rules.CA_COUNTRY, region=rules.CA_REGION)),
        no_email=Count("pk", filter=Q(email="")),
    )
    return AffectedCounts(total=found["total"], ca_residents=found["ca"], without_email=found["no_email"])


def breach_delivery_counts(*, breach_id: int) -> dict[str, int]:
    """Notices of the breach by delivery status (one grouped query)."""
    counts = {status: 0 for status in NoticeStatus.values}
    for row in Notice.objects.filter(breach_id=breach_id).values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def _occurred(breach: Breach) -> str:
    def fmt(d: date) -> str:
        return f"{d:%B} {d.day}, {d.year}"

    if breach.occurred_from and breach.occurred_until and breach.occurred_until != breach.occurred_from:
        return f"between {fmt(breach.occurred_from)} and {fmt(breach.occurred_until)}"
    if breach.occurred_from:
        return f"on {fmt(breach.occurred_from)}"
    if breach.occurred_until:
        return f"on or before {fmt(breach.occurred_until)}"
    return ""


def breach_notice_context(breach: Breach) -> dict[str, Any]:
    """What the breach notification template needs: the breach's facts and wording, no subject data."""
    return {
        "breach_reference": str(breach.public_id)[:8],
        # The letter's dates in the business's calendar (a breach found at 20:00 Pacific was found that day).
        "notice_date": business_today(),
        "occurred_description": _occurred(breach),
        "discovered_on": business_date(breach.discovered_at),
        "what_happened": breach.what_happened,
        "information_involved": breach.information_involved,
        "categories": [c.name for c in breach.categories.all()],
        "likely_consequences": breach.likely_consequences,
        "what_we_are_doing": breach.what_we_are_doing,
        "what_you_can_do": breach.what_you_can_do,
        "for_more_information": breach.for_more_information,
        "law_enforcement_delay": breach.law_enforcement_delay,
    }


def breach_sample_notice(breach: Breach) -> rendering.Rendered:
    """The notice as subjects receive it, without any personal information: the Attorney General
    sample (Cal. Civ. Code §1798.82(f)) and the admin preview."""
    template = active_template(kind=NoticeKind.BREACH_NOTIFICATION)
    context = {
        **common_context(public_id=breach.public_id, subject=None, unsubscribe_url=""),
        **breach_notice_context(breach),
        "notice_reference": "SAMPLE",
    }
    return rendering.render(
        subject_template=template.subject_template,
        body_text_template=template.body_text_template,
        body_html_template=template.body_html_template,
        context=context,
        language=template.language,
    )


@dataclass(frozen=True)
class ClockState:
    breach_id: int
    reference: str
    code: str
    label: str
    action: str
    source: str
    due: datetime
    done_at: datetime | None
    exempt_reason: str
    overdue: bool
    needs_reminder: bool
    admin_url: str

    @property
    def remaining(self) -> timedelta:
        return self.due - timezone.now()


# Remind this long before a clock runs out.
REMINDER_LEAD = {
    "eu_authority": timedelta(hours=24),
    "ca_consumers": timedelta(days=7),
    "ca_ag_sample": timedelta(days=5),
}


def breach_clocks(breach: Breach, *, now: datetime | None = None) -> list[ClockState]:
    """The breach's clocks (notices.rules) with their due time, whether met, and whether overdue."""
    now = now or timezone.now()
    url = reverse("admin:notices_breach_change", args=[breach.pk])
    reference = str(breach.public_id)[:8]
    done = {"eu_authority": breach.authority_notified_at, "ca_consumers": breach_ca_notices_sent_at(breach)}
    exempt = {"eu_authority": breach.authority_exempt_reason.strip(),
              "ca_consumers": breach.ca_notice_exempt_reason.strip()}  # fmt: skip
    states = []
    for clock in rules.BREACH_CLOCKS:
        due = rules.clock_due(clock, breach, now)
        met = done[clock.code]
        running = met is None and not exempt[clock.code]
        states.append(
            ClockState(breach.pk, reference, clock.code, clock.label, clock.consequence, clock.source, due, met,
                       exempt[clock.code], running and now > due,
                       running and now >= due - REMINDER_LEAD[clock.code], url)
        )  # fmt: skip
    if breach.ag_sample_required:
        due = rules.ag_sample_due(breach)
        met = breach.ag_sample_submitted_at
        states.append(
            ClockState(breach.pk, reference, "ca_ag_sample", "California Attorney General sample",
                       "submit a sample notice (no personal information) to the Attorney General",
                       "Cal. Civ. Code §1798.82(f)", due, met, "", met is None and now > due,
                       met is None and now >= due - REMINDER_LEAD["ca_ag_sample"], url)
        )  # fmt: skip
    return states


def breach_ca_notices_sent_at(breach: Breach) -> datetime | None:
    """When the last affected California resident's notice was SENT; None while any is still unsent.

    The 30-day clock (Cal. Civ. Code §1798.82 as amended) is met by notices sent, not by starting to send:
    every notice of the breach to a California resident must be delivered (issue 14 item 13).
    """
    if breach.notify_finished_at is None:
        return None
    residents = Notice.objects.filter(
        breach_id=breach.pk, subject__country=rules.CA_COUNTRY, subject__region=rules.CA_REGION
    )
    if residents.exclude(status=NoticeStatus.SENT).exists():
        return None
    return residents.aggregate(last=Max("sent_at"))["last"] or breach.notify_finished_at


def open_breaches() -> QuerySet[Breach]:
    return Breach.objects.exclude(status=BreachStatus.CLOSED)


def breach_open_clocks() -> list[ClockState]:
    now = timezone.now()
    return [
        state
        for breach in open_breaches()
        for state in breach_clocks(breach, now=now)
        if state.done_at is None and not state.exempt_reason
    ]
