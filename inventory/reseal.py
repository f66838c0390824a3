"""Re-sealing values written before AES-256-GCM (Fernet tokens, not bound to their row) in the current format.

`manage.py reseal_legacy_values` wraps it. Walks every registered model's encrypted fields in
primary-key order, one short transaction per batch; the legacy filter finds only what is left, so an
interrupted run resumes where it stopped. Each value is opened under its subject's key and sealed
again bound to (table, column, row, subject); the UPDATE is guarded by the old value, so a concurrent
writer wins. Values whose key was destroyed stay as they are (unreadable by design), as do values that
don't open. Append-only ledgers allow exactly this change (audit.appendonly_reseal).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models, transaction

from audit.services import audit_record
from core.actors import Actor

from . import crypto
from .registry import PersonalData, registry

LEGACY = {"startswith": "g"}  # a Fernet token's first byte, 0x80, encodes as "g"


@dataclass
class ResealCounts:
    """What a run did: values re-sealed, left because the key is destroyed, or left because they don't open."""

    resealed: int = 0
    shredded: int = 0
    undecryptable: int = 0


def _columns() -> list[tuple[PersonalData, str]]:
    return [(entry, name) for entry in registry for name in entry.encrypted_fields]


def _legacy(entry: PersonalData, name: str) -> models.QuerySet:
    return entry.model._default_manager.filter(**{f"{name}__startswith": LEGACY["startswith"]})


def legacy_values_count() -> int:
    """Legacy values left to re-seal (destroyed keys' values included: they stay, and stay counted)."""
    return sum(_legacy(entry, name).count() for entry, name in _columns())


def _reseal_batch(entry: PersonalData, name: str, rows: list[tuple], counts: ResealCounts) -> None:
    table, column = crypto.field_place(entry.model, name)
    keys = crypto.keys_for_subjects({subject_id for _pk, subject_id, _token in rows})
    manager = entry.model._default_manager
    for pk, subject_id, token in rows:
        key = keys.get(subject_id)
        if key is None:
            counts.shredded += 1
            continue
        try:
            new = crypto.reseal(key, token, table=table, column=column, row=pk)
        except crypto.UndecryptableValue:
            counts.undecryptable += 1
            continue
        counts.resealed += manager.filter(pk=pk, **{name: token}).update(**{name: new})


def legacy_values_reseal(
    *, batch_size: int = 500, actor: Actor = None, progress: Callable[[int], None] | None = None
) -> ResealCounts:
    """Re-seal every legacy value in batches (resumable); `progress(n)` after each batch of n rows."""
    counts = ResealCounts()
    for entry, name in _columns():
        subject = entry.subject or "pk"
        last = None
        while True:
            with transaction.atomic():
                batch = _legacy(entry, name) if last is None else _legacy(entry, name).filter(pk__gt=last)
                rows = list(batch.order_by("pk").values_list("pk", subject, name)[:batch_size])
                if not rows:
                    break
                _reseal_batch(entry, name, rows, counts)
            last = rows[-1][0]
            if progress is not None:
                progress(len(rows))
    audit_record(
        action="data.resealed",
        actor=actor,
        details={
            "resealed": counts.resealed,
            "shredded": counts.shredded,
            "undecryptable": counts.undecryptable,
        },
    )
    return counts
