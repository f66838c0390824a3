"""Enqueueing many notices of one kind at once: breach batches, policy-change notices, sweep reports.

`notice_enqueue` costs about ten round trips per notice (key lookup, template, insert, audit chain
lock, chain tail, audit insert…); at breach scale that is hours. `notice_enqueue_many` does the same
checks and the same rendering (the template is compiled once, notices.rendering caches it) for a whole
batch, in the caller's transaction, in a fixed number of statements whatever the batch size:

1. the idempotency keys already in the outbox, in one query (those items return their notice, as
   `notice_enqueue` does; nothing new is sent);
2. every new row in one multi-row INSERT … ON CONFLICT DO NOTHING RETURNING, so a concurrent caller
   that wrote the same key first wins and ours is dropped, as with the single path;
3. one audit event for the batch, listing the notice and subject ids it covers (the chain stays one
   event per append, verifiable as before);
4. after commit, delivery is queued in batches of ids (notices.tasks.deliver_notice_batch), never
   one task per notice.

Marketing messages are not accepted here: each needs its own consent check and unsubscribe link
(use `notice_enqueue`).
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory.models import DataSubject

from ..models import Breach, Notice, NoticeKind, NoticeStatus
from ..templates_lookup import active_template
from . import common
from .enqueue import clean_key, notice_headers, recipient_address, render_notice

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
    todo = [item for key, item in keyed.items() if key not in existing]
    if not todo:
        return BulkEnqueueResult(created=[], existing=existing)
    template = active_template(kind=kind, language=language)
    rows = [_notice_row(item, kind=kind, template=template, breach=breach, actor=actor) for item in todo]
    with transaction.atomic():
        inserted = _insert_ignoring_conflicts(rows)
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


def _notice_row(item: BulkItem, *, kind: str, template, breach: Breach | None, actor: Actor) -> Notice:
    public_id = uuid.uuid4()
    address = recipient_address(subject=item.subject, to_email=item.to_email)
    rendered = render_notice(
        template=template, context=item.context, public_id=public_id, subject=item.subject, unsubscribe_url=""
    )
    now = timezone.now()
    return Notice(
        public_id=public_id,
        idempotency_key=clean_key(item.idempotency_key),
        kind=kind,
        language=template.language,
        template=template,
        template_version=template.version,
        subject=item.subject,
        breach=breach,
        marketing_purpose="",
        to_email=address,
        email_subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        headers=notice_headers(public_id=public_id, purpose="", unsubscribe_url=""),
        status=NoticeStatus.PENDING,
        attempts=0,
        created_at=now,
        dispatched_at=now,
        requested_by=actor_label(actor),
    )


def _insert_ignoring_conflicts(rows: list[Notice]) -> dict[str, int]:
    """Multi-row INSERT … ON CONFLICT DO NOTHING RETURNING id, key: {key: id} of the rows written.

    One statement per INSERT_CHUNK rows (PostgreSQL binds at most 65,535 parameters per statement).
    """
    fields = [f for f in Notice._meta.concrete_fields if not f.primary_key]
    returning = [Notice._meta.pk, Notice._meta.get_field("idempotency_key")]
    written: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            query = InsertQuery(Notice, on_conflict=OnConflict.IGNORE)
            query.insert_values(fields, rows[start : start + INSERT_CHUNK])
            compiler = query.get_compiler(connection=connection)
            compiler.returning_fields = returning
            for sql, params in compiler.as_sql():
                cursor.execute(sql, params)
            written.update((key, pk) for pk, key in cursor.fetchall())
    return written


def _audit_batch(
    *, rows: list[Notice], inserted: dict[str, int], kind: str, template, breach: Breach | None, actor: Actor
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
