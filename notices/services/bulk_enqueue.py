"""Enqueueing many notices of one kind at once: breach batches, policy-change notices, sweep reports.

`notice_enqueue` costs about ten round trips per notice (key lookup, template, insert, audit chain
lock, chain tail, audit insert…); at breach scale that is hours. `notice_enqueue_many` does the same
checks for a whole batch, in the caller's transaction, in a fixed number of statements whatever the batch
size, and renders it with notices.rendering.render_many (what the notices share rendered once, the same
text as the single path):

1. the idempotency keys already in the outbox, in one query (those items return their notice, as
   `notice_enqueue` does; nothing new is sent);
2. every new row in one INSERT … ON CONFLICT DO NOTHING RETURNING (on PostgreSQL from unnest() over
   one binary-bound array per varying column), so a concurrent caller that wrote the same key first
   wins and ours is dropped, as with the single path;
3. one audit event for the batch, listing the notice and subject ids it covers (the chain stays one
   event per append, verifiable as before);
4. after commit, delivery is queued in batches of ids (notices.tasks.deliver_notice_batch), never
   one task per notice.

Marketing messages are not accepted here: each needs its own consent check and unsubscribe link
(use `notice_enqueue`).
"""

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory.models import DataSubject

from ..models import Breach, Notice, NoticeKind, NoticeStatus, NoticeTemplate
from ..templates_lookup import active_template
from . import common
from .enqueue import clean_key, full_context, notice_headers, recipient_address, render_notices

INSERT_CHUNK = 1000


@dataclass(frozen=True)
class BulkItem:
    """One notice of a batch: its key, its own context, and the subject and/or address."""

    idempotency_key: str
    context: Mapping[str, Any] = field(default_factory=dict)
    subject: DataSubject | None = None
    to_email: str | None = None


@dataclass(frozen=True)
class BulkEnqueueResult:
    created: list[int]  # ids of the notices written by this call, in item order
    existing: dict[str, int]  # idempotency key -> id of the notice already in the outbox


def notice_enqueue_many(
    *,
    kind: str,
    items: Sequence[BulkItem],
    language: str = "en",
    actor: Actor = None,
    breach: Breach | None = None,
) -> BulkEnqueueResult:
    """Write many notices of one kind to the outbox in the caller's transaction; deliver after commit.

    All or nothing: an invalid item (key, address, context) refuses the whole batch with a
    ValidationError naming its position, and nothing is written.
    """
    if kind not in NoticeKind.values:
        raise ValidationError(f"'{kind}' is not a kind of notice.")
    if kind == NoticeKind.MARKETING:
        raise ValidationError("Marketing messages are enqueued one by one (consent check, unsubscribe link).")
    keyed = _unique_items(items)
    existing = dict(
        Notice.objects.filter(idempotency_key__in=list(keyed)).values_list("idempotency_key", "pk")
    )
    todo = [(key, item) for key, item in keyed.items() if key not in existing]
    if not todo:
        return BulkEnqueueResult(created=[], existing=existing)
    template = active_template(kind=kind, language=language)
    rows = _notice_rows(todo, template=template)
    shared = _shared_values(kind=kind, template=template, breach=breach, actor=actor)
    with transaction.atomic():
        inserted = _insert_ignoring_conflicts(rows, shared)
        raced = [row.idempotency_key for row in rows if row.idempotency_key not in inserted]
        if raced:  # a concurrent caller committed these keys first: their notices are the ones
            existing.update(
                Notice.objects.filter(idempotency_key__in=raced).values_list("idempotency_key", "pk")
            )
        created = [inserted[row.idempotency_key] for row in rows if row.idempotency_key in inserted]
        if created:
            _audit_batch(rows=rows, inserted=inserted, kind=kind, template=template, breach=breach,
                         actor=actor)  # fmt: skip
            transaction.on_commit(lambda: common.dispatch_notice_batches(created), robust=True)
    return BulkEnqueueResult(created=created, existing=existing)


def _unique_items(items: Sequence[BulkItem]) -> dict[str, BulkItem]:
    """Clean keys; the first item of a repeated key wins (as a second notice_enqueue would return it)."""
    keyed: dict[str, BulkItem] = {}
    for position, item in enumerate(items):
        try:
            key = clean_key(item.idempotency_key)
        except ValidationError as exc:
            raise ValidationError(f"Item {position}: {exc.messages[0]}") from exc
        keyed.setdefault(key, item)
    return keyed


class _Row(NamedTuple):
    """What differs between the notices of a batch; the rest is one value for all (_shared_values)."""

    public_id: uuid.UUID
    idempotency_key: str
    subject_id: int | None
    to_email: str
    email_subject: str
    body_text: str
    body_html: str
    headers: dict[str, str]


_PER_ROW = _Row._fields


