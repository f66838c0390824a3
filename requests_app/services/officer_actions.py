"""What an officer does to a case by hand: assign, note, extend, deny, withdraw, lookback, fee, and
closing a fulfilled case with the requester told (GDPR Art. 12; 11 CCR §7021)."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.actors import Actor

from .. import deadlines, policy
from ..gateways import NoticeKinds
from ..models import CaseEvent, DenialBasis, PrivacyRequest, Regime, RequestType, Status
from ..workflow import (
    case_event,
    lock_case,
    require_open,
    require_reason,
    send_case_notice,
    transition,
    update_case,
)


@transaction.atomic
def request_assign(*, case: PrivacyRequest, assignee: Any, actor: Actor) -> PrivacyRequest:
    if assignee is not None and not (assignee.is_active and assignee.is_staff):
        raise ValidationError({"assignee": "Cases can only be assigned to active staff users."})
    case = lock_case(case)
    require_open(case, "assigned")
    update_case(case, assignee=assignee)
    case_event(
        case=case,
        kind=CaseEvent.Kind.ASSIGNED,
        summary=f"Assigned to {assignee.get_username()}" if assignee else "Unassigned",
        actor=actor,
        details={"assignee_id": getattr(assignee, "pk", None)},
    )
    return case


@transaction.atomic
def request_note_add(*, case: PrivacyRequest, note: str, actor: Actor) -> CaseEvent:
    note = require_reason(note, "a note (write something)")
    return case_event(case=case, kind=CaseEvent.Kind.NOTE, summary="Note added", actor=actor, note=note)


@transaction.atomic
def request_extend(*, case: PrivacyRequest, reason: str, actor: Actor) -> PrivacyRequest:
    """Extend once, inside the first period, with reasons sent to the requester (GDPR Art. 12(3);
    11 CCR §7021(b))."""
    reason = require_reason(reason, "the extension (it is sent to the requester)")
    case = lock_case(case)
    require_open(case, "extended")
    rule = deadlines.rule_for(regime=case.regime, request_type=case.type)
    new_due = deadlines.extended_due(rule, deadlines.received_on(case.received_at))
    if new_due is None:
        raise ValidationError(
            f"{case.get_regime_display()} allows no extension for this request ({rule.source})."
        )
    if case.extended_at is not None:
        raise ValidationError(f"The deadline was already extended; {rule.extension_source}.")
    if deadlines.business_today() > case.first_due_on:
        raise ValidationError(
            f"Too late to extend: the notice had to reach the requester by {case.first_due_on} "
            f"({rule.extension_source})."
        )
    update_case(case, extended_at=timezone.now(), extension_reason=reason, due_on=new_due)
    case_event(
        case=case,
        kind=CaseEvent.Kind.EXTENSION,
        summary=f"Deadline extended to {new_due} ({rule.extension_source})",
        actor=actor,
        details={"due_on": new_due, "first_due_on": case.first_due_on},
    )
    send_case_notice(
        case=case,
        kind=NoticeKinds.EXTENDED,
        key="extension",
        context={
            "original_due_on": case.first_due_on.isoformat(),
            "new_due_on": new_due.isoformat(),
            "reasons": reason,
            "legal_basis": rule.extension_source,
        },
        actor=actor,
    )
    return case


@transaction.atomic
def request_deny(*, case: PrivacyRequest, basis: str, reason: str, actor: Actor) -> PrivacyRequest:
    """Refuse with a reason the requester reads; GDPR refusals say they may complain (Art. 12(4))."""
    reason = require_reason(reason, "the refusal (it is sent to the requester)")
    if basis not in DenialBasis.values:
        raise ValidationError({"basis": "Choose the basis of the refusal."})
    case = lock_case(case)
    transition(
        case,
        Status.DENIED,
        actor=actor,
        summary=f"Denied: {DenialBasis(basis).label}",
        details={"basis": basis},
        denial_basis=basis,
        denial_reason=reason,
    )
    context = {
        "basis": DenialBasis(basis).label,
        "reasons": f"{DenialBasis(basis).label}. {reason}",
        "appeal_instructions": policy.APPEAL_INSTRUCTIONS.get(basis, ""),
    }
    if case.regime == Regime.GDPR:
        context["right_to_complain"] = policy.SUPERVISORY_AUTHORITY_NOTE
    send_case_notice(case=case, kind=NoticeKinds.DENIED, key="denied", context=context, actor=actor)
    return case


@transaction.atomic
def request_withdraw(*, case: PrivacyRequest, reason: str, actor: Actor) -> PrivacyRequest:
    reason = require_reason(reason, "the withdrawal")
    case = lock_case(case)
    return transition(case, Status.WITHDRAWN, actor=actor, summary="Withdrawn by the requester", note=reason)


@transaction.atomic
def request_set_lookback(*, case: PrivacyRequest, since: date, actor: Actor) -> PrivacyRequest:
    """CCPA: on the consumer's request the access package reaches back beyond 12 months, to 2022-01-01 at
    the earliest (Cal. Civ. Code §1798.130(a)(2)(B))."""
    case = lock_case(case)
    require_open(case, "changed")
    if case.regime != Regime.CCPA or case.type not in (RequestType.ACCESS, RequestType.PORTABILITY):
        raise ValidationError("Only CCPA access and portability packages have a lookback period.")
    if since < deadlines.CCPA_LOOKBACK_FLOOR:
        raise ValidationError(
            {
                "since": f"The CCPA lookback can't start before {deadlines.CCPA_LOOKBACK_FLOOR} (§1798.130(a)(2)(B))."
            }
        )
    if since > deadlines.received_on(case.received_at):
        raise ValidationError({"since": "The lookback must start before the request was received."})
    update_case(case, lookback_from=since)
    case_event(
        case=case,
        kind=CaseEvent.Kind.NOTE,
        summary=f"Access package covers records since {since}",
        actor=actor,
        details={"lookback_from": since},
    )
    return case


@transaction.atomic
def request_set_fee(
    *, case: PrivacyRequest, amount: Decimal, justification: str, actor: Actor
) -> PrivacyRequest:
    """GDPR Art. 12(5): requests are free; a fee only for manifestly unfounded or excessive ones, justified."""
    if amount < 0:
        raise ValidationError({"amount": "A fee can't be negative."})
    if amount > 0:
        justification = require_reason(justification, "charging a fee (GDPR Art. 12(5))")
    case = lock_case(case)
    require_open(case, "charged")
    update_case(case, fee_amount=amount, fee_justification=justification)
    case_event(
        case=case, kind=CaseEvent.Kind.NOTE, summary=f"Fee set to {amount}", actor=actor, note=justification
    )
    return case


@transaction.atomic
def request_complete(
    *,
    case: PrivacyRequest,
    actor: Actor,
    outcome_note: str = "",
    notice_kind: str = NoticeKinds.COMPLETED,
    notice_context: dict | None = None,
    to_email: str | None = None,
    notify: bool = True,
) -> PrivacyRequest:
    """Close a case that was fulfilled, telling the requester what was done."""
    case = lock_case(case)
    transition(
        case,
        Status.COMPLETED,
        actor=actor,
        summary="Completed",
        completed_at=timezone.now(),
        outcome_note=outcome_note or case.outcome_note,
        stuck_reason="",
    )
    if not notify:
        return case
    send_case_notice(
        case=case,
        kind=notice_kind,
        key="completed",
        context={
            "summary": case.outcome_note,
            "completed_on": deadlines.business_today().isoformat(),
            **(notice_context or {}),
        },
        to_email=to_email,
        actor=actor,
    )
    return case
