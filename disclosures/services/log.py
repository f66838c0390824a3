"""The disclosure log: classify what was shared, then log one batch (a header and one event per subject).

The log is append-only (enforced in the database); a batch is idempotent by its external id.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory import bulk
from inventory.models import ThirdParty

from .. import integrations, selectors
from ..models import DisclosureBatch, DisclosureEvent, Purpose
from ..statutory import codes_of, mask_of
from .common import FUTURE_TOLERANCE


def categories_resolve(
    *, statutory: Iterable[str] = (), data: Mapping[str, Iterable[str]] | None = None
) -> tuple[int, dict[str, list[str]]]:
    """Statutory codes and/or {data category: [fields]} → the statutory bitmask (via the mapping).

    A data category given without fields counts as everything its fields map to. Unknown categories
    or fields are refused: a disclosure whose content we can't classify would make notices wrong.
    """
    statutory = list(statutory)
    data = {code: sorted(set(fields)) for code, fields in (data or {}).items()}
    if not statutory and not data:
        raise ValidationError(
            "Say what was disclosed: statutory categories and/or data categories.", code="no_categories"
        )
    mask = mask_of(statutory)
    if data:
        index = selectors.mapping_index()
        errors = []
        for code, fields in data.items():
            known = index.get(code)
            if known is None:
                errors.append(
                    ValidationError(
                        "Unknown data category '%(code)s' (or it has no §1798.83 mapping yet).",
                        code="unknown_data_category",
                        params={"code": code},
                    )
                )
                continue
            for name in fields or known.keys():
                if name not in known:
                    errors.append(
                        ValidationError(
                            "Unknown field '%(field)s' of data category '%(code)s'; known: %(known)s.",
                            code="unknown_field",
                            params={"field": name, "code": code, "known": ", ".join(sorted(known))},
                        )
                    )
                    continue
                mask |= known[name]
        if errors:
            raise ValidationError(errors)
    return mask, data


class OptedOutSubjects(ValidationError):
    """Direct-marketing disclosure refused: some subjects opted out (§1798.83(c)(2) route)."""

    def __init__(self, subject_ids: Iterable[int]):
        self.subject_ids = sorted(subject_ids)
        super().__init__(
            "%(count)s subject(s) in this batch opted out of sharing with third parties for their direct "
            "marketing (§1798.83(c)(2)): remove them from the list, or ask to exclude them.",
            code="opted_out",
            params={"count": len(self.subject_ids)},
        )


class TransferAfterOptOut(OptedOutSubjects):
    """CAN-SPAM: an address that opted out of anything is never transferred for the recipient's marketing."""

    def __init__(self, subject_ids: Iterable[int]):
        self.subject_ids = sorted(subject_ids)
        ValidationError.__init__(
            self,
            "%(count)s subject(s) in this batch had opted out of marketing before the disclosure: CAN-SPAM "
            "(15 U.S.C. §7704(a)(4)(A)(iv)) forbids transferring their address to a third party for its own "
            "marketing, whatever the §1798.83(c)(2) setting says. Remove them, or ask to exclude them.",
            code="can_spam_opted_out",
            params={"count": len(self.subject_ids)},
        )


class BatchConflict(ValidationError):
    """The external id was already used for a different batch."""


@dataclass
class BatchResult:
    batch: DisclosureBatch
    created: bool
    excluded_subject_ids: list[int] = field(default_factory=list)


def payload_fingerprint(payload: Mapping) -> str:
    """Stable hash of a batch request, to tell a retry from a different batch reusing an external id."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _insert_events(*, batch: DisclosureBatch, subject_ids: Sequence[int]) -> None:
    """All members in ONE bulk operation (inventory.bulk: COPY on PostgreSQL), the batch's fields copied."""
    bulk.insert_column(
        DisclosureEvent,
        "subject_id",
        subject_ids,
        constants={
            "third_party_id": batch.third_party_id,
            "purpose": batch.purpose,
            "categories": batch.categories,
            "at": batch.at,
            "agreement_reference": batch.agreement_reference,
            "batch_id": batch.pk,
        },
    )


def _third_party_for(third_party_id: int) -> ThirdParty:
    """The recipient, refused when unknown or inactive (no new disclosures to a retired partner)."""
    third_party = ThirdParty.objects.filter(pk=third_party_id).first()
    if third_party is None:
        raise ValidationError("Unknown recipient (third party).", code="unknown_third_party")
    if not third_party.active:
        raise ValidationError(
            "Recipient %(name)s is marked inactive: reactivate it before logging disclosures to it.",
            code="inactive_third_party",
            params={"name": third_party.legal_name},
        )
    return third_party


def _subject_ids_checked(subject_ids: Iterable[int]) -> list[int]:
    """Sorted distinct ids, refused when empty or when any subject is unknown or erased."""
    ids = sorted({int(i) for i in subject_ids})
    if not ids:
        raise ValidationError("A batch needs at least one subject.", code="empty_batch")
    check = selectors.subjects_check(ids)
    if check.missing or check.erased:
        raise ValidationError(
            "Batch refused: %(missing)s unknown and %(erased)s erased subject(s) (first ids: %(sample)s).",
            code="bad_subjects",
            params={
                "missing": len(check.missing),
                "erased": len(check.erased),
                "sample": ", ".join(map(str, (check.missing + check.erased)[:10])),
            },
        )
    return ids


