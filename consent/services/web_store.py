"""The writes of one web choice in few round trips (issue 18's hot path).

A first visit on PostgreSQL is one statement in autocommit (no BEGIN, no COMMIT): its subject and ledger
ids come from this process's pool (web_ids) and its data key is made here, so the evidence is sealed
before anything is sent, and the statement inserts the pseudonymous subject, its data key, the device,
the ledger rows, their WebChoice rows and the fold, then appends the audit events. A drawn id that turns
out taken fails that statement whole (IntegrityError) and the caller takes the transaction path.

The transaction path, in the caller's transaction: one statement finds and locks the device with its
subjects' consent states, or creates device, pseudonymous subject and data key together; the ledger rows
then go through the ledger's own steps (parse and minimise, seal, append, fold) and the audit events are
written last, in one chained insert, so the audit chain's lock is held for three round trips before the
commit. Other databases (SQLite in development) take the ORM path with the same result.
"""

import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone

from audit.services import audit_append_sql, audit_record_many
from core.actors import Actor, actor_label, actor_user
from inventory import crypto
from inventory.models import DataKey, DataSubject
from inventory.services import subject_create

from .. import conf
from ..models import Action, ConsentEvent, ConsentState, Purpose, ReconsentRequest, SuppressedAddress
from ..selectors import open_reconsent_requests
from ..web_models import WebChoice, WebDevice
from . import web_ids, web_prepared
from .append import insert_events, prepare_rows
from .checks import apply_suppression, check_subjects_and_versions, parse_events
from .inputs import BulkRecordRejected, ConsentEventInput, EventRow
from .state import fold_into_state, settle_reconsent_requests, state_rows, state_upsert_tail

ERASED = "The data subject was erased; no consent can be recorded for them."


@dataclass
class ChoiceDevice:
    """A device locked for one choice, with what the choice needs to know about its subjects."""

    pk: int | None  # None while drawn: the ledger statement creates it (`insert`)
    public_id: str
    subject_id: int
    person_id: int | None
    states: dict[tuple[int, int], ConsentState]  # (subject id, purpose id) -> state, rows locked
    erased: set[int] = field(default_factory=set)  # subject ids (device's, person's) already erased
    created: bool = False  # made by this choice, with a pseudonymous subject nobody else knows yet
    key: crypto.SubjectKey | None = None  # the new subject's data key, held since it was drawn
    audit: list[dict[str, Any]] = field(default_factory=list)  # events to write with the choice's own
    event_ids: list[int] = field(default_factory=list)  # ledger ids drawn with the device's statement
    audited: bool = False  # the choice's audit events went with its ledger statement (first visits)
    # drawn (device_drawn): the CTEs and parameters inserting subject, data key and device, which the
    # ledger statement runs first; None once written, or for a device that exists
    insert: tuple[str, list[Any]] | None = None
    # Read with the device's lock (PostgreSQL), so the choice needs no statement of its own for them;
    # None where not read (the ORM path, a person linked after the lock): the choice reads them then.
    wrapped: dict[int, str] | None = None  # subject id -> wrapped data key ("" once destroyed)
    key_epoch: tuple[int, Any] | None = None  # crypto.key_epoch(), read before `wrapped`
    any_suppressed: bool | None = None  # is any address suppressed at all
    reconsent_open: bool | None = None  # is any re-consent request open


def _state(row: Sequence) -> ConsentState:
    return ConsentState(
        id=row[0],
        subject_id=row[1],
        purpose_id=row[2],
        action=row[3],
        at=row[4],
        event_id=row[5],
        expires_at=row[6],
        updated_at=row[7],
    )


_STATE_COLUMNS = "id, subject_id, purpose_id, action, at, event_id, expires_at, updated_at"


def _draw_ids(count: int) -> str:
    """A select-list item drawing `count` ledger ids in the same statement (unused ones stay gaps)."""
    table = ConsentEvent._meta.db_table
    return f"(SELECT array_agg(nextval(pg_get_serial_sequence('{table}', 'id'))) FROM generate_series(1, {int(count)}))"


