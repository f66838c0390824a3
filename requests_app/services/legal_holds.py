"""Legal holds placed and released from a case (e.g. a dispute about the request), via retention."""

from django.core.exceptions import ValidationError
from django.db import transaction

from core.actors import Actor

from .. import gateways
from ..models import CaseEvent, PrivacyRequest
from ..workflow import case_event, lock_case, require_reason, update_case


@transaction.atomic
def request_legal_hold_place(*, case: PrivacyRequest, reason: str, actor: Actor):
    """Hold the subject's data for this case (e.g. a dispute about the request) via retention."""
    reason = require_reason(reason, "the legal hold")
    case = lock_case(case)
    hold = gateways.legal_hold_place(
        subject_id=case.subject_id,
        case_reference=str(case.reference),
        reason=reason,
        owner=actor,
        actor=actor,
    )
    update_case(case, legal_hold_id=hold.pk)
    case_event(
        case=case,
        kind=CaseEvent.Kind.LEGAL_HOLD,
        summary=f"Legal hold #{hold.pk} placed on the subject's data",
        actor=actor,
        note=reason,
        details={"hold_id": hold.pk},
    )
    return hold


@transaction.atomic
def request_legal_hold_release(*, case: PrivacyRequest, reason: str, actor: Actor) -> int:
    """Release the holds placed for this case (e.g. the dispute is settled); erasure may then proceed."""
    reason = require_reason(reason, "releasing the legal hold")
    case = lock_case(case)
    released = gateways.legal_holds_release_for_case(
        case_reference=str(case.reference), reason=reason, actor=actor
    )
    if not released:
        raise ValidationError("This case has no legal hold in force.")
    update_case(case, legal_hold_id=None)
    case_event(
        case=case,
        kind=CaseEvent.Kind.LEGAL_HOLD,
        summary=f"{released} legal hold(s) of this case released",
        actor=actor,
        note=reason,
        details={"released": released},
    )
    return released
