"""The consent ledger and its materialised state: every event goes through consent_events_record_bulk.

The single-event services are batches of one, so the web form, the cookie banner, the unsubscribe
link, imports and the benchmark share one path: validate everything first (nothing is written when
any item is bad), seal the evidence under each subject's key, append to the ledger, and fold into
ConsentState in the same transaction with an upsert that only moves forward ((at, id) is larger),
so late and out-of-order events fold correctly.
"""

import hashlib
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label, actor_user
from inventory import crypto
from inventory.models import DataSubject

from .. import evidence as evidence_mod
from .. import outbox
from ..models import (
    CHANNEL_ALIASES,
    Action,
    ConsentEvent,
    ConsentImport,
    ConsentState,
    PolicyVersion,
    Purpose,
    ReconsentRequest,
    SuppressedAddress,
)
from ..selectors import open_reconsent_requests, suppressed_hashes
from ..suppression import subject_email_hmacs
from ._common import (
    _ACTIONS,
    _CHANNELS,
    _UPSERT_CHUNK,
    CLOCK_SKEW,
    COPY_THRESHOLD,
    _chunks,
    _pg_fetch,
)


@dataclass(frozen=True)
class ConsentEventInput:
    """One event to record. `policy_version` is the label of the version shown (PolicyVersion.version)."""

    subject_id: int
    purpose: str
    action: str
    channel: str
    at: datetime | None = None
    client_event_id: str = ""
    collection_point: str = ""
    policy_version: str = ""
    language: str = "en"
    evidence: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RecordedItem:
    index: int
    status: str  # created | duplicate | suppressed (a grant for a suppressed address, recorded as withdrawn)
    event_id: int
    receipt_id: str


@dataclass
class BulkRecordResult:
    items: list[RecordedItem] = field(default_factory=list)
    created: int = 0
    duplicates: int = 0
    suppressed: int = 0
    notices: int = 0


class BulkRecordRejected(ValidationError):
    """Some items are invalid; nothing was recorded. `item_errors` maps item index -> messages."""

    def __init__(self, item_errors: Mapping[int, list[str]]):
        self.item_errors = dict(sorted(item_errors.items()))
        super().__init__(
            f"{len(self.item_errors)} of the events are not valid; nothing was recorded.",
            code="invalid_items",
        )


@dataclass(slots=True)
class _Row:
    index: int
    item: ConsentEventInput
    at: datetime
    collection_point: str
    language: str
    sealed: str  # canonical JSON of the evidence to seal ("" when none): a str is nothing for the GC to trace
    policy_version_id: int | None = None
    action: str = ""
    suppressed: bool = False
    policy_version_label: str = ""
    sealed_text: str = ""
    purpose_pk: int = 0
    event_id: int = 0
    public_id: str = ""


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
) -> BulkRecordResult:
    """Record many consent events at once, all or nothing; idempotent by (source, client_event_id).

    Raises BulkRecordRejected listing every bad item. Items already recorded (same source and client
    event id, same subject/purpose/action) come back as `duplicate` and change nothing. A grant for an
    address on the suppression list is recorded as a withdrawal (`suppressed`). With
    `notify_withdrawals`, a withdrawal that ends a grant sends the opt-out confirmation notice.
    Give batches of up to about 10,000 events: one call is one transaction. With `validate_only`,
    only the checks run (BulkRecordRejected or an empty result) and nothing is written.
    """
    with transaction.atomic():
        return _record(
            events,
            source=source,
            actor=actor,
            notify_withdrawals=notify_withdrawals,
            import_batch=import_batch,
            validate_only=validate_only,
        )


def _record(
    events: Sequence[ConsentEventInput],
    *,
    source: str,
    actor: Actor,
    notify_withdrawals: bool,
    import_batch: ConsentImport | None,
    validate_only: bool = False,
) -> BulkRecordResult:
    if not events:
        return BulkRecordResult()
    if len(source) > 100:
        raise ValidationError("The source name is longer than 100 characters.")
    now = timezone.now()
    user, label = actor_user(actor), actor_label(actor)
    purposes = {p.code: p for p in Purpose.objects.all()}
    errors: dict[int, list[str]] = defaultdict(list)

    rows = _parse(events, purposes=purposes, now=now, errors=errors)
    live_subjects = _check_subjects_and_versions(rows, errors=errors)
    _lock_source(source)
    duplicates = _find_duplicates(rows, source=source, purposes=purposes, errors=errors)
    new_rows = [r for r in rows if r.index not in duplicates]
    keys = _subject_keys(new_rows, live_subjects=live_subjects, errors=errors)
    bad = {i: msgs for i, msgs in errors.items() if msgs}
    if bad:
        raise BulkRecordRejected(bad)
    if validate_only:
        return BulkRecordResult()

    _apply_suppression(new_rows)
    _insert_events(
        new_rows,
        keys=keys,
        source=source,
        now=now,
        actor=user,
        actor_label=label,
        import_batch=import_batch,
    )
    outcome = _fold(new_rows, purposes=purposes, now=now, notify=notify_withdrawals)
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


