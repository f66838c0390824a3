"""The suppression list: keyed hashes of addresses that must never be marketed to again."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory.models import DataSubject

from ..models import Action, ConsentState, Purpose, SuppressedAddress
from ..suppression import email_hmac, subject_email_addresses


def consent_suppress_before_erasure(*, subject_id: int) -> int:
    """Erasure hook: keep only keyed hashes of the erased subject's addresses (runs inside the erasure).

    Every email address (primary and contact points) goes to the suppression list for every marketing
    purpose, and for each other purpose the subject withdrew, so no later list import, intake or API call
    re-creates the erased person with a marketing grant (issue 14 item 4; GDPR Art. 17, 21(3); CAN-SPAM
    §7704(a)(4)). Only keyed hashes are kept. Returns the rows added.
    """
    subject = DataSubject.objects.filter(pk=subject_id).values("erased_at").first()
    if subject is None or subject["erased_at"] is not None:
        return 0  # already erased: the addresses are gone (and were suppressed the first time)
    withdrawn = list(
        ConsentState.objects.filter(subject_id=subject_id, action=Action.WITHDRAW).values_list(
            "purpose__code", flat=True
        )
    )
    addresses = subject_email_addresses([subject_id]).get(subject_id, set())
    hashes = {email_hmac(a) for a in addresses}
    added = _suppress(
        hashes=hashes,
        purposes=withdrawn,
        reason=SuppressedAddress.Reason.ERASED_AFTER_OPT_OUT,
        actor="erasure",
        subject_id=subject_id,
    )
    marketing = Purpose.objects.filter(is_marketing=True, required=False).values_list("code", flat=True)
    return added + _suppress(
        hashes=hashes,
        purposes=list(marketing),
        reason=SuppressedAddress.Reason.ERASED,
        actor="erasure",
        subject_id=subject_id,
    )


def _suppress(
    *, hashes: set[str], purposes: Iterable[str], reason: str, actor: Actor, subject_id: int | None = None
) -> int:
    if not hashes:
        return 0
    ids = dict(Purpose.objects.filter(code__in=set(purposes)).values_list("code", "pk"))
    purposes = sorted(ids)
    label = actor_label(actor)
    already = set(
        SuppressedAddress.objects.filter(email_hmac__in=hashes, purpose_id__in=ids.values()).values_list(
            "email_hmac", "purpose__code"
        )
    )
    new = [
        SuppressedAddress(email_hmac=h, purpose_id=ids[p], reason=reason, created_by_label=label)
        for h in sorted(hashes)
        for p in purposes
        if (h, p) not in already
    ]
    SuppressedAddress.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        audit_record(
            action="consent.addresses_suppressed",
            actor=actor,
            target_type="consent.suppressedaddress",
            subject_id=subject_id,
            details={"reason": reason, "purposes": purposes, "addresses": len(hashes), "rows": len(new)},
        )
    return len(new)


@transaction.atomic
def suppression_add(*, email: str, purposes: Iterable[str] | None = None, actor: Actor = None) -> int:
    """Suppress an address (e.g. an opt-out by email from someone we hold nothing else on).

    Without purposes: every marketing purpose. Only the keyed hash is stored.
    """
    from django.core.validators import validate_email

    try:
        validate_email((email or "").strip())
    except ValidationError as exc:
        raise ValidationError("That is not a valid email address.") from exc
    codes = list(
        purposes or Purpose.objects.filter(is_marketing=True, required=False).values_list("code", flat=True)
    )
    known = set(Purpose.objects.filter(code__in=codes, required=False).values_list("code", flat=True))
    unknown = sorted(set(codes) - known)
    if unknown:
        raise ValidationError(f"Unknown or required purposes: {', '.join(unknown)}.")
    return _suppress(
        hashes={email_hmac(email)}, purposes=codes, reason=SuppressedAddress.Reason.MANUAL, actor=actor
    )


@transaction.atomic
def suppression_lift(*, suppressed_id: int, reason: str, actor: Actor = None) -> None:
    """Remove an address from the list, e.g. when the person asks to be marketed to again. Needs a reason."""
    if not (reason or "").strip():
        raise ValidationError("Say why the suppression is lifted.")
    row = (
        SuppressedAddress.objects.select_for_update()
        .filter(pk=suppressed_id)
        .select_related("purpose")
        .first()
    )
    if row is None:
        raise ValidationError("That suppression no longer exists.")
    details = {
        "purpose": row.purpose.code,
        "hash_prefix": row.email_hmac[:12],
        "reason": reason.strip()[:200],
    }
    row.delete()
    audit_record(
        action="consent.suppression_lifted",
        actor=actor,
        target_type="consent.suppressedaddress",
        target_id=suppressed_id,
        details=details,
    )
