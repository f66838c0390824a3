"""Building the contents of an access/portability package from the registry (no model is named here).

`package_contents(subject_id, ...)` returns the ZIP bytes: README.txt, manifest.json and, per data
category, one JSON and one CSV file per registered model holding the subject's records. Sealed fields are
opened with the subject's key; the foreign key to the subject itself is left out; references to
sources, systems and recipients are written as their names.
"""

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.db import models

from core import batched, clock
from core.csv_safety import safe_cell
from inventory import crypto
from inventory.fields import EncryptedTextField
from inventory.models import DataCategory, DataSubject, Source, System, ThirdParty
from inventory.registry import PersonalData
from inventory.selectors import categories_with_codes, records_for_subject

from . import gateways, policy

# Reference tables whose rows are shown by name, not id (only the rows the package's records name).
_NAMED = (Source, System, ThirdParty, DataCategory)


@dataclass
class PackageContents:
    data: bytes
    record_count: int
    categories: list[str]
    files: list[str] = field(default_factory=list)


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


@dataclass(frozen=True)
class _Field:
    """How one field of a registered model goes into its rows: worked out once per model and package,
    not once per record."""

    key: str  # the row's key
    attname: str
    named: type[models.Model] | None = None  # a reference shown by its row's name
    sealed: bool = False  # opened with the subject's key


def _plan(entry: PersonalData, model: type[models.Model]) -> list[_Field]:
    """The exported fields, in the model's order: not the subject's own foreign key, nor any the
    registry never exports; references to sources, systems, recipients and categories by name."""
    subject_field = entry.subject.split("__")[0] if entry.subject else ""
    never = entry.never_exported  # credentials, tokens, idempotency keys, mail headers, staff names
    plan: list[_Field] = []
    for f in model._meta.concrete_fields:
        if f.name == subject_field or f.name in never:
            continue
        if f.is_relation:
            related = f.related_model
            if related is DataSubject:
                continue
            if related in _NAMED:
                plan.append(_Field(f.name, f.attname, named=related))
            else:
                plan.append(_Field(f.attname, f.attname))
            continue
        plan.append(_Field(f.name, f.attname, sealed=isinstance(f, EncryptedTextField)))
    return plan


@dataclass(frozen=True)
class _Exported:
    entry: PersonalData
    records: list[models.Model]
    plan: list[_Field]


@dataclass(frozen=True)
class _Reference:
    """What the rows and the README name, read in one round trip once the records are known."""

    names: dict[type[models.Model], dict]
    categories: dict[str, DataCategory]
    periods: dict[str, list[str]]
    recipients: list[ThirdParty]


def _reference(subject_id: int, exported: list[_Exported], system_ids: set[int]) -> _Reference:
    """The names of the reference rows the records point at (sources, systems, ...), the categories,
    the active retention schedules and the recipients: one batch of statements (core.batched), each
    compiled once per process, instead of a query (and an ORM compile) per model and README section."""
    ids: dict[type[models.Model], set] = {model: set() for model in _NAMED}
    for one in exported:
        named = [(f.attname, ids[f.named]) for f in one.plan if f.named is not None]
        for record in one.records:
            for attname, found in named:
                found.add(getattr(record, attname))
            ids[Source].add(getattr(record, "source_id", None))
    wanted = [(model, model_ids - {None}) for model, model_ids in ids.items()]
    wanted = [(model, model_ids) for model, model_ids in wanted if model_ids]
    categories, schedules, recipients, *rows = batched.fetch(
        categories_with_codes({one.entry.category for one in exported}),
        gateways.retention_schedules_query(),
        gateways.recipients_query(subject_id=subject_id, system_ids=system_ids),
        *(batched.with_ids(model).bind(ids=model_ids) for model, model_ids in wanted),
    )
    names: dict[type[models.Model], dict] = {model: {} for model in _NAMED}
    for (model, _ids), found in zip(wanted, rows, strict=True):
        names[model] = {o.pk: str(o) for o in found}
    return _Reference(
        names=names,
        categories={c.code: c for c in categories},
        periods=gateways.retention_periods_by_category(schedules),
        recipients=recipients,
    )