def _parse(
    events: Sequence[ConsentEventInput], *, purposes: Mapping[str, Purpose], now: datetime, errors: dict
) -> list[_Row]:
    """Check each item on its own (purpose, action, channel, time, sizes) and minimise its evidence."""
    rows: list[_Row] = []
    latest = now + CLOCK_SKEW
    split_evidence, dumps = evidence_mod.split_evidence, evidence_mod.dumps
    for index, item in enumerate(events):
        problems: list[str] = []
        purpose = purposes.get(item.purpose)
        if purpose is None:
            problems.append(f"Unknown purpose '{str(item.purpose)[:40]}'.")
        elif purpose.required:
            problems.append(
                f"'{purpose.name}' is required to provide the Services; it is not based on consent."
            )
        elif not purpose.active:
            problems.append(f"'{purpose.name}' is no longer in use.")
        if item.action not in _ACTIONS:
            problems.append(f"Unknown action '{str(item.action)[:20]}' (use grant or withdraw).")
        channel = CHANNEL_ALIASES.get(item.channel, item.channel)
        if channel not in _CHANNELS:
            problems.append(f"Unknown channel '{str(item.channel)[:20]}'.")
        elif channel != item.channel:
            item = replace(item, channel=channel)
        at = item.at or now
        if not isinstance(at, datetime) or at.utcoffset() is None:  # naive: no time zone
            problems.append("The time must be a date and time with a time zone.")
            at = now
        elif at > latest:
            problems.append("The time is in the future.")
        if len(item.client_event_id or "") > 100:
            problems.append("The client event id is longer than 100 characters.")
        if len(item.language or "") > 10:
            problems.append("The language code is longer than 10 characters.")
        try:
            plain, sealed = split_evidence(item.evidence)
        except ValidationError as exc:
            problems.extend(exc.messages)
            plain, sealed = {}, {}
        if problems:
            errors[index].extend(problems)
        collection_point = item.collection_point or plain.get("form_id") or plain.get("banner_id") or ""
        rows.append(
            _Row(
                index=index,
                item=item,
                at=at,
                collection_point=collection_point[:100],
                language=(item.language or plain.get("language") or "en")[:10],
                sealed=dumps(sealed),
                action=item.action,
                purpose_pk=purpose.pk if purpose is not None else 0,
                policy_version_label=item.policy_version or plain.get("policy_version", ""),
            )
        )
    return rows


def _check_subjects_and_versions(rows: list[_Row], *, errors: dict) -> set[int]:
    """Subjects must exist and not be erased; a policy version shown must be published. Returns live ids."""
    subjects: dict[int, datetime | None] = {}
    wanted = list({r.item.subject_id for r in rows})
    if connection.vendor == "postgresql":
        subjects.update(
            _pg_fetch(
                f"SELECT id, erased_at FROM {DataSubject._meta.db_table} WHERE id = ANY(%s::bigint[])",
                [wanted],
            )
        )
    else:
        for chunk in _chunks(wanted):
            subjects.update(DataSubject.objects.filter(pk__in=chunk).values_list("pk", "erased_at"))
    labels = {r.policy_version_label for r in rows if r.policy_version_label}
    versions = {
        v.version: v
        for v in PolicyVersion.objects.filter(version__in=labels).only("pk", "version", "published_at")
    }
    for row in rows:
        sid = row.item.subject_id
        if sid not in subjects:
            errors[row.index].append("Unknown data subject.")
        elif subjects[sid] is not None:
            errors[row.index].append("The data subject was erased; no consent can be recorded for them.")
        label = row.policy_version_label
        if label:
            version = versions.get(label)
            if version is None:
                errors[row.index].append(f"Unknown policy version '{label[:40]}'.")
            elif version.published_at is None:
                errors[row.index].append(f"Policy version '{label[:40]}' was never published.")
            else:
                row.policy_version_id = version.pk
    return {sid for sid, erased_at in subjects.items() if erased_at is None}


