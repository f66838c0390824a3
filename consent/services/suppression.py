"""The suppression list: keyed hashes of addresses that must never be marketed to again."""

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from audit.services import audit_record
from core.actors import Actor, actor_label

from ..models import Action, ConsentState, Purpose, SuppressedAddress
from ..suppression import email_hmac, subject_email_addresses


def consent_suppress_before_erasure(*, subject_id: int) -> int:
    """Erasure hook: keep only keyed hashes of the erased subject's addresses (runs inside the erasure).

    Every email address (primary and contact points) goes to the suppression list for every marketing
    purpose, and for each other purpose the subject withdrew, so no later list import, intake or API call
    re-creates the erased person with a marketing grant (issue 14 item 4; GDPR Art. 17, 21(3); CAN-SPAM
    §7704(a)(4)). Only keyed hashes are kept. Returns the rows added.
    """
    # Addresses of live subjects only: an erased subject has none left (they were suppressed the first time).
    addresses = subject_email_addresses([subject_id]).get(subject_id, set())
    if not addresses:
        return 0
    # The purposes the subject withdrew and the marketing purposes, in one query.
    withdrew = ConsentState.objects.filter(
        subject_id=subject_id, action=Action.WITHDRAW, purpose=OuterRef("pk")
    )
    purposes = (
        Purpose.objects.annotate(withdrawn=Exists(withdrew))
        .filter(Q(withdrawn=True) | Q(is_marketing=True, required=False))
        .values_list("code", "pk", "withdrawn", "is_marketing", "required")
        .order_by()
    )
    withdrawn, marketing = {}, {}
    for code, pk, was_withdrawn, is_marketing, required in purposes:
        if was_withdrawn:
            withdrawn[code] = pk
        if is_marketing and not required:
            marketing[code] = pk
    return _suppress(
        hashes={email_hmac(a) for a in addresses},
        groups=[
            (SuppressedAddress.Reason.ERASED_AFTER_OPT_OUT, withdrawn),
            (SuppressedAddress.Reason.ERASED, marketing),
        ],
        actor="erasure",
        subject_id=subject_id,
    )


def _suppress(
    *,
    hashes: set[str],
    groups: list[tuple[str, Mapping[str, int]]],
    actor: Actor,
    subject_id: int | None = None,
) -> int:
    """List each hash for each group's purposes (code -> id) with the group's reason, skipping pairs
    already listed (by an earlier group too): one query for what is listed, one insert, one audit event
    per reason that added rows."""
    if not hashes:
        return 0
    purpose_ids = {pk for _reason, purposes in groups for pk in purposes.values()}
    label = actor_label(actor)
    listed = set(
        SuppressedAddress.objects.filter(email_hmac__in=hashes, purpose_id__in=purpose_ids).values_list(
            "email_hmac", "purpose_id"
        )
    )
    new: list[SuppressedAddress] = []
    added: list[tuple[str, list[str], int]] = []
    for reason, purposes in groups:
        codes = sorted(purposes)
        rows = [
            SuppressedAddress(email_hmac=h, purpose_id=purposes[p], reason=reason, created_by_label=label)
            for h in sorted(hashes)
            for p in codes
            if (h, purposes[p]) not in listed
        ]
        listed.update((row.email_hmac, row.purpose_id) for row in rows)
        new += rows
        if rows:
            added.append((reason, codes, len(rows)))
    SuppressedAddress.objects.bulk_create(new, ignore_conflicts=True)
    for reason, codes, count in added:
        audit_record(
            action="consent.addresses_suppressed",
            actor=actor,
            target_type="consent.suppressedaddress",
            subject_id=subject_id,
            details={"reason": reason, "purposes": codes, "addresses": len(hashes), "rows": count},
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
    known = dict(Purpose.objects.filter(code__in=codes, required=False).values_list("code", "pk"))
    unknown = sorted(set(codes) - set(known))
    if unknown:
        raise ValidationError(f"Unknown or required purposes: {', '.join(unknown)}.")
    return _suppress(
        hashes={email_hmac(email)}, groups=[(SuppressedAddress.Reason.MANUAL, known)], actor=actor
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
