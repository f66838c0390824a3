"""The one place where cases call the apps they fulfil through (docs/design.md, cross-app contracts).

Every call into notices, consent, retention and disclosures goes through a function here, with the
contract's exact signature, so a newcomer finds the seams in one file and tests can see them. Imports are
local: requests_app sits on top of the stack and these apps load before it, but keeping the import at the
call site keeps start-up free of cycles.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from core.actors import Actor
from core.batched import ArraySlot, Bound, Slot, Statement
from inventory.models import DataSubject, System, ThirdParty

if TYPE_CHECKING:
    from retention.models import RetentionSchedule


# Notice kinds (notices.models.NoticeKind values, docs/design.md, cross-app contracts).
class NoticeKinds:
    ACKNOWLEDGED = "request_acknowledged"
    VERIFICATION = "identity_verification"
    COMPLETED = "request_completed"
    EXTENDED = "deadline_extended"
    DENIED = "request_denied"
    ERASURE_CONFIRMATION = "erasure_confirmation"
    ERASURE_PARTIAL = "erasure_partial"
    ASSIGNEE_REMINDER = "assignee_reminder"
    RECIPIENT_NOTIFICATION = "recipient_notification"


def notice_enqueue(
    *,
    kind: str,
    idempotency_key: str,
    context: dict,
    subject: DataSubject | None = None,
    to_email: str | None = None,
    actor: Actor = None,
):
    """notices.services.notice_enqueue: writes the outbox row in the caller's transaction."""
    from notices.services import notice_enqueue as enqueue

    return enqueue(
        kind=kind,
        idempotency_key=idempotency_key,
        context=context,
        subject=subject,
        to_email=to_email,
        actor=actor,
    )


def erase_subject(*, subject_id: int, actor: Actor, reason: str, case_reference: str, minor: bool = False):
    """retention.services.erase_subject: THE erasure engine (holds honoured; returns the certificate)."""
    from retention.services import erase_subject as erase

    return erase(
        subject_id=subject_id, actor=actor, reason=reason, case_reference=case_reference, minor=minor
    )


def legal_hold_place(*, subject_id: int, case_reference: str, reason: str, owner: Any, actor: Actor = None):
    from retention.services import legal_hold_place as place

    return place(
        subject_id=subject_id, case_reference=case_reference, reason=reason, owner=owner, actor=actor
    )


def legal_holds_release_for_case(*, case_reference: str, reason: str, actor: Actor = None) -> int:
    from retention.services import legal_holds_release_for_case as release

    return release(case_reference=case_reference, reason=reason, actor=actor)


def consent_withdraw_purposes(
    *, subject_id: int, purposes: list[str], channel: str, actor: Actor = None, evidence: dict
):
    """Withdraw the purposes together: the person gets one opt-out confirmation naming them all."""
    from consent.services import consent_withdraw_purposes as withdraw

    # propagate=False: the case plans its own per-case opt-out runs (connectors_opt_out).
    return withdraw(
        subject_id=subject_id, purposes=purposes, channel=channel, actor=actor, evidence=evidence,
        propagate=False,
    )  # fmt: skip


def notice_1798_83_deliver(*, subject_id: int, year: int, case_reference: str, actor: Actor = None):
    from disclosures.services import notice_1798_83_deliver as deliver

    return deliver(subject_id=subject_id, year=year, case_reference=case_reference, actor=actor)


def notice_1798_83_due(*, received_at: datetime, at_designated_address: bool) -> datetime:
    """The 30/150-day rule of Cal. Civ. Code §1798.83(b)(1) is owned by disclosures.rules."""
    from disclosures.rules import notice_1798_83_due as due

    return due(received_at=received_at, at_designated_address=at_designated_address)


def notice_1798_83_year_covered(*, received_at: datetime) -> int:
    """The calendar year a notice requested at `received_at` covers (the preceding one, California time)."""
    from disclosures.rules import year_of

    return year_of(received_at) - 1


def prior_1798_83_requests(*, subject_id: int, year: int, exclude_reference: str = "") -> int:
    from disclosures.rules import prior_1798_83_requests as prior

    return prior(subject_id=subject_id, year=year, exclude_reference=exclude_reference)


def recipients_for_subject(*, subject_id: int, system_ids: set[int] | None = None) -> QuerySet[ThirdParty]:
    """Third parties that received this subject's data: told of erasure/rectification (GDPR Art. 19,
    §1798.105(c)).

    Two sources: the disclosures log (every third party the subject's data was disclosed to), and the
    service providers running an external system that holds a registered record of the subject.
    """
    from inventory.selectors import records_for_subject

    if system_ids is None:  # callers that already hold the records pass the systems they saw
        system_ids = set()
        for found in records_for_subject(subject_id):
            system_ids.update(getattr(r, "system_id", None) for r in found.records)
        system_ids.discard(None)
    return _recipients(subject_id, system_ids)