def _opened(exported: list[_Exported], key) -> dict[tuple[int, str], str]:
    """Every exported sealed field of the package's records, opened in one batch (one key re-check,
    not one per value)."""
    fields = [
        (record, f.key)
        for one in exported
        for f in one.plan
        if f.sealed
        for record in one.records
        if getattr(record, f.key)
    ]
    if not fields:
        return {}
    if key is None:
        return {(id(r), name): "[erased: key destroyed]" for r, name in fields}
    values = crypto.open_fields(key, fields)
    return {
        (id(r), name): "[unreadable]" if value is None else value
        for (r, name), value in zip(fields, values, strict=True)
    }


def _row(record: models.Model, plan: list[_Field], opened: dict[tuple[int, str], str], names: dict) -> dict:
    row: dict = {}
    for f in plan:
        if f.named is not None:
            raw = getattr(record, f.attname)
            row[f.key] = None if raw is None else names[f.named].get(raw)
        elif f.sealed:
            row[f.key] = opened.get((id(record), f.key), "")
        else:
            row[f.key] = _plain(getattr(record, f.attname))
    return row


def _cell(value):
    return safe_cell(json.dumps(value) if isinstance(value, list | dict) else value)


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    headers = list(dict.fromkeys(k for r in rows for k in r))  # every key, in order of first appearance
    writer = csv.writer(out)  # what csv.DictWriter writes (restval ""), without its per-row checks
    writer.writerow(headers)
    for r in rows:
        writer.writerow([_cell(r[k]) if k in r else "" for k in headers])
    return out.getvalue()


def _readme(
    *,
    reference: str,
    generated_at: datetime,
    lookback_from: date | None,
    categories: dict[str, list[tuple[PersonalData, int]]],
    sources: set[str],
    reference_rows: _Reference,
) -> str:
    lines = [
        "YOUR PERSONAL DATA - ACCESS PACKAGE",
        "",
        f"Request reference: {reference}",
        f"Generated: {generated_at.isoformat()}",
        "Covers: "
        + (f"records collected since {lookback_from.isoformat()}" if lookback_from else "all records"),
        "",
        "Each folder holds one category of personal data. Every file comes twice: JSON (machine-readable,",
        "for portability, GDPR Art. 20) and CSV (opens in a spreadsheet). manifest.json lists all files.",
        "",
        "CATEGORIES OF PERSONAL DATA (GDPR Art. 15(1)(b); Cal. Civ. Code §1798.110)",
    ]
    known, periods, recipients = reference_rows.categories, reference_rows.periods, reference_rows.recipients
    for code, entries in categories.items():
        category = known.get(code)
        title = category.name if category else code
        lines += ["", f"[{code}] {title}"]
        if category:
            lines.append(f"  What it is: {category.description}")
        for entry, count in entries:
            lines.append(f"  - {entry.verbose_name}: {count} record(s). {entry.description}".rstrip())
        lines.append("  Why we use it (policy §4):")
        lines += [f"    * {p}" for p in policy.PURPOSES_BY_CATEGORY.get(code, ["See the privacy policy, §4"])]
        lines.append("  How long we keep it (GDPR Art. 15(1)(d)):")
        lines += [
            f"    * {p}" for p in periods.get(code, ["As long as necessary for the purposes (policy §8)"])
        ]
    lines += ["", "SOURCES OF THE DATA (GDPR Art. 15(1)(g); §1798.110(a)(2))"]
    lines += [f"  - {s}" for s in sorted(sources)] or ["  - Provided by you"]
    lines += ["", "RECIPIENTS (GDPR Art. 15(1)(c); §1798.110(a)(4))"]
    if recipients:
        lines.append("  Named recipients that received your data:")
        lines += [f"  - {r.legal_name} ({r.get_kind_display()}), {r.postal_address}" for r in recipients]
    lines.append("  Categories of recipients:")
    lines += [f"  - {c}" for c in policy.RECIPIENT_CATEGORIES]
    lines += [
        "",
        "YOUR RIGHTS",
        "  You may ask us to correct or delete this data, to restrict or object to its use, and to stop",
        "  marketing at any time (privacy policy §7).",
        "  " + policy.SUPERVISORY_AUTHORITY_NOTE,
        "",
    ]
    return "\n".join(lines)


