"""Folding new ledger rows into ConsentState (the materialised current state) and settling re-consent requests."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Exists, OuterRef, Q

from ..models import Action, ConsentState, Purpose, ReconsentRequest
from ..selectors import open_reconsent_requests
from .common import UPSERT_CHUNK, chunks
from .inputs import EventRow


@dataclass
class FoldOutcome:
    withdrawals_ending_grant: list[EventRow] = field(default_factory=list)


def fold_into_state(
    rows: list[EventRow],
    *,
    purposes: Mapping[str, Purpose],
    now: datetime,
    notify: bool,
    settle_reconsent: bool = True,
) -> FoldOutcome:
    """Move ConsentState forward to the latest (rank_at, id) per (subject, purpose), in this transaction.

    `rank_at` is a grant's time and a withdrawal's receipt (EventRow.rank_at): an opt-out beats every grant
    received before it. ConsentState.at holds the rank, so the upsert's "only forward" keeps that order.
    Without `settle_reconsent` (subjects created in this transaction: nobody asked them again yet) the
    re-consent requests are not looked at.
    """
    outcome = FoldOutcome()
    if not rows:
        return outcome
    best: dict[tuple[int, str], EventRow] = {}
    for row in rows:
        pair = (row.item.subject_id, row.item.purpose)
        current = best.get(pair)
        if current is None or (row.rank_at, row.event_id) > (current.rank_at, current.event_id):
            best[pair] = row
    winners = sorted(best.values(), key=lambda r: (r.item.subject_id, r.item.purpose))  # one lock order

    prior: dict[tuple[int, int], tuple[str, datetime, int]] = {}
    withdrawing = [
        r for r in winners if r.action == Action.WITHDRAW and purposes[r.item.purpose].confirm_withdrawal
    ]
    if notify and withdrawing:
        subject_ids = list({r.item.subject_id for r in withdrawing})
        for chunk in chunks(subject_ids):
            for sid, purpose, action, at, event_id in ConsentState.objects.filter(
                subject_id__in=chunk
            ).values_list("subject_id", "purpose_id", "action", "at", "event_id"):
                prior[(sid, purpose)] = (action, at, event_id)

    _upsert_states(winners, purposes=purposes, now=now)

    for row in withdrawing:
        before = prior.get((row.item.subject_id, row.purpose_pk))
        newer = before is None or (row.rank_at, row.event_id) > (before[1], before[2])
        if newer and (before is None or before[0] == Action.GRANT):
            outcome.withdrawals_ending_grant.append(row)

    if settle_reconsent:
        settle_reconsent_requests(winners, now=now)
    return outcome


_STATE_COLUMNS = "subject_id, purpose_id, action, at, event_id, expires_at, updated_at"


def state_rows(winners: list[EventRow], *, purposes: Mapping[str, Purpose]) -> list[tuple]:
    """(subject, purpose, action, rank, event, expires) per winning row: what the fold writes."""
    rows = []
    for row in winners:
        lifetime = purposes[row.item.purpose].consent_lifetime_days
        expires = row.at + timedelta(days=lifetime) if row.action == Action.GRANT and lifetime else None
        rows.append((row.item.subject_id, row.purpose_pk, row.action, row.rank_at, row.event_id, expires))
    return rows


def pg_state_upsert(rows: list[tuple], *, now: datetime) -> tuple[str, list[Any]]:
    """PostgreSQL: the fold's upsert as one statement with array parameters bound server-side (binary):
    no per-row placeholders to build, and no array text for the server to parse. Only moves forward."""
    table = connection.ops.quote_name(ConsentState._meta.db_table)
    columns = [list(c) for c in zip(*rows, strict=True)]
    return (
        f"INSERT INTO {table} ({_STATE_COLUMNS}) SELECT s, p, a, t, e, x, %s FROM unnest("
        "%b::bigint[], %b::bigint[], %b::varchar[], %b::timestamptz[], %b::bigint[], %b::timestamptz[]"
        f") AS u(s, p, a, t, e, x){state_upsert_tail(table)}",
        [now, *columns],
    )


def state_upsert_tail(table: str) -> str:
    """The fold's ON CONFLICT clause for an INSERT into ConsentState (`table` quoted): only forward."""
    return (
        " ON CONFLICT (subject_id, purpose_id) DO UPDATE SET action = excluded.action, at = excluded.at, "
        "event_id = excluded.event_id, expires_at = excluded.expires_at, updated_at = excluded.updated_at "
        f"WHERE {table}.at < excluded.at OR ({table}.at = excluded.at AND {table}.event_id < excluded.event_id)"
    )


def _upsert_states(winners: list[EventRow], *, purposes: Mapping[str, Purpose], now: datetime) -> None:
    """INSERT ... ON CONFLICT DO UPDATE ... WHERE (at, id) is newer: atomic per row, order-independent."""
    ops = connection.ops
    table = ops.quote_name(ConsentState._meta.db_table)
    tail = state_upsert_tail(table)
    rows = state_rows(winners, purposes=purposes)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql, params = pg_state_upsert(rows, now=now)
            with psycopg.Cursor(cursor.connection) as bound:
                bound.execute(sql, params)
            return
        stamp = ops.adapt_datetimefield_value(now)
        for chunk in chunks(rows, UPSERT_CHUNK):
            params: list[Any] = []
            for sid, purpose, action, at, event_id, expires in chunk:
                params += [
                    sid,
                    purpose,
                    action,
                    ops.adapt_datetimefield_value(at),
                    event_id,
                    ops.adapt_datetimefield_value(expires) if expires else None,
                    stamp,
                ]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({_STATE_COLUMNS}) VALUES {values}{tail}", params)


def settle_reconsent_requests(winners: list[EventRow], *, now: datetime) -> None:
    """A new grant resolves an open re-consent request; a withdrawal makes asking again pointless."""
    if not winners or not ReconsentRequest.objects.filter(status=ReconsentRequest.Status.OPEN).exists():
        return
    by_pair = {(r.item.subject_id, r.purpose_pk): r for r in winners}
    resolved, dismissed = [], []
    for chunk in chunks(list({r.item.subject_id for r in winners})):
        for pk, sid, purpose in (
            open_reconsent_requests()
            .filter(subject_id__in=chunk)
            .values_list("pk", "subject_id", "purpose_id")
        ):
            row = by_pair.get((sid, purpose))
            if row is None:
                continue
            (resolved if row.action == Action.GRANT else dismissed).append(pk)
    # The state row is authoritative (a late event may not have won): re-check it in the update.
    current = ConsentState.objects.filter(
        subject_id=OuterRef("subject_id"), purpose_id=OuterRef("purpose_id"), action=Action.GRANT
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    withdrawn = ConsentState.objects.filter(
        subject_id=OuterRef("subject_id"), purpose_id=OuterRef("purpose_id"), action=Action.WITHDRAW
    )
    if resolved:
        ReconsentRequest.objects.filter(pk__in=resolved).filter(Exists(current)).update(
            status=ReconsentRequest.Status.RESOLVED, resolved_at=now
        )
    if dismissed:
        ReconsentRequest.objects.filter(pk__in=dismissed).filter(Exists(withdrawn)).update(
            status=ReconsentRequest.Status.DISMISSED, resolved_at=now
        )