def _without_opted_out(
    *, purpose: str, ids: list[int], exclude_opted_out: bool, at: datetime
) -> tuple[list[int], list[int]]:
    """(ids to log, ids excluded) for a share for the recipient's own direct marketing, judged at `at`.

    Always: nobody who had opted out of anything by the time of the disclosure (CAN-SPAM
    §7704(a)(4)(A)(iv), no grace period, whatever the route setting). With the §1798.83(c)(2) route on,
    also nobody without partner-sharing consent in force at that time. Refuses the batch when some
    subjects are barred and `exclude_opted_out` is off, or when nobody is left.
    """
    if purpose != Purpose.DIRECT_MARKETING:
        return ids, []
    barred = integrations.subjects_opted_out_of_email_by(ids, at) & set(ids)
    if barred and not exclude_opted_out:
        raise TransferAfterOptOut(barred)
    opted_out = set(barred)
    if selectors.disclosure_settings().opt_out_route_enabled:
        opted_out |= integrations.subjects_opted_out_of_partner_sharing(ids, at=at) & set(ids)
    if not opted_out:
        return ids, []
    kept = [i for i in ids if i not in opted_out]
    if not exclude_opted_out or not kept:
        raise TransferAfterOptOut(barred) if opted_out == barred else OptedOutSubjects(opted_out)
    return kept, sorted(opted_out)


def _batch_audit(*, batch: DisclosureBatch, actor: Actor, excluded: list[int]) -> None:
    audit_record(
        action="disclosures.batch_recorded",
        actor=actor,
        target=batch,
        details={
            "batch": str(batch.public_id),
            "external_id": batch.external_id or "",
            "third_party_id": batch.third_party_id,
            "purpose": batch.purpose,
            "categories": codes_of(batch.categories),
            "members": batch.member_count,
            "excluded_opted_out": len(excluded),
            "source": batch.source,
        },
    )


@transaction.atomic
def disclosure_batch_record(
    *,
    third_party_id: int,
    purpose: str,
    subject_ids: Iterable[int],
    statutory_categories: Iterable[str] = (),
    data_categories: Mapping[str, Iterable[str]] | None = None,
    disclosed_at: datetime | None = None,
    agreement_reference: str = "",
    external_id: str | None = None,
    payload_sha256: str = "",
    source: str = "",
    exclude_opted_out: bool = False,
    actor: Actor = None,
) -> BatchResult:
    """Log one share of data with one recipient: a header and one event per subject, in one bulk insert.

    Idempotent by `external_id`: the same id with the same payload returns the batch already logged;
    with a different payload it is refused. With the §1798.83(c)(2) opt-out route on, a
    direct-marketing batch containing subjects without `share_marketing_partners` consent is refused,
    or, with `exclude_opted_out`, logged without them (they must then not be sent).
    """
    external_id = (external_id or "").strip() or None
    if external_id:
        existing = DisclosureBatch.objects.filter(external_id=external_id).first()
        if existing is not None:
            return _existing_batch(existing, payload_sha256)
    if purpose not in Purpose.values:
        raise ValidationError(
            "Unknown purpose '%(purpose)s'.", code="unknown_purpose", params={"purpose": purpose}
        )
    third_party = _third_party_for(third_party_id)
    mask, data = categories_resolve(statutory=statutory_categories, data=data_categories)
    now = timezone.now()
    at = disclosed_at or now
    if at > now + FUTURE_TOLERANCE:
        raise ValidationError("A disclosure can't be logged in the future.", code="future")
    ids, excluded = _without_opted_out(
        purpose=purpose, ids=_subject_ids_checked(subject_ids), exclude_opted_out=exclude_opted_out, at=at
    )
    batch = DisclosureBatch(
        external_id=external_id,
        payload_sha256=payload_sha256,
        third_party=third_party,
        purpose=purpose,
        categories=mask,
        data_categories=data,
        at=at,
        agreement_reference=agreement_reference.strip(),
        member_count=len(ids),
        excluded_count=len(excluded),
        source=source,
        recorded_at=now,
        recorded_by_label=actor_label(actor),
    )
    batch.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            batch.save()
    except IntegrityError:
        # A concurrent request logged the same external id first: answer as its retry would.
        existing = DisclosureBatch.objects.filter(external_id=external_id).first() if external_id else None
        if existing is None:
            raise
        return _existing_batch(existing, payload_sha256)
    _insert_events(batch=batch, subject_ids=ids)
    _batch_audit(batch=batch, actor=actor, excluded=excluded)
    return BatchResult(batch=batch, created=True, excluded_subject_ids=excluded)


def _existing_batch(existing: DisclosureBatch, payload_sha256: str) -> BatchResult:
    if payload_sha256 and existing.payload_sha256 and existing.payload_sha256 != payload_sha256:
        raise BatchConflict(
            "External id %(external_id)s was already used for a different batch.",
            code="external_id_conflict",
            params={"external_id": existing.external_id},
        )
    return BatchResult(batch=existing, created=False)


def disclosure_record(
    *,
    subject_id: int,
    third_party_id: int,
    purpose: str,
    statutory_categories: Iterable[str] = (),
    data_categories: Mapping[str, Iterable[str]] | None = None,
    disclosed_at: datetime | None = None,
    agreement_reference: str = "",
    source: str = "",
    actor: Actor = None,
) -> DisclosureEvent:
    """Log a single disclosure (a batch of one)."""
    result = disclosure_batch_record(
        third_party_id=third_party_id,
        purpose=purpose,
        subject_ids=[subject_id],
        statutory_categories=statutory_categories,
        data_categories=data_categories,
        disclosed_at=disclosed_at,
        agreement_reference=agreement_reference,
        source=source,
        actor=actor,
    )
    return DisclosureEvent.objects.get(batch=result.batch)
