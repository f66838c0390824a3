"""Writes to the consent ledger, its materialised state, the suppression list and policy versions.

Every event goes through `consent_events_record_bulk` (the single-event services are batches of
one), so the web form, the cookie banner, the unsubscribe link, imports and the benchmark share one
path: validate everything first (nothing is written when any item is bad), seal the evidence under
each subject's key, append to the ledger, and fold into ConsentState in the same transaction with an
upsert that only moves forward ((at, id) is larger), so late and out-of-order events fold correctly.
"""

import hashlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.services import audit_record
from inventory import crypto
from inventory.models import DataSubject

from . import evidence as evidence_mod
from . import outbox
from .models import (
    Action,
    Channel,
    ConsentEvent,
    ConsentImport,
    ConsentState,
    PolicyVersion,
    Purpose,
    ReconsentRequest,
    SuppressedAddress,
)
from .selectors import open_reconsent_requests, suppressed_hashes
from .suppression import email_hmac, subject_email_addresses, subject_email_hmacs

logger = logging.getLogger(__name__)

# A consent can't be dated in the future; allow for the sending system's clock running a bit fast.
CLOCK_SKEW = timedelta(minutes=5)
# From this many rows a batch is written with COPY on PostgreSQL (ids allocated from the sequence).
COPY_THRESHOLD = 200
_CHUNK = 5000
_UPSERT_CHUNK = 500
# Enum .values is recomputed on every access: hot loops use these.
_ACTIONS = frozenset(Action.values)
_CHANNELS = frozenset(Channel.values)


def _actor_fields(actor: Any) -> tuple[Any, str]:
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor[:150]
    return actor, actor.get_username()


def _chunks(seq: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


# --- recording events -----------------------------------------------------------------------------


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


@dataclass(frozen=True)
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


@dataclass
class _Row:
    index: int
    item: ConsentEventInput
    at: datetime
    collection_point: str
    language: str
    sealed: dict[str, str]
    policy_version_id: int | None = None
    action: str = ""
    suppressed: bool = False
    policy_version_label: str = ""
    sealed_text: str = ""
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
    actor: Any = None,
    notify_withdrawals: bool = False,
    import_batch: ConsentImport | None = None,
    validate_only: bool = False,
) -> BulkRecordResult:
    """Record many consent events at once, all or nothing; idempotent by (source, client_event_id).

    Raises BulkRecordRejected listing every bad item. Items already recorded (same source and client
    event id, same subject/purpose/action) come back as `duplicate` and change nothing. A grant for an
    address on the suppression list is recorded as a withdrawal (`suppressed`). With
    `notify_withdrawals`, a withdrawal that ends a grant sends the opt-out confirmation notice.
    Give batches of up to about 10,000 events: one call is one transaction.
    """
    with transaction.atomic():
        return _record(
            events,
            source=source,
            actor=actor,
            notify_withdrawals=notify_withdrawals,
            import_batch=import_batch,
        )


