"""Legal holds: records put beyond the reach of every erasure (GDPR Art. 17(3) exceptions) until released."""

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core import clock
from core.actors import Actor, actor_label
from inventory.models import DataCategory, DataSubject

from ..hooks import run_after_hold_release
from ..models import ExceptionCode, LegalHold


@transaction.atomic
def legal_hold_place(
    *,
    subject_id: int | None = None,
    category: str | None = None,
    case_reference: str = "",
    reason: str,
    owner: Any,
    ends_on: date | None = None,
    actor: Actor = None,
    exception_code: str = ExceptionCode.LEGAL_CLAIMS,
) -> LegalHold:
    """Put records beyond the reach of every erasure until released or past `ends_on`.

    Scope: a subject (all records, or one `category` of them) or a whole category. A DSAR case's hold
    carries the case's public UUID as `case_reference`. `owner` is a user or a name; None means the actor.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the records must be kept (it is shown on certificates)."})
    if subject_id is None and not category:
        raise ValidationError("A legal hold needs a data subject, a data category, or both.")
    category_obj = None
    if category:
        category_obj = DataCategory.objects.filter(code=category).first()
        if category_obj is None:
            raise ValidationError({"category": f"Unknown data category '{category}'."})
    if subject_id is not None and not DataSubject.objects.filter(pk=subject_id).exists():
        raise ValidationError({"subject": "No such data subject."})
    if ends_on is not None and ends_on < clock.business_today():
        raise ValidationError({"ends_on": "The end date of a hold can't be in the past."})
    if exception_code not in ExceptionCode.values:
        raise ValidationError({"exception_code": "Choose one of the GDPR Art. 17(3) exception codes."})
    hold = LegalHold(
        subject_id=subject_id,
        category=category_obj,
        case_reference=(case_reference or "").strip(),
        exception_code=exception_code,
        reason=reason,
        owner=owner if hasattr(owner, "pk") else None,
        # No owner named: whoever places the hold answers for it (a job's name, or "system").
        owner_label=actor_label(owner if owner is not None else actor),
        placed_at=timezone.now(),
        ends_on=ends_on,
    )
    hold.full_clean()
    hold.save()
    audit_record(
        action="retention.hold.placed",
        actor=actor,
        target=hold,
        subject_id=subject_id,
        details={
            "hold": str(hold.public_id),
            "category": category or "",
            "case_reference": hold.case_reference,
            "exception_code": exception_code,
            "ends_on": ends_on,
        },
    )
    return hold


@transaction.atomic
def legal_hold_update(
    *, hold_id: int, actor: Actor = None, ends_on: date | None = None, reason: str | None = None
) -> LegalHold:
    """Change a hold's end date or reason (scope can't change: place a new hold instead)."""
    hold = LegalHold.objects.select_for_update().get(pk=hold_id)
    if hold.released_at is not None:
        raise ValidationError("This hold was released; place a new hold instead.")
    changed = {}
    if ends_on != hold.ends_on:
        if ends_on is not None and ends_on < clock.business_today():
            raise ValidationError({"ends_on": "The end date of a hold can't be in the past."})
        changed["ends_on"] = {"from": hold.ends_on, "to": ends_on}
        hold.ends_on = ends_on
    if reason is not None and reason.strip() != hold.reason:
        if not reason.strip():
            raise ValidationError({"reason": "Say why the records must be kept."})
        hold.reason = reason.strip()
        changed["reason"] = "changed"
    if changed:
        hold.save(update_fields=["ends_on", "reason"])
        audit_record(
            action="retention.hold.updated",
            actor=actor,
            target=hold,
            subject_id=hold.subject_id,
            details={"hold": str(hold.public_id), "changes": changed},
        )
    return hold


@transaction.atomic
def legal_hold_release(*, hold_id: int, actor: Actor = None, reason: str) -> LegalHold:
    """End a hold now. The records become erasable again at the next sweep or request. Idempotent."""
    return _release(hold_id=hold_id, actor=actor, reason=reason, expired=False)[0]


def _release(*, hold_id: int, actor: Actor, reason: str, expired: bool) -> tuple[LegalHold, bool]:
    """The one release path (by hand or by expiry): audit event, then the after-release hooks."""
    if not (reason or "").strip():
        raise ValidationError({"release_reason": "Say why the hold ends."})
    hold = LegalHold.objects.select_for_update().get(pk=hold_id)
    if hold.released_at is not None:
        return hold, False
    if expired and (hold.ends_on is None or hold.ends_on >= clock.business_today()):
        return hold, False  # extended or made open-ended since it was listed: still in force
    hold.released_at = timezone.now()
    hold.released_by = actor_label(actor)
    hold.release_reason = reason.strip()
    hold.save(update_fields=["released_at", "released_by", "release_reason"])
    audit_record(
        action="retention.hold.released",
        actor=actor,
        target=hold,
        subject_id=hold.subject_id,
        details={
            "hold": str(hold.public_id),
            "case_reference": hold.case_reference,
            **({"expired": True, "ends_on": hold.ends_on} if expired else {}),
        },
    )
    run_after_hold_release(subject_id=hold.subject_id)  # deferred erasures resume (retention.hooks)
    return hold, True


def legal_holds_release_for_case(*, case_reference: str, actor: Actor = None, reason: str) -> int:
    """Release every active hold placed for one case (when the case is closed)."""
    ids = LegalHold.objects.filter(case_reference=case_reference, released_at__isnull=True).values_list(
        "pk", flat=True
    )
    count = 0
    for hold_id in list(ids):
        legal_hold_release(hold_id=hold_id, actor=actor, reason=reason)
        count += 1
    return count


# Who an expiry is recorded as (audit event, `released_by`), and the release reason it writes.
EXPIRY_ACTOR = "legal hold expiry"
EXPIRY_REASON = "expired"


def legal_holds_expire(*, actor: Actor = EXPIRY_ACTOR) -> list[int]:
    """Release every hold whose end date has passed, so an expiry resumes what a release would.

    Without this a hold nobody releases stops counting on its end date (selectors.active_holds) but the
    erasure it deferred waits forever (issue 14 item 5). Each hold is released in its own transaction
    through the ordinary release path (audit event, reason "expired", after-release hooks). Idempotent:
    a released hold is never listed again. Returns the ids of the holds released.
    """
    today = clock.business_today()
    due = LegalHold.objects.filter(released_at__isnull=True, ends_on__lt=today).order_by("ends_on", "pk")
    released = []
    for hold_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            _, done = _release(hold_id=hold_id, actor=actor, reason=EXPIRY_REASON, expired=True)
        if done:
            released.append(hold_id)
    return released