def _find_duplicates(
    rows: list[_Row], *, source: str, purposes: Mapping[str, Purpose], errors: dict
) -> dict[int, tuple[int, str]]:
    """Items whose client event id this source already sent (or sent earlier in this batch).

    Returns index -> (event id, receipt id); a negative event id points at the earlier item of this
    batch (-index - 1) and is resolved once that item is written. A reused id for a different event is
    an error, never a silent overwrite.
    """
    codes = {p.pk: p.code for p in purposes.values()}
    keyed = [r for r in rows if r.item.client_event_id]
    existing: dict[str, tuple] = {}
    wanted = list({r.item.client_event_id for r in keyed})
    if wanted and connection.vendor == "postgresql":
        # One index probe per id (LIMIT 1 keeps the lateral subquery a parameterised index scan): with
        # `client_event_id = ANY(...)` the planner may instead scan every row of the source and filter,
        # e.g. while the statistics still describe a smaller table during a big import.
        for found in _pg_fetch(
            "SELECT e.client_event_id, e.id, e.public_id, e.subject_id, e.purpose_id, e.action, e.suppressed "
            "FROM unnest(%b::varchar[]) AS wanted(client_event_id) CROSS JOIN LATERAL ("
            "SELECT client_event_id, id, public_id, subject_id, purpose_id, action, suppressed "
            f"FROM {ConsentEvent._meta.db_table} WHERE source = %s "
            "AND client_event_id = wanted.client_event_id AND client_event_id <> '' LIMIT 1) AS e",
            [wanted, source],
        ):
            existing[found[0]] = found[1:]
    else:
        for chunk in _chunks(wanted):
            for found in (
                ConsentEvent.objects.filter(source=source, client_event_id__in=chunk)
                .exclude(client_event_id="")
                .values_list(
                    "client_event_id", "pk", "public_id", "subject_id", "purpose_id", "action", "suppressed"
                )
            ):
                existing[found[0]] = found[1:]
    duplicates: dict[int, tuple[int, str]] = {}
    first_in_batch: dict[str, _Row] = {}
    for row in keyed:
        item = row.item
        cid = item.client_event_id
        if cid not in existing and cid not in first_in_batch:  # the common case: a new id
            first_in_batch[cid] = row
            continue
        same = (item.subject_id, item.purpose, item.action)
        if cid in existing:
            pk, public_id, sid, purpose_id, action, was_suppressed = existing[cid]
            recorded_as = Action.GRANT if was_suppressed else action
            if (sid, codes.get(purpose_id), recorded_as) != same:
                errors[row.index].append("This client event id was already used for a different event.")
            else:
                duplicates[row.index] = (pk, str(public_id))
        else:
            first = first_in_batch[cid]
            if (first.item.subject_id, first.item.purpose, first.item.action) != same:
                errors[row.index].append(
                    "This client event id appears twice in the batch for different events."
                )
            else:
                duplicates[row.index] = (-first.index - 1, "")
    return duplicates


def _subject_keys(
    rows: list[_Row], *, live_subjects: set[int], errors: dict
) -> dict[int, crypto.SealingKey | None]:
    """Data keys of the subjects whose evidence must be sealed, unwrapped once per batch (one query per 5,000)."""
    wanted = {r.item.subject_id for r in rows if r.sealed and r.item.subject_id in live_subjects}
    keys: dict[int, crypto.SealingKey | None] = {}
    for chunk in _chunks(list(wanted)):
        keys.update(crypto.sealing_keys_for_subjects(chunk))
    destroyed = {sid for sid in wanted if keys.get(sid) is None}
    for row in rows if destroyed else ():
        if row.sealed and row.item.subject_id in destroyed:
            errors[row.index].append("The data subject's key was destroyed; evidence can't be stored.")
    return keys


def _apply_suppression(rows: list[_Row]) -> None:
    """CAN-SPAM §7704, GDPR Art. 21(3): a grant for a suppressed address is recorded as a withdrawal."""
    grants = [r for r in rows if r.action == Action.GRANT]
    if not grants or not SuppressedAddress.objects.exists():
        return
    hashes_by_subject = subject_email_hmacs({r.item.subject_id for r in grants})
    listed = suppressed_hashes(
        hashes={h for hs in hashes_by_subject.values() for h in hs},
        purposes={r.item.purpose for r in grants},
    )
    for row in grants:
        if any((h, row.item.purpose) in listed for h in hashes_by_subject.get(row.item.subject_id, ())):
            row.action = Action.WITHDRAW
            row.suppressed = True