def _lock_pg(public_id: uuid.UUID, reserve: int) -> ChoiceDevice | None | bool:
    """One statement: the device (SKIP LOCKED), its subjects' erasure, states (locked) and wrapped data
    keys, and whether any address is suppressed or any re-consent request open (what the choice's own
    checks would otherwise ask in three more round trips).

    None: no such device. False: another choice holds it (the caller waits the ORM way).
    """
    device, subject, state, key, suppressed, reconsent = (
        WebDevice._meta.db_table,
        DataSubject._meta.db_table,
        ConsentState._meta.db_table,
        DataKey._meta.db_table,
        SuppressedAddress._meta.db_table,
        ReconsentRequest._meta.db_table,
    )
    epoch = crypto.key_epoch()  # before the keys are read (see key_epoch)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH d AS (SELECT id, public_id, subject_id, person_id FROM {device} WHERE public_id = %s "
            "FOR UPDATE SKIP LOCKED), "
            f"s AS (SELECT {_STATE_COLUMNS} FROM {state} WHERE subject_id IN "
            "(SELECT subject_id FROM d UNION ALL SELECT person_id FROM d WHERE person_id IS NOT NULL) FOR UPDATE) "
            f"SELECT EXISTS (SELECT 1 FROM {device} WHERE public_id = %s), d.id, d.public_id, d.subject_id, "
            "d.person_id, ds.erased_at IS NOT NULL, ps.erased_at IS NOT NULL, "
            "s.id, s.subject_id, s.purpose_id, s.action, s.at, s.event_id, s.expires_at, s.updated_at, "
            f"{_draw_ids(reserve)}, dk.wrapped, pk.wrapped, EXISTS (SELECT 1 FROM {suppressed}), "
            f"EXISTS (SELECT 1 FROM {reconsent} WHERE status = %s) "
            f"FROM (SELECT 1) AS one LEFT JOIN d ON true LEFT JOIN {subject} ds ON ds.id = d.subject_id "
            f"LEFT JOIN {subject} ps ON ps.id = d.person_id LEFT JOIN {key} dk ON dk.subject_id = d.subject_id "
            f"LEFT JOIN {key} pk ON pk.subject_id = d.person_id LEFT JOIN s ON true",
            [public_id, public_id, ReconsentRequest.Status.OPEN],
        )
        rows = cursor.fetchall()
    exists, pk = rows[0][0], rows[0][1]
    if not exists:
        return None
    if pk is None:
        return False
    first = rows[0]
    found = ChoiceDevice(
        pk=pk,
        public_id=str(first[2]),
        subject_id=first[3],
        person_id=first[4],
        states={},
        event_ids=first[15],
        wrapped={
            sid: wrapped
            for sid, wrapped in ((first[3], first[16]), (first[4], first[17]))
            if wrapped is not None
        },
        key_epoch=epoch,
        any_suppressed=first[18],
        reconsent_open=first[19],
    )
    found.erased = {sid for sid, gone in ((first[3], first[5]), (first[4], first[6])) if sid and gone}
    for row in rows:
        if row[7] is not None:
            state = _state(row[7:15])
            found.states[(state.subject_id, state.purpose_id)] = state
    return found


def _lock_orm(public_id: uuid.UUID) -> ChoiceDevice | None:
    device = WebDevice.objects.select_for_update().filter(public_id=public_id).first()
    if device is None:
        return None
    subjects = [device.subject_id] + ([device.person_id] if device.person_id else [])
    found = ChoiceDevice(
        pk=device.pk,
        public_id=str(device.public_id),
        subject_id=device.subject_id,
        person_id=device.person_id,
        states={
            (s.subject_id, s.purpose_id): s
            for s in ConsentState.objects.select_for_update().filter(subject_id__in=subjects)
        },
    )
    found.erased = set(
        DataSubject.objects.filter(pk__in=subjects, erased_at__isnull=False).values_list("pk", flat=True)
    )
    return found


