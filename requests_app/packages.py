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

from core.csv_safety import safe_cell
from inventory import crypto
from inventory.fields import EncryptedTextField
from inventory.models import DataCategory, DataSubject, Source, System, ThirdParty
from inventory.registry import PersonalData
from inventory.selectors import records_for_subject

from . import policy

# Reference tables whose rows are shown by name, not id (small: loaded once per package).
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


class _Names:
    def __init__(self) -> None:
        self._maps: dict[type, dict] = {}

    def name(self, model: type[models.Model], pk) -> str | None:
        if pk is None:
            return None
        if model not in self._maps:
            self._maps[model] = {o.pk: str(o) for o in model._default_manager.all()}
        return self._maps[model].get(pk)


def _opened(records: list[models.Model], key) -> dict[tuple[int, str], str]:
    """Every sealed field of the package's records, opened in one batch (one key re-check, not one per value)."""
    fields = [
        (record, f.name)
        for record in records
        for f in record._meta.concrete_fields
        if isinstance(f, EncryptedTextField) and getattr(record, f.attname)
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


def _row(
    record: models.Model, entry: PersonalData, opened: dict[tuple[int, str], str], names: _Names
) -> dict:
    row: dict = {}
    subject_field = entry.subject.split("__")[0] if entry.subject else ""
    never = entry.never_exported  # credentials, tokens, idempotency keys, mail headers, staff names
    for f in record._meta.concrete_fields:
        if f.name == subject_field or f.name in never:
            continue
        if f.is_relation:
            related = f.related_model
            raw = getattr(record, f.attname)
            if related is DataSubject:
                continue
            if related in _NAMED:
                row[f.name] = names.name(related, raw)
            else:
                row[f.attname] = raw
            continue
        value = getattr(record, f.attname)
        if isinstance(f, EncryptedTextField):
            value = opened.get((id(record), f.name), "")
        row[f.name] = _plain(value)
    return row


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    headers: list[str] = []
    for r in rows:
        headers.extend(k for k in r if k not in headers)
    writer = csv.DictWriter(out, fieldnames=headers)
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {k: safe_cell(json.dumps(v) if isinstance(v, list | dict) else v) for k, v in r.items()}
        )
    return out.getvalue()


def _readme(
    *,
    reference: str,
    generated_at: datetime,
    lookback_from: date | None,
    categories: dict[str, list[tuple[PersonalData, int]]],
    sources: set[str],
    recipients: list[ThirdParty],
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
    known = {c.code: c for c in DataCategory.objects.filter(code__in=list(categories))}
    from .gateways import retention_periods_by_category

    periods = retention_periods_by_category()
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
    from .gateways import connectors_access_results

    results, uploads = connectors_access_results(case_id=case_id)
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


def _exported(
    subject_id: int, lookback_from: date | None, system_ids: set[int]
) -> list[tuple[PersonalData, list[models.Model]]]:
    """Each registered model's records of the subject within the lookback; fills in the systems seen."""
    exported: list[tuple[PersonalData, list[models.Model]]] = []
    for found in records_for_subject(subject_id):
        # Recipients are named from every record's system, whatever the lookback.
        system_ids.update(r.system_id for r in found.records if getattr(r, "system_id", None))
        records = found.records
        if lookback_from and found.entry.subject:
            records = [
                r for r in records if _on_or_after(getattr(r, found.entry.collected_at), lookback_from)
            ]
        if records:
            exported.append((found.entry, records))
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
    """The whole ZIP, in memory (one subject's data: kilobytes to a few megabytes)."""
    from .gateways import recipients_for_subject

    key = crypto.keys_for_subjects([subject_id]).get(subject_id)
    names = _Names()
    buffer = io.BytesIO()
    manifest: dict[str, list[dict]] = {}
    per_category: dict[str, list[tuple[PersonalData, int]]] = {}
    sources: set[str] = set()
    system_ids: set[int] = set()
    total = 0
    files: list[str] = []
    exported = _exported(subject_id, lookback_from, system_ids)
    opened = _opened([r for _entry, records in exported for r in records], key)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry, records in exported:
            rows = [_row(r, entry, opened, names) for r in records]
            for r in records:
                source_id = getattr(r, "source_id", None)
                if source_id is not None:
                    sources.add(names.name(Source, source_id))
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
                recipients=list(recipients_for_subject(subject_id=subject_id, system_ids=system_ids)),
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
    if value is None:
        return True
    if isinstance(value, datetime):
        from django.utils import timezone

        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value >= day
