"""Writes to the inventory: subjects, their records, their data keys. Each write is audited."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from audit.services import audit_record
from core import clock
from core.actors import Actor

from . import bulk, crypto
from .models import DataKey, DataSubject, normalize_email
from .registry import registry

# Policy §9 ("minors are not eligible"): under 18 counts as a minor; stricter than COPPA's 13.
MINOR_AGE_YEARS = 18


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@transaction.atomic
def subject_create(
    *,
    name: str = "",
    email: str = "",
    kind: str = DataSubject.Kind.PERSON,
    phone: str = "",
    postal_address: str = "",
    company: str = "",
    role: str = "",
    country: str = "",
    region: str = "",
    date_of_birth: date | None = None,
    is_minor: bool | None = None,
    actor: Actor = None,
) -> DataSubject:
    """Create a subject with its own data key; the date of birth is sealed under that key."""
    if is_minor is None:
        # Age on the business's today: UTC's date would make someone an adult hours before their birthday here.
        is_minor = bool(date_of_birth) and age_on(date_of_birth, clock.business_today()) < MINOR_AGE_YEARS
    subject = DataSubject(
        kind=kind,
        name=name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        postal_address=postal_address.strip(),
        company=company.strip(),
        role=role.strip(),
        country=country.upper(),
        region=region.upper(),
        is_minor=is_minor,
    )
    subject.full_clean(exclude=["date_of_birth"])
    subject.save()
    DataKey.objects.create(subject=subject, wrapped=crypto.new_wrapped_key())
    if date_of_birth:
        key = crypto.key_for_subject(subject.pk)
        subject.date_of_birth = crypto.seal_field(key, subject, "date_of_birth", date_of_birth.isoformat())
        subject.save(update_fields=["date_of_birth"])
    audit_record(action="subject.created", actor=actor, target=subject, subject_id=subject.pk)
    return subject


# Fields an officer may correct on the subject's own row (rectification); the rest are derived or sealed.
SUBJECT_EDITABLE_FIELDS = (
    "kind", "name", "email", "phone", "postal_address", "company", "role", "country", "region", "is_minor",
)  # fmt: skip


@transaction.atomic
def subject_update(*, subject: DataSubject, changes: dict[str, Any], actor: Actor = None) -> DataSubject:
    """Correct a subject's plain fields (rectification). The audit names the fields changed, never values."""
    if subject.erased_at is not None:
        raise ValidationError("This data subject was erased; its record can no longer be changed.")
    unknown = set(changes) - set(SUBJECT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"These fields can't be changed here: {', '.join(sorted(unknown))}.")
    changed = []
    for name, value in changes.items():
        if isinstance(value, str):
            value = value.strip().upper() if name in ("country", "region") else value.strip()
        if getattr(subject, name) != value:
            setattr(subject, name, value)
            changed.append(name)
    if not changed:
        return subject
    subject.full_clean(exclude=["date_of_birth"])
    subject.save()
    audit_record(
        action="subject.updated",
        actor=actor,
        target=subject,
        subject_id=subject.pk,
        details={"fields": sorted(changed)},
    )
    return subject


def _seal_fields(record: models.Model, subject_id: int, encrypted: Iterable[str]) -> None:
    """Seal the given plaintext fields in place, bound to the record's row (its id is reserved first)."""
    encrypted = [name for name in encrypted if getattr(record, name)]
    if not encrypted:
        return
    if record.pk is None:
        record.pk = bulk.reserve_ids(type(record), 1)[0]
    key = crypto.key_for_subject(subject_id)
    for name in encrypted:
        setattr(record, name, crypto.seal_field(key, record, name, getattr(record, name)))


@transaction.atomic
def record_create(
    *, model: type[models.Model], subject: DataSubject, values: dict[str, Any], actor: Actor = None
) -> models.Model:
    """Store a personal-data record of a registered model; sensitive fields are sealed first.

    The row id is reserved before the insert so each ciphertext is bound to the row it is stored in.
    """
    entry = registry.get(model)
    values = dict(values)
    values.setdefault(entry.collected_at, timezone.now())
    record = model(**{entry.subject: subject}, **values)
    _seal_fields(record, subject.pk, entry.encrypted_fields)
    record.full_clean(exclude=list(entry.encrypted_fields))
    record.save(force_insert=True)
    audit_record(action="record.created", actor=actor, target=record, subject_id=subject.pk)
    return record


@transaction.atomic
def record_update(*, record: models.Model, changes: dict[str, Any], actor: Actor = None) -> models.Model:
    """Correct plain fields of a held record. Sealed fields are never written here (use record_create)."""
    entry = registry.get(type(record))
    sealed = set(entry.encrypted_fields) & set(changes)
    if sealed:
        raise ValidationError(f"Encrypted fields can't be edited directly: {', '.join(sorted(sealed))}.")
    changed = [name for name, value in changes.items() if getattr(record, name) != value]
    if not changed:
        return record
    for name in changed:
        setattr(record, name, changes[name])
    record.full_clean(exclude=list(entry.encrypted_fields))
    record.save()
    subject_id = record.pk if not entry.subject else getattr(record, f"{entry.subject}_id")
    audit_record(
        action="record.updated",
        actor=actor,
        target=record,
        subject_id=subject_id,
        details={"fields": sorted(changed)},
    )
    return record