def _recipients(subject_id: int | Slot, system_ids: Collection[int] | Slot) -> QuerySet[ThirdParty]:
    from disclosures.selectors import events_for_subject

    provider_ids = System.objects.filter(
        pk__in=system_ids, kind=System.Kind.EXTERNAL, provider__isnull=False
    ).values("provider_id")
    disclosed_ids = events_for_subject(subject_id=subject_id).order_by().values("third_party_id")
    return ThirdParty.objects.filter(Q(pk__in=provider_ids) | Q(pk__in=disclosed_ids)).order_by("legal_name")


_RECIPIENTS = Statement(_recipients, Slot("subject_id"), ArraySlot("system_ids", of=System._meta.pk))


def recipients_query(*, subject_id: int, system_ids: Collection[int]) -> Bound[ThirdParty]:
    """`recipients_for_subject` as one statement of a batch (core.batched.fetch), compiled once."""
    return _RECIPIENTS.bind(subject_id=subject_id, system_ids=system_ids)


def retention_schedules_query() -> Bound[RetentionSchedule]:
    """retention.selectors.active_schedules_query: what `retention_periods_by_category` reads."""
    from retention.selectors import active_schedules_query

    return active_schedules_query()


def retention_periods_by_category(schedules: Iterable[RetentionSchedule]) -> dict[str, list[str]]:
    """How long each category is kept (the active retention schedules, in their order), for the access
    package's README (GDPR Art. 15(1)(d))."""
    found: dict[str, list[str]] = {}
    for schedule in schedules:
        found.setdefault(schedule.category.code, []).append(f"{schedule} ({schedule.citation})")
    return found


def holds_for_subject(*, subject_id: int):
    from retention.selectors import holds_for_subject as holds

    return holds(subject_id=subject_id)


# --- connectors: the company's other systems (one run per case and system) -----------------------------


def case_identities(case) -> dict[str, list[str]]:
    """What other systems look the person up by: the subject's email and phone (ids never leave us)."""
    subject = case.subject
    emails = [e for e in {subject.email_normalized, (case.requester_email or "").strip().lower()} if e]
    if case.requester_kind == "parent":
        emails = [subject.email_normalized] if subject.email_normalized else []
    return {"email": emails, "phone_number": [subject.phone] if subject.phone else []}


def connectors_gate(*, case, action: str, actor: Actor = None) -> None:
    """connectors.services.case_systems_plan + case_systems_settled: start the case's work in every
    connected system (idempotent) and refuse to go on until each one is done or waived."""
    from django.core.exceptions import ValidationError

    from connectors.selectors import case_systems_status
    from connectors.services import case_systems_plan, case_systems_settled

    case_systems_plan(
        case_id=case.pk, action=action, identities=case_identities(case), subject_id=case.subject_id,
        case_due_on=case.due_on, actor=actor,
    )  # fmt: skip
    if case_systems_settled(case_id=case.pk, action=action):
        return
    open_runs = [
        s
        for s in case_systems_status(case_id=case.pk)
        if s.action == action and s.status not in ("done", "waived")
    ]
    failed = [s.system_code for s in open_runs if s.status == "failed"]
    raise ValidationError(
        f"Waiting for {len(open_runs)} other system(s): "
        + ", ".join(f"{s.system_code} ({s.status})" for s in open_runs)
        + (" - retry or waive the failed ones on the case page" if failed else "")
    )


def connectors_status(*, case_id: int) -> list:
    """connectors.selectors.case_systems_status: the per-system panel of the case page."""
    from connectors.selectors import case_systems_status

    return case_systems_status(case_id=case_id)


def connectors_access_results(*, case_id: int) -> tuple[list, list]:
    """connectors.selectors: rows per system and collection, and owners' uploaded exports."""
    from connectors.selectors import case_access_results, case_manual_uploads

    return case_access_results(case_id=case_id), case_manual_uploads(case_id=case_id)


def connectors_opt_out(*, case, actor: Actor = None) -> int:
    """connectors.services.opt_out_propagate: every system with an unsubscribe operation is told (its
    own run, status recorded and retried); the case does not wait, the ledger already took effect."""
    from connectors.services import opt_out_propagate

    runs = opt_out_propagate(
        identities=case_identities(case), subject_id=case.subject_id, case_id=case.pk, actor=actor
    )
    return len(runs)


def notice_1798_83_preview(*, subject_id: int, year: int, reference: str) -> str:
    """The text of the §1798.83 notice `notice_1798_83_deliver` would send now (disclosures renders it)."""
    from disclosures.notice import render_text
    from disclosures.selectors import notice_content

    return render_text(notice_content(subject_id=subject_id, year=year, reference=reference))


def last_erasure_certificate_id(*, subject_id: int) -> int | None:
    """The subject's latest erasure certificate (None: never erased): a package build compares it before
    and after, under the subject's lock, to know whether an erasure ran meanwhile."""
    from retention.models import ErasureCertificate

    return (
        ErasureCertificate.objects.filter(subject_id=subject_id, kind=ErasureCertificate.Kind.SUBJECT)
        .order_by("-id")
        .values_list("pk", flat=True)
        .first()
    )
