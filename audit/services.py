"""Writing to the audit chain. Every service that touches personal data calls `audit_record`."""

import json
from typing import Any

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from core.actors import Actor, actor_label

from .chain import GENESIS, compute_hash
from .models import AuditEvent

__all__ = ["GENESIS", "audit_append_sql", "audit_record", "audit_record_many", "compute_hash"]

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


def audit_record_many(events: list[dict[str, Any]]) -> None:
    """Append several events (each the keyword arguments of `audit_record`) to the chain at once.

    On PostgreSQL one statement (the audit_chain_append function, migration 0003) takes the chain's
    lock, reads its head and inserts the events, hashed over the same bytes as compute_hash: a hot path
    holds the lock for that statement and its commit only. The statement is atomic by itself (outside
    a transaction it is one, without BEGIN/COMMIT round trips). Elsewhere, one event at a time in one
    transaction.
    """
    if not events:
        return
    if connection.vendor != "postgresql":
        with transaction.atomic(savepoint=False):
            for event in events:
                audit_record(**event)
        return
    sql, params = audit_append_sql(events)
    with connection.cursor() as cursor, psycopg.Cursor(cursor.connection) as bound:
        bound.execute(f"SELECT {sql}", params)


def audit_append_sql(events: list[dict[str, Any]], *, after: str = "") -> tuple[str, list[Any]]:
    """PostgreSQL: the `audit_chain_append(...)` call that appends `events` (as for audit_record_many)
    and its parameters, for a hot path that makes the append part of its own last statement (one round
    trip less; the chain's lock is then held from that statement to the commit, as before).

    `after` is an SQL condition over that statement's other work (e.g. counts of its data-modifying
    CTEs): it guards the first argument, so the append, which must come last, runs after that work.
    """
    rows = []
    for event in events:
        actor = event.get("actor")
        fields = [
            timezone.now(),
            actor_label(actor),
            event["action"],
            str(event.get("target_type", "")),
            str(event.get("target_id", "")),
            event.get("subject_id"),
            json.loads(json.dumps(event.get("details") or {}, default=str)),
        ]
        # compute_hash hashes json.dumps([prev_hash, *fields]); prev_hash is hex, so that JSON is
        # '["<prev_hash>",' followed by the JSON of the fields without its opening bracket.
        tail = json.dumps(
            [fields[0].isoformat(), *fields[1:]], sort_keys=True, separators=(",", ":"), default=str
        )
        rows.append(
            (*fields[:6], json.dumps(fields[6]), actor.pk if hasattr(actor, "pk") else None, tail[1:])
        )
    first = f"CASE WHEN {after} THEN %b::timestamptz[] END" if after else "%b::timestamptz[]"
    return (
        f"audit_chain_append({first}, %b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], "
        "%b::text[], %b::integer[], %b::text[])",
        [list(column) for column in zip(*rows, strict=True)],
    )