def _other_systems(archive: zipfile.ZipFile, case_id: int) -> tuple[int, list[str], list[dict]]:
    """Rows the case found in the company's other systems, a folder per system: JSON + CSV per
    collection (CSV headers carry our category codes), and files their owners uploaded."""
    results, uploads = gateways.connectors_access_results(case_id=case_id)
    total, files, manifest = 0, [], []
    for r in results:
        base = f"systems/{r.system_code}/{r.collection.replace(':', '-')}"
        archive.writestr(f"{base}.json", json.dumps(r.rows, indent=2, ensure_ascii=False, default=str))
        archive.writestr(f"{base}.csv", r.csv())
        files += [f"{base}.json", f"{base}.csv"]
        manifest.append({"system": r.system_name, "collection": r.collection, "records": len(r.rows),
                         "categories": sorted({c for cs in r.categories.values() for c in cs}),
                         "truncated": r.truncated})  # fmt: skip
        total += len(r.rows)
    for u in uploads:
        name = f"systems/{u.system_code}/{u.file_name or 'export'}"
        archive.writestr(name, u.content)
        files.append(name)
        manifest.append({"system": u.system_name, "file": u.file_name})
    return total, files, manifest


def _exported(subject_id: int, lookback_from: date | None, system_ids: set[int]) -> list[_Exported]:
    """Each registered model's records of the subject within the lookback; fills in the systems seen."""
    exported: list[_Exported] = []
    for found in records_for_subject(subject_id):
        # Recipients are named from every record's system, whatever the lookback.
        system_ids.update(r.system_id for r in found.records if getattr(r, "system_id", None))
        records = found.records
        if lookback_from and found.entry.subject:
            records = [
                r for r in records if _on_or_after(getattr(r, found.entry.collected_at), lookback_from)
            ]
        if records:
            exported.append(_Exported(found.entry, records, _plan(found.entry, type(records[0]))))
    return exported


def package_contents(
    *,
    subject_id: int,
    case_id: int | None = None,
    reference: str,
    generated_at: datetime,
    lookback_from: date | None = None,
    heartbeat=None,
) -> PackageContents:
    """The whole ZIP, in memory (one subject's data: kilobytes to a few megabytes).

    Three reads: the subject's key, its records (one statement, inventory.discovery) and everything
    the files and README name (one round trip, `_reference`); then the case's other systems, if any.
    """
    key = crypto.keys_for_subjects([subject_id]).get(subject_id)
    buffer = io.BytesIO()
    manifest: dict[str, list[dict]] = {}
    per_category: dict[str, list[tuple[PersonalData, int]]] = {}
    system_ids: set[int] = set()
    total = 0
    files: list[str] = []
    exported = _exported(subject_id, lookback_from, system_ids)
    opened = _opened(exported, key)
    reference_rows = _reference(subject_id, exported, system_ids)
    names = reference_rows.names
    sources = {
        names[Source].get(source_id)
        for one in exported
        for r in one.records
        if (source_id := getattr(r, "source_id", None)) is not None
    }
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for one in exported:
            entry = one.entry
            rows = [_row(r, one.plan, opened, names) for r in one.records]
            base = f"{entry.category}/{entry.label}"
            archive.writestr(f"{base}.json", json.dumps(rows, indent=2, ensure_ascii=False, default=str))
            archive.writestr(f"{base}.csv", _csv(rows))
            files += [f"{base}.json", f"{base}.csv"]
            manifest.setdefault(entry.category, []).append(
                {"model": entry.label, "description": entry.description, "records": len(rows)}
            )
            per_category.setdefault(entry.category, []).append((entry, len(rows)))
            total += len(rows)
            if heartbeat:
                heartbeat()
        systems_manifest: list[dict] = []
        if case_id is not None:
            found, more_files, systems_manifest = _other_systems(archive, case_id)
            total += found
            files += more_files
        archive.writestr(
            "README.txt",
            _readme(
                reference=reference,
                generated_at=generated_at,
                lookback_from=lookback_from,
                categories=per_category,
                sources=sources,
                reference_rows=reference_rows,
            ),
        )
        archive.writestr(
            "manifest.json",
            json.dumps(
                {
                    "reference": reference,
                    "generated_at": generated_at.isoformat(),
                    "categories": manifest,
                    "other_systems": systems_manifest,
                },  # fmt: skip
                indent=2,
            ),
        )
    return PackageContents(
        data=buffer.getvalue(), record_count=total, categories=sorted(per_category), files=files
    )


def _on_or_after(value, day: date) -> bool:
    """Whether a record was collected on or after the lookback's first day, both read in the business
    calendar (the lookback is counted from the day the request was received there)."""
    if value is None:
        return True
    if isinstance(value, datetime):
        value = clock.business_date(value) if value.utcoffset() is not None else value.date()
    return value >= day
