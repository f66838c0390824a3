"""Writing to the audit chain. Every service that touches personal data calls `audit_record`."""

import json
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.actors import Actor, actor_label

from .chain import GENESIS, compute_hash
from .models import AuditEvent

__all__ = ["GENESIS", "audit_record", "audit_record_many", "compute_hash"]

# Arbitrary constant naming the advisory lock that serialises chain appends on PostgreSQL.
_CHAIN_LOCK_ID = 0x5052_4956_4143


@transaction.atomic(savepoint=False)  # no savepoint: nothing here catches errors, and it is called everywhere
def audit_record(
    *,
    action: str,
    actor: Actor = None,
    target: Any = None,
    target_type: str = "",
    target_id: str | int = "",
    subject_id: int | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain.

    `actor` is a user, a job name (str) or None for "system". `details` must hold ids, codes and
    counts only: it is kept after the subject is erased.
    """
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
    details = json.loads(json.dumps(details or {}, default=str))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    prev_hash = last or GENESIS
    at = timezone.now()
    label = actor_label(actor)
    fields = dict(
        at=at,
        actor_label=label,
        action=action,
        target_type=str(target_type),
        target_id=str(target_id),
        subject_id=subject_id,
        details=details,
    )
    return AuditEvent.objects.create(
        actor=actor if hasattr(actor, "pk") else None,
        prev_hash=prev_hash,
        hash=compute_hash(prev_hash=prev_hash, **fields),
        **fields,
    )


@transaction.atomic(savepoint=False)
def audit_record_many(events: list[dict[str, Any]]) -> list[AuditEvent]:
    """Append several events (each the keyword arguments of `audit_record`) in one chained insert.

    One lock, one read of the chain's head and one INSERT for all of them: a hot path that audits two
    things (a web choice creating its device's subject) holds the chain's lock for three round trips.
    """
    if not events:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
    prev_hash = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
    rows = []
    for event in events:
        actor = event.get("actor")
        fields = dict(
            at=timezone.now(),
            actor_label=actor_label(actor),
            action=event["action"],
            target_type=str(event.get("target_type", "")),
            target_id=str(event.get("target_id", "")),
            subject_id=event.get("subject_id"),
            details=json.loads(json.dumps(event.get("details") or {}, default=str)),
        )
        digest = compute_hash(prev_hash=prev_hash, **fields)
        rows.append(
            AuditEvent(
                actor=actor if hasattr(actor, "pk") else None, prev_hash=prev_hash, hash=digest, **fields
            )
        )
        prev_hash = digest
    return AuditEvent.objects.bulk_create(rows)