def _record(
    events: Sequence[ConsentEventInput],
    *,
    source: str,
    actor: Any,
    notify_withdrawals: bool,
    import_batch: ConsentImport | None,
    validate_only: bool = False,
) -> BulkRecordResult:
    now = timezone.now()
    user, actor_label = _actor_fields(actor)
    result = BulkRecordResult()
    if not events:
        return result
    errors: dict[int, list[str]] = defaultdict(list)
    if len(source) > 100:
        raise ValidationError("The source name is longer than 100 characters.")
    purposes = {p.code: p for p in Purpose.objects.all()}

    rows: list[_Row] = []
    for index, item in enumerate(events):
        problems = errors[index]
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
        if item.channel not in _CHANNELS:
            problems.append(f"Unknown channel '{str(item.channel)[:20]}'.")
        at = item.at or now
        if not isinstance(at, datetime) or timezone.is_naive(at):
            problems.append("The time must be a date and time with a time zone.")
            at = now
        elif at > now + CLOCK_SKEW:
            problems.append("The time is in the future.")
        if len(item.client_event_id or "") > 100:
            problems.append("The client event id is longer than 100 characters.")
        if len(item.language or "") > 10:
            problems.append("The language code is longer than 10 characters.")
        try:
            plain, sealed = evidence_mod.split_evidence(item.evidence)
        except ValidationError as exc:
            problems.extend(exc.messages)
            plain, sealed = {}, {}
        collection_point = (item.collection_point or plain.get("form_id") or plain.get("banner_id") or "")[
            :100
        ]
        rows.append(
            _Row(
                index=index,
                item=item,
                at=at,
                collection_point=collection_point,
                language=(item.language or plain.get("language") or "en")[:10],
                sealed=sealed,
                action=item.action,
                policy_version_label=item.policy_version or plain.get("policy_version", ""),
            )
        )

    subject_ids = list({r.item.subject_id for r in rows})
    subjects: dict[int, datetime | None] = {}
    for chunk in _chunks(subject_ids):
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

    # Idempotency: the same client event id from the same source is recorded once.
    _lock_source(source)
    keyed = [r for r in rows if r.item.client_event_id]
    existing: dict[str, tuple] = {}
    for chunk in _chunks(list({r.item.client_event_id for r in keyed})):
        for row in (
            ConsentEvent.objects.filter(source=source, client_event_id__in=chunk)
            .exclude(client_event_id="")
            .values_list(
                "client_event_id", "pk", "public_id", "subject_id", "purpose_id", "action", "suppressed"
            )
        ):
            existing[row[0]] = row[1:]
    duplicates: dict[int, tuple[int, str, str]] = {}  # index -> (event id, receipt id, status)
    first_in_batch: dict[str, _Row] = {}
    for row in keyed:
        cid = row.item.client_event_id
        same = (row.item.subject_id, row.item.purpose, row.item.action)
        if cid in existing:
            pk, public_id, sid, purpose, action, was_suppressed = existing[cid]
            recorded_as = Action.GRANT if was_suppressed else action
            if (sid, purpose, recorded_as) != same:
                errors[row.index].append("This client event id was already used for a different event.")
            else:
                duplicates[row.index] = (pk, str(public_id), "duplicate")
        elif cid in first_in_batch:
            first = first_in_batch[cid]
            if (first.item.subject_id, first.item.purpose, first.item.action) != same:
                errors[row.index].append(
                    "This client event id appears twice in the batch for different events."
                )
            else:
                duplicates[row.index] = (-first.index - 1, "", "duplicate")  # resolved after insert
        else:
            first_in_batch[cid] = row

    new_rows = [r for r in rows if r.index not in duplicates]
    keys: dict[int, Any] = {}
    needs_key = list({r.item.subject_id for r in new_rows if r.sealed and r.item.subject_id in subjects})
    for chunk in _chunks(needs_key):
        keys.update(crypto.keys_for_subjects(chunk))
    for row in new_rows:
        if row.sealed and row.item.subject_id in subjects and keys.get(row.item.subject_id) is None:
            errors[row.index].append("The data subject's key was destroyed; evidence can't be stored.")

    bad = {i: msgs for i, msgs in errors.items() if msgs}
    if bad:
        raise BulkRecordRejected(bad)
    if validate_only:
        return result

    # Suppression list (CAN-SPAM, GDPR Art. 21(3)): a grant for a suppressed address becomes a withdrawal.
    grants = [r for r in new_rows if r.action == Action.GRANT]
    if grants and SuppressedAddress.objects.exists():
        hashes_by_subject = subject_email_hmacs({r.item.subject_id for r in grants})
        listed = suppressed_hashes(
            hashes={h for hs in hashes_by_subject.values() for h in hs},
            purposes={r.item.purpose for r in grants},
        )
        for row in grants:
            if any((h, row.item.purpose) in listed for h in hashes_by_subject.get(row.item.subject_id, ())):
                row.action = Action.WITHDRAW
                row.suppressed = True

    for row in new_rows:
        key = keys.get(row.item.subject_id)
        row.sealed_text = crypto.seal(key, evidence_mod.dumps(row.sealed)) if row.sealed else ""

    _insert_events(
        new_rows, source=source, now=now, actor=user, actor_label=actor_label, import_batch=import_batch
    )

    winners = _fold(new_rows, purposes=purposes, now=now, notify=notify_withdrawals)
    notified = 0
    if notify_withdrawals and winners.withdrawals_ending_grant:
        notified = _notify_withdrawals(winners.withdrawals_ending_grant, purposes=purposes, actor=actor)

    by_index = {r.index: r for r in new_rows}
    for index in range(len(events)):
        if index in duplicates:
            pk, receipt, status = duplicates[index]
            if pk < 0:  # repeated inside this batch: points at the first occurrence
                first = by_index[-pk - 1]
                pk, receipt = first.event_id, first.public_id
            result.items.append(RecordedItem(index=index, status=status, event_id=pk, receipt_id=receipt))
            result.duplicates += 1
        else:
            row = by_index[index]
            status = "suppressed" if row.suppressed else "created"
            result.items.append(
                RecordedItem(index=index, status=status, event_id=row.event_id, receipt_id=row.public_id)
            )
            result.created += 1
            result.suppressed += row.suppressed
    result.notices = notified

    if result.created:
        single = new_rows[0].item.subject_id if len(subject_ids) == 1 else None
        audit_record(
            action="consent.events_recorded",
            actor=actor,
            target_type="consent.consentevent",
            target_id=new_rows[0].event_id if len(new_rows) == 1 else "",
            subject_id=single,
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


def _insert_events(
    rows: list[_Row],
    *,
    source: str,
    now: datetime,
    actor: Any,
    actor_label: str,
    import_batch: ConsentImport | None,
) -> None:
    """Append rows to the ledger and set each row's event_id/public_id (COPY on PostgreSQL for big batches)."""
    if not rows:
        return
    for row in rows:
        row.public_id = str(uuid.uuid4())
    actor_id = actor.pk if actor is not None else None
    import_id = import_batch.pk if import_batch is not None else None
    if connection.vendor == "postgresql" and len(rows) >= COPY_THRESHOLD:
        _copy_events(
            rows, source=source, now=now, actor_id=actor_id, actor_label=actor_label, import_id=import_id
        )
        return
    objs = [
        ConsentEvent(
            public_id=row.public_id,
            subject_id=row.item.subject_id,
            purpose_id=row.item.purpose,
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
    "id", "public_id", "subject_id", "purpose_code", "action", "at", "recorded_at", "channel", "source",
    "client_event_id", "collection_point", "policy_version_id", "language", "evidence", "suppressed",
    "import_batch_id", "actor_id", "actor_label",
)  # fmt: skip


def _copy_events(
    rows: list[_Row],
    *,
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
            for event_id, row in zip(ids, rows, strict=True):
                row.event_id = event_id
                copy.write_row(
                    (
                        event_id,
                        row.public_id,
                        row.item.subject_id,
                        row.item.purpose,
                        row.action,
                        row.at,
                        now,
                        row.item.channel,
                        source,
                        row.item.client_event_id or "",
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

    prior: dict[tuple[int, str], tuple[str, datetime, int]] = {}
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
        before = prior.get((row.item.subject_id, row.item.purpose))
        newer = before is None or (row.at, row.event_id) > (before[1], before[2])
        if newer and (before is None or before[0] == Action.GRANT):
            outcome.withdrawals_ending_grant.append(row)

    _settle_reconsent_requests(winners, now=now)
    return outcome


_STATE_COLUMNS = "subject_id, purpose_code, action, at, event_id, expires_at, updated_at"


def _upsert_states(winners: list[_Row], *, purposes: Mapping[str, Purpose], now: datetime) -> None:
    """INSERT ... ON CONFLICT DO UPDATE ... WHERE (at, id) is newer: atomic per row, order-independent."""
    ops = connection.ops
    table = ops.quote_name(ConsentState._meta.db_table)
    tail = (
        " ON CONFLICT (subject_id, purpose_code) DO UPDATE SET action = excluded.action, at = excluded.at, "
        "event_id = excluded.event_id, expires_at = excluded.expires_at, updated_at = excluded.updated_at "
        f"WHERE {table}.at < excluded.at OR ({table}.at = excluded.at AND {table}.event_id < excluded.event_id)"
    )
    rows = []
    for row in winners:
        lifetime = purposes[row.item.purpose].consent_lifetime_days
        expires = row.at + timedelta(days=lifetime) if row.action == Action.GRANT and lifetime else None
        rows.append((row.item.subject_id, row.item.purpose, row.action, row.at, row.event_id, expires))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement with array parameters bound server-side (binary): no per-row placeholders
            # to build, and no array text for the server to parse.
            columns = list(zip(*rows, strict=True))
            with psycopg.Cursor(cursor.connection) as bound:
                bound.execute(
                    f"INSERT INTO {table} ({_STATE_COLUMNS}) SELECT s, p, a, t, e, x, %s FROM unnest("
                    "%s::bigint[], %s::varchar[], %s::varchar[], %s::timestamptz[], %s::bigint[], %s::timestamptz[]"
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
    by_pair = {(r.item.subject_id, r.item.purpose): r for r in winners}
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


def _notify_withdrawals(rows: list[_Row], *, purposes: Mapping[str, Purpose], actor: Any) -> int:
    subjects = DataSubject.objects.in_bulk([r.item.subject_id for r in rows])
    sent = 0
    for row in rows:
        subject = subjects.get(row.item.subject_id)
        if subject is None or subject.erased_at is not None or not subject.email:
            continue  # nowhere to send it; the ledger still proves the withdrawal
        event = ConsentEvent(pk=row.event_id, public_id=row.public_id, at=row.at, language=row.language)
        outbox.opt_out_confirmation_enqueue(
            event=event, purpose=purposes[row.item.purpose], subject=subject, actor=actor
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
    actor: Any = None,
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
    actor: Any = None,
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
    actor: Any = None,
    evidence: Mapping[str, Any] | None = None,
) -> ConsentEvent:
    """Withdraw consent now (GDPR Art. 7(3), 21(3)) and confirm it with the opt-out notice.

    Idempotent: when the current state is already a withdrawal, the existing event is returned and
    nothing is recorded or sent. The state row is locked so two clicks can't both record.
    """
    found = Purpose.objects.filter(code=purpose).first()
    if found is None:
        raise ValidationError(f"Unknown purpose '{str(purpose)[:40]}'.")
    if found.required:
        raise ValidationError(f"'{found.name}' is required to provide the Services and can't be withdrawn.")
    state = (
        ConsentState.objects.select_for_update()
        .filter(subject_id=subject_id, purpose_id=purpose)
        .select_related("event")
        .first()
    )
    if state is not None and state.action == Action.WITHDRAW:
        return state.event
    return consent_record(
        subject_id=subject_id,
        purpose=purpose,
        action=Action.WITHDRAW,
        channel=channel,
        evidence=evidence,
        actor=actor,
        notify=True,
    )


@transaction.atomic
def consent_withdraw_all_marketing(
    *, subject_id: int, channel: str, actor: Any = None, evidence: Mapping[str, Any] | None = None
) -> list[ConsentEvent]:
    """Objection to direct marketing (GDPR Art. 21(3)): withdraw every marketing purpose at once."""
    return [
        consent_withdraw(subject_id=subject_id, purpose=code, channel=channel, actor=actor, evidence=evidence)
        for code in Purpose.objects.filter(is_marketing=True, required=False, active=True)
        .order_by("code")
        .values_list("code", flat=True)
    ]


# --- suppression ----------------------------------------------------------------------------------


def consent_suppress_before_erasure(*, subject_id: int) -> int:
    """Erasure hook: keep only keyed hashes of an opted-out subject's addresses (runs inside the erasure).

    For each purpose the subject withdrew, every email address (primary and contact points) goes to the
    suppression list, so no later list import can re-subscribe them. Returns the rows added.
    """
    subject = DataSubject.objects.filter(pk=subject_id).values("erased_at").first()
    if subject is None or subject["erased_at"] is not None:
        return 0  # already erased: the addresses are gone (and were suppressed the first time)
    withdrawn = list(
        ConsentState.objects.filter(subject_id=subject_id, action=Action.WITHDRAW).values_list(
            "purpose_id", flat=True
        )
    )
    if not withdrawn:
        return 0
    addresses = subject_email_addresses([subject_id]).get(subject_id, set())
    return _suppress(
        hashes={email_hmac(a) for a in addresses},
        purposes=withdrawn,
        reason=SuppressedAddress.Reason.ERASED_AFTER_OPT_OUT,
        actor="erasure",
        subject_id=subject_id,
    )


def _suppress(
    *, hashes: set[str], purposes: Iterable[str], reason: str, actor: Any, subject_id: int | None = None
) -> int:
    if not hashes:
        return 0
    purposes = sorted(set(purposes))
    _, label = _actor_fields(actor)
    already = set(
        SuppressedAddress.objects.filter(email_hmac__in=hashes, purpose_id__in=purposes).values_list(
            "email_hmac", "purpose_id"
        )
    )
    new = [
        SuppressedAddress(email_hmac=h, purpose_id=p, reason=reason, created_by_label=label)
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
def suppression_add(*, email: str, purposes: Iterable[str] | None = None, actor: Any = None) -> int:
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
def suppression_lift(*, suppressed_id: int, reason: str, actor: Any = None) -> None:
    """Remove an address from the list, e.g. when the person asks to be marketed to again. Needs a reason."""
    if not (reason or "").strip():
        raise ValidationError("Say why the suppression is lifted.")
    row = SuppressedAddress.objects.select_for_update().filter(pk=suppressed_id).first()
    if row is None:
        raise ValidationError("That suppression no longer exists.")
    details = {"purpose": row.purpose_id, "hash_prefix": row.email_hmac[:12], "reason": reason.strip()[:200]}
    row.delete()
    audit_record(
        action="consent.suppression_lifted",
        actor=actor,
        target_type="consent.suppressedaddress",
        target_id=suppressed_id,
        details=details,
    )


# --- purposes and policy versions -----------------------------------------------------------------


_PURPOSE_EDITABLE = {
    "name",
    "service",
    "description",
    "legal_basis",
    "is_marketing",
    "confirm_withdrawal",
    "consent_lifetime_days",
    "receipt_purpose_category",
    "third_party_disclosure",
    "policy_reference",
    "active",
}


@transaction.atomic
def purpose_update(*, purpose: Purpose, changes: Mapping[str, Any], actor: Any = None) -> Purpose:
    """Edit a purpose's description and settings. The code and `required` never change (ledger rows use them).

    A new lifetime applies to consents given from now on; existing expiry dates stay as they were promised.
    """
    unknown = set(changes) - _PURPOSE_EDITABLE
    if unknown:
        raise ValidationError(f"These purpose fields can't be changed: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(purpose, name, value)
    purpose.full_clean()
    purpose.save()
    audit_record(
        action="consent.purpose_updated", actor=actor, target=purpose, details={"fields": sorted(changes)}
    )
    return purpose


@transaction.atomic
def purpose_create(
    *, code: str, name: str, service: str, description: str, legal_basis: str, actor: Any = None, **extra: Any
) -> Purpose:
    unknown = set(extra) - _PURPOSE_EDITABLE - {"required"}
    if unknown:
        raise ValidationError(f"Unknown purpose fields: {', '.join(sorted(unknown))}.")
    purpose = Purpose(
        code=code, name=name, service=service, description=description, legal_basis=legal_basis, **extra
    )
    purpose.full_clean()
    purpose.save()
    audit_record(action="consent.purpose_created", actor=actor, target=purpose, details={"code": code})
    return purpose


def policy_text_sha256(text: str) -> str:
    """Hash of the text with normalised line endings, so the same text always gives the same hash."""
    normalized = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    return hashlib.sha256(normalized.encode()).hexdigest()


@transaction.atomic
def policy_version_create(
    *, version: str, effective_on: date, text: str, url: str = "", summary: str = "", actor: Any = None
) -> PolicyVersion:
    """Store a new (unpublished) version of the privacy policy with the hash of its text."""
    if not (text or "").strip():
        raise ValidationError("The policy text is empty.")
    sha = policy_text_sha256(text)
    if PolicyVersion.objects.filter(sha256=sha).exists():
        raise ValidationError("A policy version with exactly this text already exists.")
    policy = PolicyVersion(
        version=version.strip(), effective_on=effective_on, text=text, url=url, summary=summary, sha256=sha
    )
    policy.full_clean()
    policy.save()
    audit_record(
        action="consent.policy_version_created",
        actor=actor,
        target=policy,
        details={"version": policy.version, "sha256": sha},
    )
    return policy


@transaction.atomic
def policy_version_update(
    *, policy_version: PolicyVersion, changes: Mapping[str, Any], actor: Any = None
) -> PolicyVersion:
    """Edit a draft. A published version is evidence (consents point at it) and never changes."""
    locked = PolicyVersion.objects.select_for_update().get(pk=policy_version.pk)
    if locked.is_published:
        raise ValidationError("This policy version is published; publish a new version instead.")
    unknown = set(changes) - {"version", "effective_on", "text", "url", "summary"}
    if unknown:
        raise ValidationError(f"These fields can't be changed: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.sha256 = policy_text_sha256(locked.text)
    if PolicyVersion.objects.filter(sha256=locked.sha256).exclude(pk=locked.pk).exists():
        raise ValidationError("A policy version with exactly this text already exists.")
    locked.full_clean()
    locked.save()
    audit_record(
        action="consent.policy_version_updated",
        actor=actor,
        target=locked,
        details={"fields": sorted(changes)},
    )
    return locked


@transaction.atomic
def policy_version_publish(
    *, policy_version_id: int, notify_audience: str = PolicyVersion.Audience.NONE, actor: Any = None
) -> PolicyVersion:
    """Publish a version (policy §11) and, if asked, notify the affected subjects in batches via the outbox."""
    policy = PolicyVersion.objects.select_for_update().filter(pk=policy_version_id).first()
    if policy is None:
        raise ValidationError("Unknown policy version.")
    if policy.is_published:
        raise ValidationError("This policy version is already published.")
    if notify_audience not in PolicyVersion.Audience.values:
        raise ValidationError("Unknown audience for the 'policy changed' notice.")
    if policy_text_sha256(policy.text) != policy.sha256:
        raise ValidationError("The stored text no longer matches its hash; it can't be published.")
    _, label = _actor_fields(actor)
    policy.published_at = timezone.now()
    policy.published_by_label = label
    policy.notify_audience = notify_audience
    policy.notify_cursor = 0
    policy.notified_count = 0
    policy.notify_completed_at = None if notify_audience else policy.published_at
    policy.save()
    audit_record(
        action="consent.policy_version_published",
        actor=actor,
        target=policy,
        details={"version": policy.version, "sha256": policy.sha256, "notify": notify_audience},
    )
    if notify_audience:
        from .tasks import policy_change_notify

        transaction.on_commit(lambda: policy_change_notify.delay(policy.pk))
    return policy


def _policy_audience(policy: PolicyVersion, now: datetime):
    subjects = DataSubject.objects.filter(erased_at__isnull=True).exclude(email="")
    if policy.notify_audience == PolicyVersion.Audience.CONSENTING:
        granted = ConsentState.objects.filter(subject_id=OuterRef("pk"), action=Action.GRANT).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )
        subjects = subjects.filter(Exists(granted))
    return subjects


@transaction.atomic
def policy_change_notices_enqueue_batch(
    *, policy_version_id: int, batch_size: int = 500, actor: Any = None
) -> bool:
    """Enqueue the next batch of 'policy changed' notices; True when more remain.

    Resumable and safe to repeat: the cursor on the version row advances in the same transaction as
    the outbox rows, and each notice's idempotency key is (version, subject).
    """
    policy = PolicyVersion.objects.select_for_update().filter(pk=policy_version_id).first()
    if policy is None or not policy.notify_audience or policy.notify_completed_at is not None:
        return False
    now = timezone.now()
    batch = list(
        _policy_audience(policy, now).filter(pk__gt=policy.notify_cursor).order_by("pk")[:batch_size]
    )
    for subject in batch:
        outbox.policy_changed_enqueue(policy_version=policy, subject=subject, actor=actor)
    if batch:
        policy.notify_cursor = batch[-1].pk
        policy.notified_count += len(batch)
    more = len(batch) == batch_size
    if not more:
        policy.notify_completed_at = now
        audit_record(
            action="consent.policy_change_notified",
            actor=actor,
            target=policy,
            details={"version": policy.version, "notified": policy.notified_count},
        )
    policy.save(update_fields=["notify_cursor", "notified_count", "notify_completed_at"])
    return more


# --- expiry and re-consent ------------------------------------------------------------------------


def reconsent_requests_open(
    *, at: datetime | None = None, batch_size: int = 1000, actor: Any = "consent-expiry-sweep"
) -> int:
    """List subjects whose consent expired (one ReconsentRequest per expiry); returns how many were opened.

    Works in primary-key windows with short transactions, so it resumes where it stopped; running it
    twice opens nothing new. Expired consent already counts as withdrawn, so nothing is marketed meanwhile.
    """
    at = at or timezone.now()
    opened = 0
    last = 0
    while True:
        with transaction.atomic():
            already = ReconsentRequest.objects.filter(
                subject_id=OuterRef("subject_id"),
                purpose_id=OuterRef("purpose_id"),
                expired_at=OuterRef("expires_at"),
            )
            batch = list(
                ConsentState.objects.filter(pk__gt=last, action=Action.GRANT, expires_at__lte=at)
                .order_by("pk")
                .values_list("pk", "subject_id", "purpose_id", "expires_at")[:batch_size]
            )
            if not batch:
                break
            last = batch[-1][0]
            todo = set(
                ConsentState.objects.filter(pk__in=[b[0] for b in batch])
                .filter(~Exists(already))
                .values_list("pk", flat=True)
            )
            new = [
                ReconsentRequest(subject_id=sid, purpose_id=purpose, expired_at=expires, created_at=at)
                for pk, sid, purpose, expires in batch
                if pk in todo
            ]
            ReconsentRequest.objects.bulk_create(new, ignore_conflicts=True)
            opened += len(new)
    if opened:
        audit_record(action="consent.reconsent_requests_opened", actor=actor, details={"opened": opened})
    return opened


@transaction.atomic
def reconsent_request_dismiss(*, request_id: int, actor: Any = None) -> bool:
    """An officer decides not to ask again (e.g. the customer relationship ended)."""
    changed = ReconsentRequest.objects.filter(pk=request_id, status=ReconsentRequest.Status.OPEN).update(
        status=ReconsentRequest.Status.DISMISSED, resolved_at=timezone.now()
    )
    if changed:
        audit_record(
            action="consent.reconsent_request_dismissed",
            actor=actor,
            target_type="consent.reconsentrequest",
            target_id=request_id,
        )
    return bool(changed)


# --- CSV import of historic lists -----------------------------------------------------------------


class ImportRejected(ValidationError):
    """The file has bad rows; nothing was written. `row_errors` lists every one with its line number."""

    def __init__(self, row_errors: Sequence[Any]):
        self.row_errors = sorted(row_errors, key=lambda e: e.line)
        super().__init__(
            f"The file was rejected: {len(self.row_errors)} problem(s); nothing was imported.",
            code="import_rejected",
        )


@dataclass
class ImportReport:
    rows: int = 0
    events_created: int = 0
    duplicates: int = 0
    skipped_suppressed: int = 0
    skipped_opted_out: int = 0
    subjects_created: int = 0
    dry_run: bool = False
    import_batch: ConsentImport | None = None


def _subjects_by_email(emails: Iterable[str]) -> dict[str, int]:
    """Live subjects by normalised address (primary address first, then email contact points; lowest id)."""
    from inventory.models import ContactPoint

    emails = list(set(emails))
    found: dict[str, int] = {}
    for chunk in _chunks(emails):
        for email, sid in (
            DataSubject.objects.filter(email_normalized__in=chunk, erased_at__isnull=True)
            .order_by("-pk")
            .values_list("email_normalized", "pk")
        ):
            found[email] = sid
    for chunk in _chunks([e for e in emails if e not in found]):
        for email, sid in (
            ContactPoint.objects.filter(
                kind=ContactPoint.Kind.EMAIL, value_normalized__in=chunk, subject__erased_at__isnull=True
            )
            .order_by("-subject_id")
            .values_list("value_normalized", "subject_id")
        ):
            found[email] = sid
    return found


def consent_import_csv(
    *,
    content: bytes,
    file_name: str,
    actor: Any = None,
    create_missing_subjects: bool = True,
    dry_run: bool = False,
) -> ImportReport:
    """Import a historic opt-in/opt-out list, all or nothing.

    Every row is checked first; any bad row rejects the whole file (ImportRejected lists each one with
    its line number) and nothing is written. Grants for suppressed addresses, and grants for subjects
    who opted out, are refused (a list can never re-subscribe anyone); they are counted, not errors.
    Re-importing the same file records nothing twice (client event id = file hash + line).
    """
    from . import csv_import

    try:
        text = csv_import.decode(content)
    except ValidationError as exc:
        raise ImportRejected([csv_import.RowError(0, exc.messages[0])]) from exc
    now = timezone.now()
    rows, errors = csv_import.parse(text, now=now)

    purposes = {p.code: p for p in Purpose.objects.all()}
    published = set(
        PolicyVersion.objects.filter(published_at__isnull=False).values_list("version", flat=True)
    )
    seen: dict[tuple, int] = {}
    for row in rows:
        purpose = purposes.get(row.purpose)
        if purpose is None:
            errors.append(csv_import.RowError(row.line, f"Unknown purpose '{row.purpose[:40]}'."))
        elif purpose.required or not purpose.active:
            errors.append(
                csv_import.RowError(row.line, f"'{purpose.name}' can't be imported (required or retired).")
            )
        if row.policy_version and row.policy_version not in published:
            errors.append(
                csv_import.RowError(
                    row.line, f"Unknown or unpublished policy version '{row.policy_version}'."
                )
            )
        key = (row.email, row.purpose, row.action, row.at)
        if key in seen:
            errors.append(
                csv_import.RowError(row.line, f"Same address, purpose, action and date as line {seen[key]}.")
            )
        else:
            seen[key] = row.line

    subject_ids = _subjects_by_email(r.email for r in rows)
    hashes = {r.email: email_hmac(r.email) for r in rows}
    listed = suppressed_hashes(hashes=hashes.values(), purposes={r.purpose for r in rows})
    states = {}
    for chunk in _chunks(list(set(subject_ids.values()))):
        states.update(
            {
                (sid, purpose): action
                for sid, purpose, action in ConsentState.objects.filter(subject_id__in=chunk).values_list(
                    "subject_id", "purpose_id", "action"
                )
            }
        )
    sha = hashlib.sha256(content).hexdigest()
    prefix = f"{sha[:32]}:"
    imported_lines = {
        int(cid.removeprefix(prefix))
        for cid in ConsentEvent.objects.filter(
            source="import", client_event_id__startswith=prefix
        ).values_list("client_event_id", flat=True)
    }
    report = ImportReport(rows=len(rows), dry_run=dry_run)
    to_record: list[csv_import.CsvRow] = []
    missing: dict[str, csv_import.CsvRow] = {}
    for row in rows:
        if row.line in imported_lines:  # this very file was imported before
            report.duplicates += 1
            continue
        sid = subject_ids.get(row.email)
        suppressed = (hashes[row.email], row.purpose) in listed
        if suppressed and (row.action == Action.GRANT or sid is None):
            report.skipped_suppressed += 1
            continue
        if (
            row.action == Action.GRANT
            and sid is not None
            and states.get((sid, row.purpose)) == Action.WITHDRAW
        ):
            report.skipped_opted_out += 1
            continue
        if sid is None:
            if not create_missing_subjects:
                errors.append(
                    csv_import.RowError(
                        row.line, "No data subject has this address (or allow creating subjects)."
                    )
                )
                continue
            missing.setdefault(row.email, row)
        to_record.append(row)
    if errors:
        raise ImportRejected(errors)
    report.subjects_created = len(missing)
    if dry_run:
        report.events_created = len(to_record)
        return report

    from inventory.services import subject_create

    user, label = _actor_fields(actor)
    with transaction.atomic():
        batch = ConsentImport.objects.create(
            file_name=(file_name or "upload.csv")[:255],
            file_sha256=sha,
            rows_total=len(rows),
            actor=user,
            actor_label=label,
        )
        for email, row in missing.items():
            subject = subject_create(
                email=email, name=row.name, country=row.country, region=row.region, actor=actor
            )
            subject_ids[email] = subject.pk
        inputs = [
            ConsentEventInput(
                subject_id=subject_ids[row.email],
                purpose=row.purpose,
                action=row.action,
                channel=row.channel,
                at=row.at,
                client_event_id=f"{prefix}{row.line}",
                collection_point=row.collection_point,
                policy_version=row.policy_version,
                language=row.language,
                evidence={"note": row.note} if row.note else None,
            )
            for row in to_record
        ]
        for start in range(0, len(inputs), _CHUNK):
            chunk = inputs[start : start + _CHUNK]
            try:
                result = consent_events_record_bulk(
                    events=chunk, source="import", actor=actor, notify_withdrawals=False, import_batch=batch
                )
            except BulkRecordRejected as exc:
                lines = [to_record[start + i].line for i in exc.item_errors]
                raise ImportRejected(
                    [
                        csv_import.RowError(line, " ".join(msgs))
                        for line, msgs in zip(lines, exc.item_errors.values(), strict=True)
                    ]
                ) from exc
            report.events_created += result.created
            report.duplicates += result.duplicates
        for name in (
            "events_created",
            "duplicates",
            "skipped_suppressed",
            "skipped_opted_out",
            "subjects_created",
        ):
            setattr(batch, name, getattr(report, name))
        batch.save()
        audit_record(
            action="consent.list_imported",
            actor=actor,
            target=batch,
            details={
                "sha256": sha,
                "rows": report.rows,
                "events_created": report.events_created,
                "duplicates": report.duplicates,
                "skipped_suppressed": report.skipped_suppressed,
                "skipped_opted_out": report.skipped_opted_out,
                "subjects_created": report.subjects_created,
            },
        )
    report.import_batch = batch
    return report


# --- the daily expiry sweep -----------------------------------------------------------------------


def consent_expiry_sweep(*, at: datetime | None = None, actor: Any = "consent-expiry-sweep") -> int:
    """Open re-consent requests for consents that expired, and tell the privacy office when there are new ones."""
    opened = reconsent_requests_open(at=at, actor=actor)
    if opened:
        with transaction.atomic():
            outbox.expiry_report_enqueue(
                opened=opened, open_total=open_reconsent_requests().count(), actor=actor
            )
    return opened