def _result(count: int, *, new_rows: list[_Row], duplicates: dict[int, tuple[int, str]]) -> BulkRecordResult:
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


def _uuid4_strings(count: int) -> list[str]:
    """Random (version 4) UUIDs as text, as str(uuid.uuid4()) gives, from one os.urandom call."""
    pool = bytearray(os.urandom(16 * count))
    found = []
    for start in range(0, 16 * count, 16):
        pool[start + 6] = (pool[start + 6] & 0x0F) | 0x40  # version 4
        pool[start + 8] = (pool[start + 8] & 0x3F) | 0x80  # RFC 4122 variant
        h = pool[start : start + 16].hex()
        found.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return found


def _seal_evidence(rows: Sequence[_Row], keys: Mapping[int, crypto.SealingKey | None]) -> None:
    """Seal each row's minimised evidence under its subject's data key (rows without evidence stay "")."""
    to_seal = [r for r in rows if r.sealed]
    sealed = crypto.seal_many([(keys[r.item.subject_id], r.sealed) for r in to_seal])
    for row, text in zip(to_seal, sealed, strict=True):
        row.sealed_text = text


# The COPY path seals this many rows at a time, while the server is still inserting the rows already sent.
_SEAL_CHUNK = 250


def _insert_events(
    rows: list[_Row],
    *,
    keys: Mapping[int, crypto.SealingKey | None],
    source: str,
    now: datetime,
    actor: Actor,
    actor_label: str,
    import_batch: ConsentImport | None,
) -> None:
    """Seal the evidence, append rows to the ledger, set each row's event_id/public_id.

    COPY on PostgreSQL for big batches; otherwise bulk_create.
    """
    if not rows:
        return
    for row, public_id in zip(rows, _uuid4_strings(len(rows)), strict=True):
        row.public_id = public_id
    actor_id = actor.pk if actor is not None else None
    import_id = import_batch.pk if import_batch is not None else None
    if connection.vendor == "postgresql" and len(rows) >= COPY_THRESHOLD:
        _copy_events(
            rows,
            keys=keys,
            source=source,
            now=now,
            actor_id=actor_id,
            actor_label=actor_label,
            import_id=import_id,
        )
        return
    _seal_evidence(rows, keys)
    objs = [
        ConsentEvent(
            public_id=row.public_id,
            subject_id=row.item.subject_id,
            purpose_id=row.purpose_pk,
            action=row.action,
            at=row.at,
            recorded_at=now,
            channel=row.item.channel,
            source=source,
            client_event_id=row.item.client_event_id or "",
            collection_point=row.collection_point,
            policy_version_id=row.policy_version_id,
            language=row.language,
            evidence=row.sealed_text,
            suppressed=row.suppressed,
            import_batch_id=import_id,
            actor_id=actor_id,
            actor_label=actor_label,
        )
        for row in rows
    ]
    ConsentEvent.objects.bulk_create(objs, batch_size=1000)
    for row, obj in zip(rows, objs, strict=True):
        row.event_id = obj.pk


_COPY_COLUMNS = (
    "id", "public_id", "subject_id", "purpose_id", "action", "at", "recorded_at", "channel", "source",
    "client_event_id", "collection_point", "policy_version_id", "language", "evidence", "suppressed",
    "import_batch_id", "actor_id", "actor_label",
)  # fmt: skip


def _copy_events(
    rows: list[_Row],
    *,
    keys: Mapping[int, crypto.SealingKey | None],
    source: str,
    now: datetime,
    actor_id: int | None,
    actor_label: str,
    import_id: int | None,
) -> None:
    table = ConsentEvent._meta.db_table
    with connection.cursor() as cursor:
        # Ids come from the table's own sequence, in order, so the fold's tie-break (by id) follows input order.
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, len(rows)])
        ids = sorted(r[0] for r in cursor.fetchall())
        columns = ", ".join(_COPY_COLUMNS)
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            write_row = copy.write_row
            for start in range(0, len(rows), _SEAL_CHUNK):
                chunk = rows[start : start + _SEAL_CHUNK]
                _seal_evidence(chunk, keys)  # overlaps with the server inserting the rows sent so far
                for event_id, row in zip(ids[start : start + _SEAL_CHUNK], chunk, strict=True):
                    row.event_id = event_id
                    item = row.item
                    write_row(
                        (
                            event_id,
                            row.public_id,
                            item.subject_id,
                            row.purpose_pk,
                            row.action,
                            row.at,
                            now,
                            item.channel,
                            source,
                            item.client_event_id or "",
                            row.collection_point,
                            row.policy_version_id,
                            row.language,
                            row.sealed_text,
                            row.suppressed,
                            import_id,
                            actor_id,
                            actor_label,
                        )
                    )


