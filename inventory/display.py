"""A subject's registered records as rows to show (admin subject page, API `records` action).

Driven by the registry, like discovery. Sealed (encrypted) fields stay sealed unless the caller asks
to reveal them and the user holds `inventory.reveal_sensitive`; revealing goes through the audited
service. Query budget, whatever the number of records: one query per registered model, one for the
categories, one per related model shown by name (sources, systems), plus the reveal (key + audit).
"""

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from .fields import EncryptedTextField
from .models import DataCategory, DataSubject
from .registry import PersonalData
from .selectors import SubjectRecords, records_for_subject_by_category
from .services import records_reveal


class Seal:
    """What stands in for a sealed value that is not shown."""

    SEALED = "encrypted"  # the user may not see it
    SHREDDED = "shredded"  # the subject's data key is destroyed: unreadable for everyone
    UNDECRYPTABLE = "undecryptable"  # corrupt or sealed under another key


@dataclass(frozen=True)
class Cell:
    name: str
    label: str
    value: Any = None
    # None when the value is shown; else one of Seal.* (for sealed fields only).
    seal: str | None = None
    masked: bool = False  # one-way hashes (passwords): never displayed


@dataclass
class Row:
    pk: Any
    cells: list[Cell]
    # What to call the row outside the admin: its public UUID when the model has one (the subject's
    # own row), else its id within its model. Sequential subject ids stay internal.
    public_ref: str = ""


@dataclass
class ModelRecords:
    entry: PersonalData
    rows: list[Row]
    truncated: bool
    url: str = ""  # where the caller lists all of them (set by the admin)

    @property
    def label(self) -> str:
        return self.entry.label

    @property
    def verbose_name(self) -> str:
        return self.entry.verbose_name

    @property
    def columns(self) -> list[str]:
        return [c.label for c in self.rows[0].cells] if self.rows else []


@dataclass
class CategoryRecords:
    code: str
    name: str
    sensitivity: str
    models: list[ModelRecords] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(m.rows) for m in self.models)


def _shown_fields(entry: PersonalData) -> list[models.Field]:
    """Everything a person is told about in an access request, minus keys and derived lookup columns."""
    shown = []
    for f in entry.model._meta.concrete_fields:
        if f.primary_key or (entry.subject and f.name == entry.subject):
            continue
        if isinstance(f, EncryptedTextField) or f.editable or isinstance(f, models.DateTimeField):
            shown.append(f)
    return shown


def _is_masked(f: models.Field) -> bool:
    return "password" in f.name or f.name.endswith("_hash")


def _related_names(found: list[SubjectRecords]) -> dict[tuple[type[models.Model], Any], str]:
    """Names of related rows (source, system, ...): one query per related model, not per record."""
    wanted: dict[type[models.Model], set] = defaultdict(set)
    for item in found:
        for f in _shown_fields(item.entry):
            if f.is_relation and f.related_model is not DataSubject:
                wanted[f.related_model].update(
                    v for r in item.records if (v := getattr(r, f.attname)) is not None
                )
    names = {}
    for model, ids in wanted.items():
        if ids:
            for pk, obj in model._default_manager.in_bulk(ids).items():
                names[(model, pk)] = str(obj)
    return names


def subject_records(
    subject: DataSubject,
    *,
    user: Any = None,
    reveal: bool = False,
    channel: str = "admin",
    limit: int = 100,
    reason: str = "",
) -> list[CategoryRecords]:
    """A subject's records grouped by data category, in the registry's order.

    `reveal=True` decrypts sealed fields (audited) and needs `inventory.reveal_sensitive`.
    """
    by_category = records_for_subject_by_category(subject.pk, limit=limit)
    found = [item for items in by_category.values() for item in items]
    revealed = None
    if reveal:
        revealed = records_reveal(
            subject_id=subject.pk,
            records=[r for item in found for r in item.records],
            actor=user,
            channel=channel,
            reason=reason,
        )
    related = _related_names(found)
    categories = {c.code: c for c in DataCategory.objects.all()}
    grouped: dict[str, CategoryRecords] = {}
    for item in found:
        entry = item.entry
        category = categories.get(entry.category)
        group = grouped.setdefault(
            entry.category,
            CategoryRecords(
                code=entry.category,
                name=category.name if category else entry.category,
                sensitivity=category.sensitivity if category else "",
            ),
        )
        fields = _shown_fields(entry)
        rows = []
        for record in item.records:
            cells = []
            for f in fields:
                label = str(f.verbose_name)
                if isinstance(f, EncryptedTextField):
                    cells.append(_sealed_cell(f, label, record, entry, revealed))
                elif _is_masked(f):
                    cells.append(Cell(f.name, label, None, masked=bool(getattr(record, f.attname))))
                elif f.is_relation:
                    fk = getattr(record, f.attname)
                    cells.append(Cell(f.name, label, related.get((f.related_model, fk)) if fk else None))
                else:
                    cells.append(Cell(f.name, label, getattr(record, f.attname)))
            public_id = getattr(record, "public_id", None)
            rows.append(Row(record.pk, cells, public_ref=str(public_id or record.pk)))
        group.models.append(ModelRecords(entry, rows, item.truncated))
    return list(grouped.values())


def human_value(f: models.Field, value: Any) -> Any:
    """What an officer reads: choice labels, Yes/No, lists joined; not `person`, `False`, `['a']`."""
    if value is None or value == "":
        return value
    if f.choices:
        return dict(f.flatchoices).get(value, value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or None
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or None
    return value


def humanize(groups: list[CategoryRecords]) -> list[CategoryRecords]:
    """For screens (not the API, which keeps raw values): every shown value as an officer reads it."""
    for group in groups:
        for held in group.models:
            meta = held.entry.model._meta
            for row in held.rows:
                for i, cell in enumerate(row.cells):
                    if cell.seal is not None or cell.masked:
                        continue
                    try:
                        f = meta.get_field(cell.name)
                    except FieldDoesNotExist:  # a display-only column
                        continue
                    if not f.is_relation:
                        row.cells[i] = replace(cell, value=human_value(f, cell.value))
    return groups


def _sealed_cell(f, label, record, entry, revealed) -> Cell:
    stored = getattr(record, f.attname)
    if not stored:
        return Cell(f.name, label, "")
    if revealed is None:
        return Cell(f.name, label, None, seal=Seal.SEALED)
    if revealed.shredded:
        return Cell(f.name, label, None, seal=Seal.SHREDDED)
    if (entry.label, record.pk, f.name) in revealed.undecryptable:
        return Cell(f.name, label, None, seal=Seal.UNDECRYPTABLE)
    return Cell(f.name, label, revealed.values[(entry.label, record.pk)][f.name])


def may_reveal(user: Any) -> bool:
    return bool(user and user.has_perm("inventory.reveal_sensitive"))


__all__ = [
    "Cell",
    "CategoryRecords",
    "ModelRecords",
    "Row",
    "Seal",
    "human_value",
    "humanize",
    "may_reveal",
    "subject_records",
]
