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

# Arbitrary constant naming the advisory lock that serialises chain appends on PostgreSQL (taken inside
# the audit_chain_append function, migrations 0003 and 0004, which spell it out).
_CHAIN_LOCK_ID = 0x5052_4956_4143


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
    counts only: it is kept after the subject is erased. On PostgreSQL one statement (the
    audit_chain_append function: lock, head, insert), since every audited action pays for it; the
    event comes back with its pk and hashes as if it had been saved here.
    """
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
    event = {
        "action": action,
        "actor": actor,
        "target_type": target_type,
        "target_id": target_id,
        "subject_id": subject_id,
        "details": details,
    }
    if connection.vendor == "postgresql":
        return _append_postgres([event])[0]
    return _append_locked(event)


@transaction.atomic(savepoint=False)  # no savepoint: nothing here catches errors, and it is called everywhere
def _append_locked(event: dict[str, Any]) -> AuditEvent:
    """SQLite/MySQL: read the head and insert, in the caller's transaction (or a new one)."""
    fields = _fields(event)
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    prev_hash = last or GENESIS
    return AuditEvent.objects.create(
        actor=_user(event.get("actor")),
        prev_hash=prev_hash,
        hash=compute_hash(prev_hash=prev_hash, **fields),
        **fields,
    )


def _user(actor: Actor) -> Any:
    return actor if hasattr(actor, "pk") else None


def _fields(event: dict[str, Any]) -> dict[str, Any]:
    """The hashed fields of an event, as compute_hash and the table take them."""
    return dict(
        at=timezone.now(),
        actor_label=actor_label(event.get("actor")),
        action=event["action"],
        target_type=str(event.get("target_type", "")),
        target_id=str(event.get("target_id", "")),
        subject_id=event.get("subject_id"),
        details=json.loads(json.dumps(event.get("details") or {}, default=str)),
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
    _append_postgres(events)


def _chain_rows(events: list[dict[str, Any]]) -> tuple[list[tuple], list[AuditEvent]]:
    """audit_chain_append's row per event, and the event as it will be saved (pk and hashes to come)."""
    rows, saved = [], []
    for event in events:
        fields = _fields(event)
        user = _user(event.get("actor"))
        # compute_hash hashes json.dumps([prev_hash, *fields]); prev_hash is hex, so that JSON is
        # '["<prev_hash>",' followed by the JSON of the fields without its opening bracket.
        values = list(fields.values())
        tail = json.dumps(
            [values[0].isoformat(), *values[1:]], sort_keys=True, separators=(",", ":"), default=str
        )
        rows.append((*values[:6], json.dumps(values[6]), user.pk if user is not None else None, tail[1:]))
        saved.append(AuditEvent(actor=user, **fields))
    return rows, saved


def _append_postgres(events: list[dict[str, Any]]) -> list[AuditEvent]:
    """One audit_chain_append statement (migrations 0003, 0004); the events as saved, in order."""
    rows, saved = _chain_rows(events)
    appended = _chain_append(rows)
    for event, (pk, prev_hash, digest) in zip(saved, appended, strict=True):
        event.pk, event.prev_hash, event.hash = pk, prev_hash, digest
        event._state.adding, event._state.db = False, connection.alias
    return saved


def audit_append_sql(events: list[dict[str, Any]], *, after: str = "") -> tuple[str, list[Any]]:
    """PostgreSQL: the `audit_chain_append(...)` call that appends `events` (as for audit_record_many)
    and its binary-bound (%b) parameters, for a hot path that makes the append part of its own last
    statement (one round trip less; the chain's lock is then held from that statement to the commit, as
    before). The function returns one row per event appended.

    `after` is an SQL condition over that statement's other work (e.g. counts of its data-modifying
    CTEs): it guards the first argument, so the append, which must come last, runs after that work.
    """
    rows, _saved = _chain_rows(events)
    first = f"CASE WHEN {after} THEN %b::timestamptz[] END" if after else "%b::timestamptz[]"
    return (
        f"audit_chain_append({first}, %b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], "
        "%b::text[], %b::integer[], %b::text[])",
        [list(column) for column in zip(*rows, strict=True)],
    )


_CHAIN_APPEND = (
    "SELECT event_id, event_prev_hash, event_hash FROM audit_chain_append(%s::timestamptz[], %s::text[], "
    "%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::integer[], %s::text[])"
)


def _chain_append(rows: list[tuple]) -> list[tuple[int, str, str]]:
    """Run audit_chain_append over the rows' columns. One event goes through Django's cursor, so query
    capture, execute wrappers and the SQL log see it like any statement; several are bound in binary
    through a psycopg cursor (large payloads, no client-side quoting)."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(_CHAIN_APPEND, columns)
            return cursor.fetchall()
        with psycopg.Cursor(cursor.connection) as bound:
            bound.execute(_CHAIN_APPEND.replace("%s", "%b"), columns)
            return bound.fetchall()