@cache
def _insert_columns(model: type[Model], skip: tuple[str, ...]) -> tuple[list[Field], str, str]:
    """A model's written fields, their quoted column list and their placeholders, each cast to its
    column's type: bound server-side, a parameter in an INSERT ... SELECT list has no type to infer."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in skip]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    return fields, columns, ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields)


def _insert_parts(obj: Model, skip: tuple[str, ...] = ()) -> tuple[str, str, list[Any]]:
    """Quoted column list, typed placeholders and database values of a model instance's fields, as
    save() would write them."""
    fields, columns, marks = _insert_columns(type(obj), skip)
    return columns, marks, [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


def _new_rows(
    public_id: uuid.UUID | None, region: str
) -> tuple[bytes, WebDevice, list[tuple[str, str, list]]]:
    """A new data key (raw), the device, and the (columns, typed placeholders, values) of the subject, its
    data key and the device, as save() would write them (the subject id and the device's link to it are
    the caller's to add)."""
    raw, wrapped = crypto.new_data_key()
    subject = DataSubject(kind=DataSubject.Kind.PERSON)
    subject.email_normalized = ""
    device = WebDevice(public_id=public_id or uuid.uuid4(), subject_id=0, region=region[:8])
    parts = [
        _insert_parts(subject),
        _insert_parts(DataKey(wrapped=wrapped)),
        _insert_parts(device, skip=("subject",)),
    ]
    return raw, device, parts


def _created(device: WebDevice, subject_id: int, raw: bytes, actor: Actor, **fields: Any) -> ChoiceDevice:
    return ChoiceDevice(
        public_id=str(device.public_id),
        subject_id=subject_id,
        person_id=None,
        states={},
        created=True,
        key=crypto.sealing_key(subject_id, raw),
        audit=[
            {
                "action": "subject.created",
                "actor": actor,
                "target_type": DataSubject._meta.label_lower,
                "target_id": subject_id,
                "subject_id": subject_id,
            }
        ],
        **fields,
    )


def _create_pg(public_id: uuid.UUID | None, region: str, actor: Actor, reserve: int) -> ChoiceDevice:
    """One statement: the pseudonymous subject, its data key and the device."""
    raw, device, (subject, key, machine) = _new_rows(public_id, region)  # each (columns, marks, values)
    # Bound server-side like the ledger statement: no values formatted into the text in Python (and the
    # text is the same every visit, were statements ever prepared: Django leaves prepare_threshold off).
    # Errors as Django's (wrap_database_errors): two first choices racing with one new id must raise the
    # IntegrityError the caller retries on, not psycopg's own.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        psycopg.Cursor(cursor.connection) as bound,
    ):
        bound.execute(
            f"WITH s AS (INSERT INTO {DataSubject._meta.db_table} ({subject[0]}) "
            f"VALUES ({subject[1]}) RETURNING id), "
            f"k AS (INSERT INTO {DataKey._meta.db_table} (subject_id, {key[0]}) "
            f"SELECT id, {key[1]} FROM s), "
            f"d AS (INSERT INTO {WebDevice._meta.db_table} (subject_id, {machine[0]}) "
            f"SELECT id, {machine[1]} FROM s RETURNING id, subject_id) "
            f"SELECT id, subject_id, {_draw_ids(reserve)} FROM d",
            [*subject[2], *key[2], *machine[2]],
        )
        pk, subject_id, event_ids = bound.fetchone()
    return _created(device, subject_id, raw, actor, pk=pk, event_ids=event_ids)


def device_drawn(*, region: str, actor: Actor, events: int) -> ChoiceDevice:
    """A new device for a first visit on PostgreSQL, nothing written yet: its pseudonymous subject's id
    and `events` ledger ids come from this process's pool (web_ids) and its data key is made here, so
    append_choice_events writes subject, key, device and the whole choice in one statement (`insert`)."""
    subject_id, event_ids = web_ids.take(events)
    raw, device, parts = _new_rows(None, region)
    tables = (DataSubject._meta.db_table, DataKey._meta.db_table, WebDevice._meta.db_table)
    link = ("id", "subject_id", "subject_id")
    ctes, params = [], []
    for name, table, column, (columns, marks, values) in zip("skd", tables, link, parts, strict=True):
        returning = "id" if name == "d" else "1"
        ctes.append(
            f"{name} AS (INSERT INTO {table} ({column}, {columns}) "
            f"VALUES (%s::bigint, {marks}) RETURNING {returning})"
        )
        params += [subject_id, *values]
    return _created(
        device, subject_id, raw, actor, pk=None, event_ids=event_ids, insert=(", ".join(ctes), params)
    )


def _create_orm(public_id: uuid.UUID | None, region: str, actor: Actor, reserve: int) -> ChoiceDevice:
    subject = subject_create(actor=actor)
    device = WebDevice(subject=subject, region=region[:8])
    if public_id is not None:
        device.public_id = public_id
    device.save()
    return ChoiceDevice(
        pk=device.pk,
        public_id=str(device.public_id),
        subject_id=subject.pk,
        person_id=None,
        states={},
        created=True,
    )