def _notice_rows(items: list[tuple[str, BulkItem]], *, template: NoticeTemplate) -> list[_Row]:
    """Check and render the batch: addresses first, then one render_notices for every context."""
    public_ids = [uuid.uuid4() for _ in items]
    addresses = [recipient_address(subject=item.subject, to_email=item.to_email) for _, item in items]
    contexts = [
        full_context(context=item.context, public_id=public_id, subject=item.subject, unsubscribe_url="")
        for (_, item), public_id in zip(items, public_ids, strict=True)
    ]
    rendered = render_notices(template=template, contexts=contexts)
    rows = [
        _Row(public_id, key, item.subject.pk if item.subject is not None else None, address, r.subject, r.text,
             r.html, notice_headers(public_id=public_id, purpose="", unsubscribe_url=""))
        for (key, item), public_id, address, r in zip(items, public_ids, addresses, rendered, strict=True)
    ]  # fmt: skip
    return rows


def _shared_values(*, kind: str, template: NoticeTemplate, breach: Breach | None, actor: Actor) -> Notice:
    """The columns every notice of the batch has the same value in, as an unsaved Notice."""
    now = timezone.now()
    return Notice(
        kind=kind,
        language=template.language,
        template=template,
        template_version=template.version,
        breach=breach,
        marketing_purpose="",
        status=NoticeStatus.PENDING,
        attempts=0,
        created_at=now,
        dispatched_at=now,
        requested_by=actor_label(actor),
    )


def _insert_ignoring_conflicts(rows: list[_Row], shared: Notice) -> dict[str, int]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, key: {key: id} of the rows written."""
    if connection.vendor == "postgresql":
        return _insert_unnest(rows, shared)
    return _insert_values(rows, shared)


def _insert_unnest(rows: list[_Row], shared: Notice) -> dict[str, int]:
    """PostgreSQL: one INSERT … SELECT FROM unnest(one array per varying column) per INSERT_CHUNK rows,
    the shared values bound once, in binary. Django's bulk insert prepares every field of every row (a
    model instance each) and its client-side binding quotes all of it, rendered bodies included, into
    the SQL text: that, not the database, was most of the insert's cost."""
    meta = Notice._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns, selects, shared_params, arrays, casts = [], [], [], [], []
    for f in fields:
        columns.append(quote(f.column))
        db_type = f.db_type(connection)
        if f.attname in _PER_ROW:
            is_json = f.get_internal_type() == "JSONField"  # bound as text, cast per row
            arrays.append((_PER_ROW.index(f.attname), is_json))
            casts.append(f"%b::{'text' if is_json else db_type}[]")
            selects.append(f"r.c{len(arrays)}::{db_type}")
        else:
            selects.append(f"%b::{db_type}")
            shared_params.append(f.get_db_prep_save(f.pre_save(shared, add=True), connection))
    if len(arrays) != len(_PER_ROW):
        raise RuntimeError("A _Row field is not a column of the notices table.")
    unnest = ", ".join(casts)
    aliases = ", ".join(f"c{i}" for i in range(1, len(arrays) + 1))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) SELECT {', '.join(selects)} "
        f"FROM unnest({unnest}) AS r({aliases}) ON CONFLICT DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}, {quote(meta.get_field('idempotency_key').column)}"
    )
    written: dict[str, int] = {}
    with _binary_cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            params = list(shared_params)
            for position, is_json in arrays:
                column = [row[position] for row in chunk]
                params.append([json.dumps(value) for value in column] if is_json else column)
            cursor.execute(sql, params)
            written.update((key, pk) for pk, key in cursor.fetchall())
    return written


def _binary_cursor() -> CursorWrapper:
    """A psycopg cursor binding parameters in binary (%b): the rendered bodies go to the server as they
    are, not quoted into the SQL text by the client (Django's cursors bind client-side). Wrapped as
    Django wraps its own, so query capture, execute wrappers and the SQL log see the statement."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


def _insert_values(rows: list[_Row], shared: Notice) -> dict[str, int]:
    """Other databases: a multi-row INSERT … VALUES per INSERT_CHUNK rows, through Django's compiler."""
    fields = [f for f in Notice._meta.concrete_fields if not f.primary_key]
    returning = [Notice._meta.pk, Notice._meta.get_field("idempotency_key")]
    values = {f.attname: getattr(shared, f.attname) for f in fields}
    notices = [Notice(**{**values, **row._asdict()}) for row in rows]
    written: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(notices), INSERT_CHUNK):
            query = InsertQuery(Notice, on_conflict=OnConflict.IGNORE)
            query.insert_values(fields, notices[start : start + INSERT_CHUNK])
            compiler = query.get_compiler(connection=connection)
            compiler.returning_fields = returning
            for sql, params in compiler.as_sql():
                cursor.execute(sql, params)
            written.update((key, pk) for pk, key in cursor.fetchall())
    return written


def _audit_batch(
    *, rows: list[_Row], inserted: dict[str, int], kind: str, template, breach: Breach | None, actor: Actor
) -> None:
    written = [row for row in rows if row.idempotency_key in inserted]
    audit_record(
        action="notice.enqueued_batch",
        actor=actor,
        target_type="notices.notice",
        target_id=f"{inserted[written[0].idempotency_key]}..{inserted[written[-1].idempotency_key]}",
        details={
            "kind": kind,
            "template_version": template.version,
            "breach_id": breach.pk if breach is not None else None,
            "count": len(written),
            "notice_ids": [inserted[row.idempotency_key] for row in written],
            "subject_ids": [row.subject_id for row in written],
        },
    )