@dataclass
class Revealed:
    """Decrypted sealed fields of one subject's records, keyed by (model label, pk)."""

    values: dict[tuple[str, Any], dict[str, str]] = field(default_factory=dict)
    shredded: bool = False  # the subject's data key is destroyed: nothing can be opened, by design
    undecryptable: set[tuple[str, Any, str]] = field(default_factory=set)


def _owner_id(entry, record: models.Model) -> int:
    return record.pk if not entry.subject else getattr(record, f"{entry.subject}_id")


@transaction.atomic
def records_reveal(
    *, subject_id: int, records: Iterable[models.Model], actor: Actor, channel: str, reason: str = ""
) -> Revealed:
    """Decrypt the sealed fields of one subject's records for someone allowed to see them.

    Reading plaintext of sensitive data is itself an event: it is audited (model labels, field names
    and counts, never values). Needs `inventory.reveal_sensitive` when the actor is a user.
    """
    if hasattr(actor, "has_perm") and not actor.has_perm("inventory.reveal_sensitive"):
        raise PermissionDenied("You may not see decrypted sensitive fields.")
    todo: list[tuple[Any, models.Model]] = []
    for record in records:
        entry = registry.get(type(record))
        if not entry.encrypted_fields:
            continue
        if _owner_id(entry, record) != subject_id:
            raise ValueError("records_reveal was given a record of another subject.")
        todo.append((entry, record))
    result = Revealed()
    if not any(getattr(r, name) for entry, r in todo for name in entry.encrypted_fields):
        return result
    try:
        key = crypto.key_for_subject(subject_id)
    except crypto.KeyDestroyed:
        result.shredded = True
        return result
    opened: dict[str, list[str]] = {}
    for entry, record in todo:
        values: dict[str, str] = {}
        for name in entry.encrypted_fields:
            try:
                values[name] = crypto.open_field(key, record, name)
            except crypto.UndecryptableValue:
                result.undecryptable.add((entry.label, record.pk, name))
                continue
            if values[name]:
                fields = opened.setdefault(entry.label.lower(), [])
                if name not in fields:
                    fields.append(name)
        result.values[(entry.label, record.pk)] = values
    audit_record(
        action="sensitive.revealed",
        actor=actor,
        target_type="inventory.datasubject",
        target_id=subject_id,
        subject_id=subject_id,
        details={"channel": channel, "fields": opened, "records": len(todo), "reason": reason.strip()[:200]},
    )
    return result


def record_reveal(record: models.Model, *, subject_id: int | None = None) -> dict[str, str]:
    """Decrypt a record's sealed fields. Raises crypto.KeyDestroyed once the subject was shredded."""
    entry = registry.get(type(record))
    if not entry.encrypted_fields:
        return {}
    sid = (
        subject_id
        if subject_id is not None
        else (record.pk if not entry.subject else getattr(record, f"{entry.subject}_id"))
    )
    key = crypto.key_for_subject(sid)
    return {name: crypto.open_field(key, record, name) for name in entry.encrypted_fields}


@transaction.atomic(
    savepoint=False
)  # no savepoint: no caller catches its errors (erasures run it inside theirs)
def subject_destroy_data_key(*, subject_id: int, actor: Actor = None, reason: str) -> bool:
    """Crypto-shred: destroy the subject's data key. Every value sealed under it becomes unreadable.

    Returns False when the key was already destroyed (idempotent, nothing recorded twice). Every
    process drops its cached copy: this one at once, the others when the commit bumps the key epoch.
    """
    crypto.forget_keys_locally([subject_id])
    transaction.on_commit(lambda: crypto.keys_destroyed([subject_id]))
    destroyed = DataKey.objects.filter(subject_id=subject_id, destroyed_at__isnull=True).update(
        wrapped="", destroyed_at=timezone.now()
    )
    if destroyed:
        audit_record(
            action="data_key.destroyed",
            actor=actor,
            target_type="inventory.datakey",
            target_id=subject_id,
            subject_id=subject_id,
            details={"reason": reason},
        )
    return bool(destroyed)


def data_keys_rotate(*, batch_size: int = 1000, actor: Actor = None) -> int:
    """Re-wrap every live data key under the newest master key, in short batches (resumable)."""
    rotated = 0
    last = 0
    while True:
        with transaction.atomic():
            batch = list(
                DataKey.objects.select_for_update()
                .filter(subject_id__gt=last, destroyed_at__isnull=True)
                .order_by("subject_id")[:batch_size]
            )
            if not batch:
                break
            now = timezone.now()
            for key in batch:
                key.wrapped = crypto.rewrap(key.wrapped)
                key.rotated_at = now
            DataKey.objects.bulk_update(batch, ["wrapped", "rotated_at"])
            rotated += len(batch)
            last = batch[-1].subject_id
    audit_record(action="data_keys.rotated", actor=actor, details={"count": rotated})
    return rotated


__all__ = [
    "normalize_email",
    "record_create",
    "record_reveal",
    "record_update",
    "records_reveal",
    "subject_update",
    "subject_create",
    "subject_destroy_data_key",
    "data_keys_rotate",
]