def device_for_choice(
    *, public_id: uuid.UUID | None, region: str, actor: Actor, reserve: int = 0
) -> ChoiceDevice:
    """The device with this id, locked (one choice per device at a time), or a new one with that id;
    on PostgreSQL with `reserve` ledger ids drawn in the same statement (ChoiceDevice.event_ids).

    An id we have never seen is kept (it is random and the visitor's own); without an id a new one is
    made. Two first choices racing with the same new id: the loser's insert fails (IntegrityError) and
    the caller retries, then finding the winner's device.
    """
    postgres = connection.vendor == "postgresql"
    if public_id is not None:
        found = _lock_pg(public_id, reserve) if postgres else _lock_orm(public_id)
        if found is False:  # another choice for this device is being recorded: wait for it
            found = _lock_orm(public_id)
        if found is not None:
            return found
    return (_create_pg if postgres else _create_orm)(public_id, region, actor, reserve)


def device_link_person(device: ChoiceDevice, person_id: int) -> None:
    """Later choices count for the person too: link them and lock their states."""
    WebDevice.objects.filter(pk=device.pk).update(person_id=person_id)
    device.person_id = person_id
    device.wrapped = None  # the person's key was not read with the lock
    for state in ConsentState.objects.select_for_update().filter(subject_id=person_id):
        device.states[(state.subject_id, state.purpose_id)] = state
    if DataSubject.objects.filter(pk=person_id, erased_at__isnull=False).exists():
        device.erased.add(person_id)


def _sealing_keys(device: ChoiceDevice, rows: list[EventRow], errors: dict) -> dict:
    subjects = {r.item.subject_id for r in rows if r.sealed}
    if device.key is not None and subjects <= {device.subject_id}:
        return {device.subject_id: device.key}
    if not subjects:
        keys = {}
    elif device.wrapped is not None and device.key_epoch is not None:  # read with the device's lock
        read = [(sid, wrapped) for sid, wrapped in device.wrapped.items() if sid in subjects]
        keys = crypto.keys_from_wrapped(read, device.key_epoch)
    else:
        keys = crypto.sealing_keys_for_subjects(list(subjects))
    for row in rows:
        if row.sealed and keys.get(row.item.subject_id) is None:
            errors[row.index].append("The data subject's key was destroyed; evidence can't be stored.")
    return keys


def append_choice_events(
    *,
    device: ChoiceDevice,
    items: list[ConsentEventInput],
    rules: list[str],
    web: WebChoice,
    purposes: Mapping[str, Purpose],
    policy_version: tuple[str, int | None],
    actor: Actor,
) -> list[EventRow]:
    """The ledger rows of one choice (checked, evidence minimised and sealed, appended, folded) and the
    WebChoice row of each (`rules[i]` is why item i has its action).

    Raises BulkRecordRejected (nothing written) like consent_events_record_bulk. `policy_version` is the
    (label, id) of the published version the banner shows; another label is looked up.
    """
    now = timezone.now()
    errors: dict[int, list[str]] = defaultdict(list)
    rows = parse_events(items, purposes=purposes, now=now, errors=errors)
    for row in rows:
        if row.item.subject_id in device.erased:
            errors[row.index].append(ERASED)
    label, version_id = policy_version
    if any(r.policy_version_label and r.policy_version_label != label for r in rows):
        check_subjects_and_versions(rows, errors=errors)
    for row in rows:
        if row.policy_version_label and row.policy_version_label == label:
            row.policy_version_id = version_id
    keys = _sealing_keys(device, rows, errors)
    bad = {i: msgs for i, msgs in errors.items() if msgs}
    if bad:
        raise BulkRecordRejected(bad)
    if not device.created or device.person_id is not None:  # a new pseudonym has no address to suppress
        apply_suppression(rows, any_suppressed=device.any_suppressed)
    if connection.vendor == "postgresql":
        prepare_rows(rows, keys, ids=device.event_ids or ())
        # With nothing left to write after the ledger statement (a first visit: no re-consent request
        # can name a subject made by this choice; else none open at all, the usual case), the audit
        # events, which come last, go in that statement.
        settle = not device.created and (
            open_reconsent_requests().exists() if device.reconsent_open is None else device.reconsent_open
        )
        audit = None if settle else _audit_events(device, rows, actor)
        _write_pg(
            rows, rules=rules, web=web, device=device, purposes=purposes, now=now, actor=actor, audit=audit
        )
        if audit is not None:
            device.audit.clear()
            device.audited = True
        else:
            settle_reconsent_requests(rows, now=now)
        return rows
    insert_events(
        rows, keys=keys, source="", now=now, actor=actor_user(actor), actor_label=actor_label(actor),
        import_batch=None,
    )  # fmt: skip
    fold_into_state(rows, purposes=purposes, now=now, notify=False, settle_reconsent=not device.created)
    WebChoice.objects.bulk_create(
        [
            replace_web(web, event_id=row.event_id, device_id=device.pk, rule=rule)
            for row, rule in zip(rows, rules, strict=True)
        ]
    )
    return rows


