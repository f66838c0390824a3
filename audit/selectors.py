"""Reading the audit chain."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from .chain import GENESIS, compute_hash
from .models import AuditEvent


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def verify_chain(*, batch_size: int = 5000) -> tuple[int, ChainBreak | None]:
    """Walk the chain oldest first; return (events checked, first break or None)."""
    expected_prev = GENESIS
    checked = 0
    for event in _in_order(batch_size):
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(event.pk, "previous-hash link does not match the event before it")
        recomputed = compute_hash(
            prev_hash=event.prev_hash,
            at=event.at,
            actor_label=event.actor_label,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            subject_id=event.subject_id,
            details=event.details,
        )
        if recomputed != event.hash:
            return checked, ChainBreak(event.pk, "content does not match its hash (row was altered)")
        expected_prev = event.hash
        checked += 1
    return checked, None


def _in_order(batch_size: int) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        batch = list(AuditEvent.objects.filter(pk__gt=last_id).order_by("pk")[:batch_size])
        if not batch:
            return
        yield from batch
        last_id = batch[-1].pk


def events_for_subject(*, subject_id: int) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(subject_id=subject_id).order_by("id")