@dataclass
class _FoldOutcome:
    withdrawals_ending_grant: list[_Row] = field(default_factory=list)


def _fold(rows: list[_Row], *, purposes: Mapping[str, Purpose], now: datetime, notify: bool) -> _FoldOutcome:
    """Move ConsentState forward to the latest (at, id) per (subject, purpose), in this transaction."""
    outcome = _FoldOutcome()
    if not rows:
        return outcome
    best: dict[tuple[int, str], _Row] = {}
    for row in rows:
        pair = (row.item.subject_id, row.item.purpose)
        current = best.get(pair)
        if current is None or (row.at, row.event_id) > (current.at, current.event_id):
            best[pair] = row
    winners = sorted(best.values(), key=lambda r: (r.item.subject_id, r.item.purpose))  # one lock order

    prior: dict[tuple[int, int], tuple[str, datetime, int]] = {}
    withdrawing = [
        r for r in winners if r.action == Action.WITHDRAW and purposes[r.item.purpose].confirm_withdrawal
    ]
    if notify and withdrawing:
        subject_ids = list({r.item.subject_id for r in withdrawing})
        for chunk in _chunks(subject_ids):
            for sid, purpose, action, at, event_id in ConsentState.objects.filter(
                subject_id__in=chunk
            ).values_list("subject_id", "purpose_id", "action", "at", "event_id"):
                prior[(sid, purpose)] = (action, at, event_id)

    _upsert_states(winners, purposes=purposes, now=now)

    for row in withdrawing:
        before = prior.get((row.item.subject_id, row.purpose_pk))
        newer = before is None or (row.at, row.event_id) > (before[1], before[2])
        if newer and (before is None or before[0] == Action.GRANT):
            outcome.withdrawals_ending_grant.append(row)

    _settle_reconsent_requests(winners, now=now)
    return outcome


_STATE_COLUMNS = "subject_id, purpose_id, action, at, event_id, expires_at, updated_at"


def _upsert_states(winners: list[_Row], *, purposes: Mapping[str, Purpose], now: datetime) -> None:
    """INSERT ... ON CONFLICT DO UPDATE ... WHERE (at, id) is newer: atomic per row, order-independent."""
    ops = connection.ops
    table = ops.quote_name(ConsentState._meta.db_table)
    tail = (
        " ON CONFLICT (subject_id, purpose_id) DO UPDATE SET action = excluded.action, at = excluded.at, "
        "event_id = excluded.event_id, expires_at = excluded.expires_at, updated_at = excluded.updated_at "
        f"WHERE {table}.at < excluded.at OR ({table}.at = excluded.at AND {table}.event_id < excluded.event_id)"
    )
    rows = []
    for row in winners:
        lifetime = purposes[row.item.purpose].consent_lifetime_days
        expires = row.at + timedelta(days=lifetime) if row.action == Action.GRANT and lifetime else None
        rows.append((row.item.subject_id, row.purpose_pk, row.action, row.at, row.event_id, expires))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement with array parameters bound server-side (binary): no per-row placeholders
            # to build, and no array text for the server to parse.
            columns = list(zip(*rows, strict=True))
            with psycopg.Cursor(cursor.connection) as bound:
                bound.execute(
                    f"INSERT INTO {table} ({_STATE_COLUMNS}) SELECT s, p, a, t, e, x, %s FROM unnest("
                    "%b::bigint[], %b::bigint[], %b::varchar[], %b::timestamptz[], %b::bigint[], %b::timestamptz[]"
                    f") AS u(s, p, a, t, e, x){tail}",
                    [now, *[list(c) for c in columns]],
                )
            return
        stamp = ops.adapt_datetimefield_value(now)
        for chunk in _chunks(rows, _UPSERT_CHUNK):
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