def replace_web(web: WebChoice, **changes: Any) -> WebChoice:
    fields = {f: getattr(web, f) for f in ("banner_sha256", "gpc", "region", "created_at")}
    return WebChoice(**fields, **changes)


# The choice's rows arrive as one JSON parameter (_rows_json), read once into `r`, from which the ledger
# rows, their WebChoice rows and the fold are inserted: one parameter to adapt instead of an array per
# column, and the same statement text whatever the number of rows.
_ROWS = (
    "r AS (SELECT * FROM json_to_recordset(%s::json) AS r(i bigint, u uuid, s bigint, p bigint, a varchar, "
    "t timestamptz, c varchar, cp varchar, v bigint, l varchar, ev text, sp boolean, ru varchar, k timestamptz, "
    "x timestamptz, o integer))"
)
_EVENTS = (
    "e AS (INSERT INTO {table} (id, public_id, subject_id, purpose_id, action, at, recorded_at, channel, source, "
    "client_event_id, collection_point, policy_version_id, language, evidence, suppressed, import_batch_id, "
    "actor_id, actor_label) SELECT i, u, s, p, a, t, %s::timestamptz, c, '', '', cp, v, l, ev, sp, NULL, %s::bigint, "
    "%s::varchar FROM r "
    "RETURNING 1)"
)
_CHOICES = (
    "w AS (INSERT INTO {table} (event_id, device_id, banner_sha256, gpc, region, rule, created_at) "
    "SELECT i, {device}, %s::varchar, %s::boolean, %s::varchar, ru, %s::timestamptz FROM r RETURNING 1)"
)
# The fold: every row of a web choice is its (subject, purpose)'s only one, so each is a winner; `o` is
# the fold's lock order (subject, purpose code), the order consent's other writers lock states in.
_FOLD = (
    "f AS (INSERT INTO {table} (subject_id, purpose_id, action, at, event_id, expires_at, updated_at) "
    "SELECT s, p, a, k, i, x, %s::timestamptz FROM r ORDER BY o{tail} RETURNING 1)"
)


def _rows_json(rows: list[EventRow], rules: list[str], purposes: Mapping[str, Purpose]) -> str:
    """The rows of the ledger statement's `r`: each event, its rule, and what the fold writes for it."""
    winners = sorted(rows, key=lambda r: (r.item.subject_id, r.item.purpose))
    folded = {state[4]: (order, state) for order, state in enumerate(state_rows(winners, purposes=purposes))}
    out = []
    for row, rule in zip(rows, rules, strict=True):
        order, (_sid, _pid, _action, rank, _event, expires) = folded[row.event_id]
        out.append(
            {
                "i": row.event_id, "u": row.public_id, "s": row.item.subject_id, "p": row.purpose_pk,
                "a": row.action, "t": row.at.isoformat(), "c": row.item.channel, "cp": row.collection_point,
                "v": row.policy_version_id, "l": row.language, "ev": row.sealed_text, "sp": row.suppressed,
                "ru": rule, "k": rank.isoformat(), "x": expires.isoformat() if expires else None, "o": order,
            }
        )  # fmt: skip
    return json.dumps(out, separators=(",", ":"))


