"""The case primitives every use case shares: lock a case, move it, write a few fields, record an event.

Status changes are guarded (`filter(pk=..., status=EXPECTED).update(...)`), so two officers or two
workers can't both move a case; each change writes a CaseEvent and an audit event in one transaction.
These live in one public module so the use-case modules under `services/` never reach into each
other's private helpers (docs/design.md, "Layout").
"""

import json
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory import bulk, crypto

from . import conf, gateways, policy
from .models import CaseEvent, PrivacyRequest, RequesterKind, Status

STATUS_SALT = "requests_app.status"


def lock_case(case: PrivacyRequest | int) -> PrivacyRequest:
    """Re-read the case under a row lock; `of=("self",)` so the subject row is not locked with it
    (erasure, consent and other cases of the same subject must not queue behind this one)."""
    pk = case if isinstance(case, int) else case.pk
    return PrivacyRequest.objects.select_for_update(of=("self",)).select_related("subject").get(pk=pk)


def seal_note(event: CaseEvent, note: str) -> str:
    """Free text may hold personal data: it is sealed under the subject's key (crypto-erased with it),
    bound to its timeline row, whose id is reserved here before the insert."""
    if not note:
        return ""
    try:
        key = crypto.key_for_subject(event.subject_id)
    except crypto.KeyDestroyed as exc:
        raise ValidationError(
            "This subject was erased: free-text notes can no longer be stored for the case. "
            "Record the fact without personal data in the case's outcome instead."
        ) from exc
    if event.pk is None:
        event.pk = bulk.reserve_ids(CaseEvent, 1)[0]
    return crypto.seal_field(key, event, "note", note)


def case_event(
    *,
    case: PrivacyRequest,
    kind: str,
    summary: str,
    actor: Actor = None,
    note: str = "",
    details: dict | None = None,
    from_status: str = "",
    to_status: str = "",
) -> CaseEvent:
    """Append to the case's timeline and to the audit chain (summary and details: codes and ids only)."""
    details = json.loads(json.dumps(details or {}, default=str))
    event = CaseEvent(
        case=case,
        subject_id=case.subject_id,
        at=timezone.now(),
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor=actor if hasattr(actor, "pk") else None,
        actor_label=actor_label(actor),
        summary=summary[:300],
        details=details,
    )
    event.note = seal_note(event, note)
    event.save(force_insert=True)
    audit_record(
        action=f"request.{kind}",
        actor=actor,
        target=case,
        subject_id=case.subject_id,
        details={"reference": str(case.reference), "event_id": event.pk, **details},
    )
    return event


def transition(
    case: PrivacyRequest,
    to: str,
    *,
    actor: Actor,
    summary: str = "",
    note: str = "",
    details: dict | None = None,
    **updates: Any,
) -> PrivacyRequest:
    """Move a case from its current status to `to`, refusing what policy.TRANSITIONS does not allow."""
    current = case.status
    if to not in policy.TRANSITIONS[current]:
        raise ValidationError(
            f"A case that is '{Status(current).label}' can't become '{Status(to).label}'.", code="transition"
        )
    now = timezone.now()
    fields = {"status": to, "status_changed_at": now, "updated_at": now, **updates}
    if to in (Status.COMPLETED, Status.DENIED, Status.WITHDRAWN):
        fields.setdefault("closed_at", now)
    moved = PrivacyRequest.objects.filter(pk=case.pk, status=current).update(**fields)
    if not moved:
        raise ValidationError(
            "Someone else changed this case meanwhile; reload it and try again.", code="concurrent"
        )
    for name, value in fields.items():
        setattr(case, name, value)
    case_event(
        case=case,
        kind=CaseEvent.Kind.TRANSITION,
        summary=summary or f"{Status(current).label} → {Status(to).label}",
        actor=actor,
        note=note,
        details=details,
        from_status=current,
        to_status=to,
    )
    return case


def update_case(case: PrivacyRequest, **fields: Any) -> None:
    """Write a few fields without touching the rest (never `save()` a case: erasure may have blanked it)."""
    fields["updated_at"] = timezone.now()
    PrivacyRequest.objects.filter(pk=case.pk).update(**fields)
    for name, value in fields.items():
        setattr(case, name, value)


def require_open(case: PrivacyRequest, action: str) -> None:
    """A closed case is evidence: nothing about it changes any more."""
    if not case.is_open:
        raise ValidationError(f"The case is {Status(case.status).label.lower()}: it can't be {action}.")


def require_reason(reason: str, what: str) -> str:
    """Decisions that reach the requester or the record need words; returns the stripped reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Give a reason for {what}."})
    return reason


def absolute_url(path: str) -> str:
    """Links in notices leave the site: they need the public origin (settings.SITE_URL)."""
    return conf.site_url() + path


def status_link(case: PrivacyRequest) -> str:
    """The requester's signed status page (the case reference, never a sequential id)."""
    token = signing.dumps({"r": str(case.reference)}, salt=STATUS_SALT)
    return absolute_url(reverse("requests_app:status", args=[token]))


def verification_address(case: PrivacyRequest) -> str:
    """Parents verify themselves; everyone else proves control of the subject's address on file."""
    if case.requester_kind == RequesterKind.PARENT:
        return case.requester_email
    return case.subject.email or case.requester_email


def send_case_notice(
    *,
    case: PrivacyRequest,
    kind: str,
    key: str,
    context: dict | None = None,
    to_email: str | None = None,
    actor: Actor = None,
):
    """Enqueue a notice through the outbox (in this transaction) and put it on the timeline."""
    base = {
        "reference": str(case.reference),
        # Variables of the notices app's templates (notices.defaults.SAMPLE_CONTEXTS).
        "request_type": policy.REQUEST_PHRASES.get(case.type, case.get_type_display()),
        "regime": policy.REGIME_PHRASES.get(case.regime, case.get_regime_display()),
        "received_on": timezone.localdate(case.received_at).isoformat(),
        "due_on": case.due_on.isoformat() if case.due_on else "",
        "status_url": status_link(case),
        # Greet whoever the mail goes to by the name *they* typed, never the name in our records: the
        # address may be an unverified agent's, and our name on file would confirm a customer (item 2).
        "recipient_name": case.requester_name,
    }
    notice = gateways.notice_enqueue(
        kind=kind,
        idempotency_key=f"requests:{case.reference}:{key}",
        context={**base, **(context or {})},
        subject=case.subject,
        to_email=to_email or case.requester_email or case.subject.email or None,
        actor=actor,
    )
    case_event(
        case=case,
        kind=CaseEvent.Kind.NOTICE,
        summary=f"Notice '{kind}' queued",
        actor=actor,
        details={"notice_kind": kind, "notice_id": getattr(notice, "pk", None)},
    )
    return notice
