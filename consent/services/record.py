"""Recording consent events: every event goes through consent_events_record_bulk.

The single-event services are batches of one, so the web form, the cookie banner, the unsubscribe
link, imports and the benchmark share one path: validate everything first (nothing is written when
any item is bad), seal the evidence under each subject's key, append to the ledger, and fold into
ConsentState in the same transaction with an upsert that only moves forward ((at, id) is larger),
so late and out-of-order events fold correctly.
"""

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label, actor_user
from inventory.models import DataSubject

from .. import outbox
from ..models import Action, ConsentEvent, ConsentImport, Purpose
from .append import insert_events
from .checks import (
    apply_suppression,
    check_subjects_and_versions,
    find_duplicates,
    parse_events,
    subject_sealing_keys,
)
from .inputs import BulkRecordRejected, BulkRecordResult, ConsentEventInput, EventRow, RecordedItem
from .propagation import opt_outs_propagate
from .state import fold_into_state


def _lock_source(source: str) -> None:
    """Serialise batches of one source on PostgreSQL so the duplicate check can't race (ids are per source)."""
    if connection.vendor == "postgresql":
        key = int.from_bytes(
            hashlib.sha256(f"consent-source:{source}".encode()).digest()[:8], "big", signed=True
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def consent_events_record_bulk(
    *,
    events: Sequence[ConsentEventInput],
    source: str,
    actor: Actor = None,
    notify_withdrawals: bool = False,
    import_batch: ConsentImport | None = None,
    validate_only: bool = False,
    propagate_opt_outs: bool = True,
) -> BulkRecordResult:
    """Record many consent events at once, all or nothing; idempotent by (source, client_event_id).

    Raises BulkRecordRejected listing every bad item. Items already recorded (same source and client
    event id, same subject/purpose/action) come back as `duplicate` and change nothing. A grant for an
    address on the suppression list is recorded as a withdrawal (`suppressed`). With
    `notify_withdrawals`, a withdrawal that ends a grant sends the opt-out confirmation notice.
    Give batches of up to about 10,000 events: one call is one transaction. With `validate_only`,
    only the checks run (BulkRecordRejected or an empty result) and nothing is written. A new withdrawal
    of a marketing purpose reaches every other system with an unsubscribe operation, on commit
    (`propagation.py`), unless `propagate_opt_outs` is off (a case tells its systems itself).
    """
    with transaction.atomic():
        return _record(
            events,
            source=source,
            actor=actor,
            notify_withdrawals=notify_withdrawals,
            import_batch=import_batch,
            validate_only=validate_only,
            propagate_opt_outs=propagate_opt_outs,
        )


def _record(
    events: Sequence[ConsentEventInput],
    *,
    source: str,
    actor: Actor,
    notify_withdrawals: bool,
    import_batch: ConsentImport | None,
    validate_only: bool = False,
    propagate_opt_outs: bool = False,
) -> BulkRecordResult:
    if not events:
        return BulkRecordResult()
    if len(source) > 100:
        raise ValidationError("The source name is longer than 100 characters.")
    now = timezone.now()
    user, label = actor_user(actor), actor_label(actor)
    purposes = {p.code: p for p in Purpose.objects.all()}
    errors: dict[int, list[str]] = defaultdict(list)

    rows = parse_events(events, purposes=purposes, now=now, errors=errors)
    live_subjects = check_subjects_and_versions(rows, errors=errors)
    if any(r.item.client_event_id for r in rows):  # the lock guards the duplicate check of keyed items only
        _lock_source(source)
    duplicates = find_duplicates(rows, source=source, purposes=purposes, errors=errors)
    new_rows = [r for r in rows if r.index not in duplicates]
    keys = subject_sealing_keys(new_rows, live_subjects=live_subjects, errors=errors)
    bad = {i: msgs for i, msgs in errors.items() if msgs}
    if bad:
        raise BulkRecordRejected(bad)
    if validate_only:
        return BulkRecordResult()

    apply_suppression(new_rows)
    insert_events(
        new_rows,
        keys=keys,
        source=source,
        now=now,
        actor=user,
        actor_label=label,
        import_batch=import_batch,
    )
    outcome = fold_into_state(new_rows, purposes=purposes, now=now, notify=notify_withdrawals)
    if propagate_opt_outs:
        opt_outs_propagate(new_rows, purposes=purposes, actor=actor)
    result = _result(len(events), new_rows=new_rows, duplicates=duplicates)
    if notify_withdrawals and outcome.withdrawals_ending_grant:
        result.notices = _notify_withdrawals(outcome.withdrawals_ending_grant, purposes=purposes, actor=actor)
    if result.created:
        subject_ids = {r.item.subject_id for r in rows}
        audit_record(
            action="consent.events_recorded",
            actor=actor,
            target_type="consent.consentevent",
            target_id=new_rows[0].event_id if len(new_rows) == 1 else "",
            subject_id=next(iter(subject_ids)) if len(subject_ids) == 1 else None,
            details={
                "source": source,
                "created": result.created,
                "duplicates": result.duplicates,
                "suppressed": result.suppressed,
                "first_event_id": min(r.event_id for r in new_rows),
                "last_event_id": max(r.event_id for r in new_rows),
                "import": str(import_batch.public_id) if import_batch else "",
            },
        )
    return result


def _result(
    count: int, *, new_rows: list[EventRow], duplicates: dict[int, tuple[int, str]]
) -> BulkRecordResult:
    result = BulkRecordResult()
    by_index = {r.index: r for r in new_rows}
    for index in range(count):
        if index in duplicates:
            pk, receipt = duplicates[index]
            if pk < 0:  # repeated inside this batch: points at the first occurrence
                first = by_index[-pk - 1]
                pk, receipt = first.event_id, first.public_id
            result.items.append(
                RecordedItem(index=index, status="duplicate", event_id=pk, receipt_id=receipt)
            )
            result.duplicates += 1
        else:
            row = by_index[index]
            status = "suppressed" if row.suppressed else "created"
            result.items.append(
                RecordedItem(index=index, status=status, event_id=row.event_id, receipt_id=row.public_id)
            )
            result.created += 1
            result.suppressed += row.suppressed
    return result


def _notify_withdrawals(rows: list[EventRow], *, purposes: Mapping[str, Purpose], actor: Actor) -> int:
    """One opt-out confirmation per subject per batch, naming every purpose the batch withdrew.

    An objection to all marketing withdraws several purposes at once; the person gets one email
    saying so, not one per purpose.
    """
    by_subject: dict[int, list[EventRow]] = defaultdict(list)
    for row in rows:
        by_subject[row.item.subject_id].append(row)
    subjects = DataSubject.objects.in_bulk(list(by_subject))
    withdrawals = []
    for subject_id, group in by_subject.items():
        subject = subjects.get(subject_id)
        if subject is None or subject.erased_at is not None or not subject.email:
            continue  # nowhere to send it; the ledger still proves the withdrawal
        group.sort(key=lambda r: r.item.purpose)
        events = [
            ConsentEvent(
                pk=row.event_id,
                public_id=row.public_id,
                at=row.at,
                language=row.language,
                channel=row.item.channel,
            )
            for row in group
        ]
        withdrawals.append((events, [purposes[row.item.purpose] for row in group], subject))
    if withdrawals:  # one bulk enqueue for the batch: its cost does not grow with the subjects in it
        outbox.opt_out_confirmations_enqueue_many(withdrawals=withdrawals, actor=actor)
    return len(withdrawals)


def consent_record(
    *,
    subject_id: int,
    purpose: str,
    action: str,
    channel: str,
    at: datetime | None = None,
    evidence: Mapping[str, Any] | None = None,
    actor: Actor = None,
    source: str = "",
    client_event_id: str = "",
    collection_point: str = "",
    policy_version: str = "",
    language: str = "en",
    notify: bool = True,
) -> ConsentEvent:
    """Record one consent event (a batch of one). Raises ValidationError with the reasons when invalid."""
    item = ConsentEventInput(
        subject_id=subject_id,
        purpose=purpose,
        action=action,
        channel=channel,
        at=at,
        client_event_id=client_event_id,
        collection_point=collection_point,
        policy_version=policy_version,
        language=language,
        evidence=evidence,
    )
    try:
        result = consent_events_record_bulk(
            events=[item], source=source, actor=actor, notify_withdrawals=notify
        )
    except BulkRecordRejected as exc:
        raise ValidationError(exc.item_errors[0]) from exc
    return ConsentEvent.objects.select_related("purpose").get(pk=result.items[0].event_id)


def consent_grant(
    *,
    subject_id: int,
    purpose: str,
    channel: str,
    at: datetime | None = None,
    evidence: Mapping[str, Any] | None = None,
    actor: Actor = None,
    policy_version: str = "",
    collection_point: str = "",
    language: str = "en",
) -> ConsentEvent:
    """The subject consents to a purpose (recorded as withdrawn if their address is suppressed)."""
    return consent_record(
        subject_id=subject_id,
        purpose=purpose,
        action=Action.GRANT,
        channel=channel,
        at=at,
        evidence=evidence,
        actor=actor,
        policy_version=policy_version,
        collection_point=collection_point,
        language=language,
    )