def _write_pg(
    rows: list[EventRow],
    *,
    rules: list[str],
    web: WebChoice,
    device: ChoiceDevice,
    purposes: Mapping[str, Purpose],
    now,
    actor: Actor,
    audit: list[dict[str, Any]] | None = None,
) -> None:
    """One statement: a drawn device's subject, data key and device (`device.insert`), the ledger rows,
    their WebChoice rows and the fold, and with `audit` the audit events, appended after the rest (their
    first argument waits for the counts of every insert before it)."""
    create, create_params = device.insert or ("", [])
    names = ("s", "k", "d", "e", "w", "f") if create else ("e", "w", "f")
    done = " + ".join(f"(SELECT count(*) FROM {name})" for name in names) + " >= 0"
    last, audit_params = (done, [])
    if audit:
        last, audit_params = audit_append_sql(audit, after=done)
    ctes = [
        *([create] if create else []),
        _ROWS,
        _EVENTS.format(table=ConsentEvent._meta.db_table),
        _CHOICES.format(
            table=WebChoice._meta.db_table, device="(SELECT id FROM d)" if create else "%s::bigint"
        ),
        _FOLD.format(
            table=ConsentState._meta.db_table,
            tail=state_upsert_tail(connection.ops.quote_name(ConsentState._meta.db_table)),
        ),
    ]
    user = actor_user(actor)
    _execute(
        f"WITH {', '.join(ctes)} SELECT {last}",
        [
            *create_params, _rows_json(rows, rules, purposes), now, user.pk if user is not None else None,
            actor_label(actor), *([] if create else [device.pk]), web.banner_sha256, web.gpc, web.region,
            web.created_at, now, *audit_params,
        ],
    )  # fmt: skip
    device.insert = None


def _execute(sql: str, params: list[Any]) -> None:
    """Run a ledger statement, its errors as Django's (a drawn id found taken is the IntegrityError
    web_choice_record falls back on): as this session's prepared statement (web_prepared) unless
    CONSENT_WEB_PREPARED_STATEMENTS is off, else bound server-side. Its text depends only on the kind of
    visit and whether the audit events ride along (the rows travel as one JSON parameter), and each of
    its parameters is cast to its type, so it can be prepared without them."""
    if conf.web_prepared_statements():
        web_prepared.execute(sql, params)
        return
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        psycopg.Cursor(cursor.connection) as bound,
    ):
        bound.execute(sql, params)


def folded_states(
    device: ChoiceDevice, rows: list[EventRow], purposes: Mapping[str, Purpose]
) -> dict[int, ConsentState]:
    """The device subject's states after the choice (purpose id -> state), without reading them again.

    The device's rows are locked, so its states are the ones read plus the fold's "only forward" rule.
    """
    by_pk = {p.pk: p for p in purposes.values()}
    states = {pid: s for (sid, pid), s in device.states.items() if sid == device.subject_id}
    for row in rows:
        if row.item.subject_id != device.subject_id:
            continue
        held = states.get(row.purpose_pk)
        if held is not None and (held.at, held.event_id) >= (row.rank_at, row.event_id):
            continue
        lifetime = by_pk[row.purpose_pk].consent_lifetime_days
        states[row.purpose_pk] = ConsentState(
            subject_id=row.item.subject_id,
            purpose_id=row.purpose_pk,
            action=row.action,
            at=row.rank_at,
            event_id=row.event_id,
            expires_at=row.at + timedelta(days=lifetime) if row.action == Action.GRANT and lifetime else None,
        )
    return states


def audit_choice(device: ChoiceDevice, rows: list[EventRow], actor: Actor) -> None:
    """The choice's audit events (and the new subject's), last in the transaction, one chained insert
    (unless they went with the ledger statement already)."""
    if device.insert is not None:  # never: a drawn device has events to write, and they create it
        raise AssertionError("A drawn device is written by its ledger statement.")
    if not device.audited:
        audit_record_many(_audit_events(device, rows, actor))
    device.audit.clear()


def _audit_events(device: ChoiceDevice, rows: list[EventRow], actor: Actor) -> list[dict[str, Any]]:
    subjects = {r.item.subject_id for r in rows}
    suppressed = sum(r.suppressed for r in rows)
    events = list(device.audit)
    if rows:
        events.append(
            {
                "action": "consent.events_recorded",
                "actor": actor,
                "target_type": "consent.consentevent",
                "target_id": rows[0].event_id if len(rows) == 1 else "",
                "subject_id": next(iter(subjects)) if len(subjects) == 1 else None,
                "details": {
                    "source": "",
                    "created": len(rows),
                    "duplicates": 0,
                    "suppressed": suppressed,
                    "first_event_id": min(r.event_id for r in rows),
                    "last_event_id": max(r.event_id for r in rows),
                    "import": "",
                },
            }
        )
    return events