def _settle_reconsent_requests(winners: list[_Row], *, now: datetime) -> None:
    """A new grant resolves an open re-consent request; a withdrawal makes asking again pointless."""
    if not winners or not ReconsentRequest.objects.filter(status=ReconsentRequest.Status.OPEN).exists():
        return
    by_pair = {(r.item.subject_id, r.purpose_pk): r for r in winners}
    resolved, dismissed = [], []
    for chunk in _chunks(list({r.item.subject_id for r in winners})):
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


def _notify_withdrawals(rows: list[_Row], *, purposes: Mapping[str, Purpose], actor: Actor) -> int:
    """One opt-out confirmation per subject per batch, naming every purpose the batch withdrew.

    An objection to all marketing withdraws several purposes at once; the person gets one email
    saying so, not one per purpose.
    """
    by_subject: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        by_subject[row.item.subject_id].append(row)
    subjects = DataSubject.objects.in_bulk(list(by_subject))
    sent = 0
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
        outbox.opt_out_confirmation_enqueue(
            events=events,
            purposes=[purposes[row.item.purpose] for row in group],
            subject=subject,
            actor=actor,
        )
        sent += 1
    return sent


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


@transaction.atomic
def consent_withdraw(
    *,
    subject_id: int,
    purpose: str,
    channel: str,
    actor: Actor = None,
    evidence: Mapping[str, Any] | None = None,
) -> ConsentEvent:
    """Withdraw consent now (GDPR Art. 7(3), 21(3)) and confirm it with the opt-out notice.

    Idempotent: when the current state is already a withdrawal, the existing event is returned and
    nothing is recorded or sent. The state row is locked so two clicks can't both record.
    """
    (event,) = consent_withdraw_purposes(
        subject_id=subject_id, purposes=[purpose], channel=channel, actor=actor, evidence=evidence
    )
    return event


@transaction.atomic
def consent_withdraw_purposes(
    *,
    subject_id: int,
    purposes: Sequence[str],
    channel: str,
    actor: Actor = None,
    evidence: Mapping[str, Any] | None = None,
) -> list[ConsentEvent]:
    """Withdraw several purposes at once (an objection, an opt-out request) with one confirmation.

    Idempotent like `consent_withdraw`: purposes already withdrawn keep their event and are neither
    recorded again nor confirmed again. The state rows are locked so two clicks can't both record.
    Returns the current withdrawal event of each purpose, in the order given.
    """
    codes = list(dict.fromkeys(purposes))
    found = {p.code: p for p in Purpose.objects.filter(code__in=codes)}
    for code in codes:
        if code not in found:
            raise ValidationError(f"Unknown purpose '{str(code)[:40]}'.")
        if found[code].required:
            raise ValidationError(
                f"'{found[code].name}' is required to provide the Services and can't be withdrawn."
            )
    states = {
        state.purpose_id: state
        for state in ConsentState.objects.select_for_update()
        .filter(subject_id=subject_id, purpose__code__in=codes)
        .select_related("event")
    }
    done = {
        code: states[found[code].pk].event
        for code in codes
        if found[code].pk in states and states[found[code].pk].action == Action.WITHDRAW
    }
    todo = [code for code in codes if code not in done]
    if todo:
        items = [
            ConsentEventInput(
                subject_id=subject_id,
                purpose=code,
                action=Action.WITHDRAW,
                channel=channel,
                evidence=evidence,
            )
            for code in todo
        ]
        try:
            result = consent_events_record_bulk(events=items, source="", actor=actor, notify_withdrawals=True)
        except BulkRecordRejected as exc:
            raise ValidationError(next(iter(exc.item_errors.values()))) from exc
        recorded = ConsentEvent.objects.select_related("purpose").in_bulk(
            [item.event_id for item in result.items]
        )
        for code, item in zip(todo, result.items, strict=True):
            done[code] = recorded[item.event_id]
    return [done[code] for code in codes]


@transaction.atomic
def consent_withdraw_all_marketing(
    *, subject_id: int, channel: str, actor: Actor = None, evidence: Mapping[str, Any] | None = None
) -> list[ConsentEvent]:
    """Objection to direct marketing (GDPR Art. 21(3)): withdraw every marketing purpose at once."""
    return consent_withdraw_purposes(
        subject_id=subject_id,
        purposes=list(
            Purpose.objects.filter(is_marketing=True, required=False, active=True)
            .order_by("code")
            .values_list("code", flat=True)
        ),
        channel=channel,
        actor=actor,
        evidence=evidence,
    )
