"""Recipients: every third party that received the subject's data is told of an erasure, correction
or restriction (GDPR Art. 19; Cal. Civ. Code §1798.105(c)), one tracked notification each."""

import json
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.actors import Actor
from inventory import crypto

from .. import deadlines, gateways
from ..gateways import NoticeKinds
from ..models import CaseEvent, PrivacyRequest, RecipientNotification, RequestType, Status
from ..workflow import case_event, lock_case, require_reason
from .officer_actions import request_complete

RECIPIENT_DETAILS = {
    "erasure": "Please erase every record you received from us about this person and confirm when done.",
    "rectification": "Please correct the records you received from us about this person; we will send "
    "the corrected values through our usual secure channel on request.",
    "restriction": "Please restrict the processing of this person's data you received from us: store it, "
    "but do not otherwise use it until we tell you.",
}


def _identifiers(case: PrivacyRequest) -> dict[str, str]:
    """What a recipient needs to find the person in its own systems, captured before erasure."""
    subject = case.subject
    return {"email": subject.email or case.requester_email, "name": subject.name}


def recipient_notifications_create(
    *, case: PrivacyRequest, action: str, fields_changed: list[str] | None = None
) -> list[RecipientNotification]:
    """One tracked notification per recipient (GDPR Art. 19; §1798.105(c)); tasks run after commit."""
    recipients = list(gateways.recipients_for_subject(subject_id=case.subject_id))
    if not recipients:
        return []
    sealed = crypto.master().encrypt(json.dumps(_identifiers(case)).encode()).decode()
    now = timezone.now()
    rows = []
    for third_party in recipients:
        row, _ = RecipientNotification.objects.get_or_create(
            case=case,
            third_party=third_party,
            action=action,
            defaults={
                "sealed_identifiers": sealed,
                "fields_changed": fields_changed or [],
                "created_at": now,
            },
        )
        rows.append(row)
    case_event(
        case=case,
        kind=CaseEvent.Kind.RECIPIENT,
        summary=f"{len(rows)} recipient(s) to be told of the {action} (GDPR Art. 19)",
        details={"recipients": [r.third_party_id for r in rows], "action": action},
    )
    from ..tasks import notify_recipient

    ids = [r.pk for r in rows if r.state == RecipientNotification.State.PENDING]
    transaction.on_commit(lambda: [notify_recipient.delay(pk) for pk in ids])
    return rows


@transaction.atomic
def recipient_notify(*, notification_id: int) -> str:
    """Send one recipient notification through the outbox; idempotent (a sent one is left alone)."""
    row = (
        RecipientNotification.objects.select_for_update()
        .select_related("case", "case__subject", "third_party")
        .get(pk=notification_id)
    )
    if row.state != RecipientNotification.State.PENDING:
        return row.state
    case, third_party = row.case, row.third_party
    now = timezone.now()
    if not third_party.privacy_contact_email:
        RecipientNotification.objects.filter(pk=row.pk).update(
            state=RecipientNotification.State.NO_CONTACT, sealed_identifiers="", attempts=F("attempts") + 1
        )
        case_event(
            case=case,
            kind=CaseEvent.Kind.RECIPIENT,
            summary=f"{third_party.legal_name} has no privacy contact on file: tell them another way",
            details={"third_party_id": third_party.pk, "state": "no_contact"},
        )
        return RecipientNotification.State.NO_CONTACT
    identifiers = (
        json.loads(crypto.master().decrypt(row.sealed_identifiers.encode())) if row.sealed_identifiers else {}
    )
    notice = gateways.notice_enqueue(
        kind=NoticeKinds.RECIPIENT_NOTIFICATION,
        idempotency_key=f"requests:{case.reference}:recipient:{row.pk}",
        context={
            "reference": str(case.reference),
            "third_party_name": third_party.legal_name,
            "action": row.action,
            "subject_identifiers": [v for v in (identifiers.get("email"), identifiers.get("name")) if v],
            "details": RECIPIENT_DETAILS[row.action]
            + (f" Fields corrected: {', '.join(row.fields_changed)}." if row.fields_changed else ""),
            "respond_by": (deadlines.business_today() + timedelta(days=30)).isoformat(),
            "legal_basis": "GDPR Art. 19; Cal. Civ. Code §1798.105(c)",
            "recipient_name": "",  # addressed to the recipient, not to the subject the notice is about
        },
        # Linked to the subject (issue 14 item 10): once delivered, an erased subject's notice keeps no
        # plaintext (notices.services.delivery.forget_if_subject_erased), like every other notice.
        subject=case.subject,
        to_email=third_party.privacy_contact_email,
    )
    RecipientNotification.objects.filter(pk=row.pk).update(
        state=RecipientNotification.State.SENT,
        sent_at=now,
        notice_id=getattr(notice, "pk", None),
        sealed_identifiers="",
        attempts=F("attempts") + 1,
        last_error="",
    )
    case_event(
        case=case,
        kind=CaseEvent.Kind.RECIPIENT,
        summary=f"{third_party.legal_name} told of the {row.action}",
        details={"third_party_id": third_party.pk, "notice_id": getattr(notice, "pk", None), "state": "sent"},
    )
    return RecipientNotification.State.SENT


def recipient_notify_failed(*, notification_id: int, error: str) -> None:
    RecipientNotification.objects.filter(
        pk=notification_id, state=RecipientNotification.State.PENDING
    ).update(state=RecipientNotification.State.FAILED, last_error=error[:300], attempts=F("attempts") + 1)


@transaction.atomic
def request_complete_restriction(*, case: PrivacyRequest, outcome: str, actor: Actor) -> PrivacyRequest:
    """Restriction/objection: the officer records what now stops; recipients are told (GDPR Art. 19)."""
    outcome = require_reason(outcome, "the outcome (it is sent to the requester)")
    case = lock_case(case)
    if case.type != RequestType.RESTRICTION:
        raise ValidationError("Only restriction/objection cases are completed this way.")
    if case.status != Status.IN_PROGRESS:
        raise ValidationError("Only a verified case that is in progress can be completed.")
    recipient_notifications_create(case=case, action=RecipientNotification.Action.RESTRICTION)
    return request_complete(case=case, actor=actor, outcome_note=outcome)
