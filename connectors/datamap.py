"""The data map and the record of processing activities (GDPR Art. 30), generated, never hand-kept.

From what the back office knows: the personal-data registry (this database), the systems with their
connections and datasets, our data categories, the recipients (providers), and transfers (a system
hosted outside the EEA while EEA subjects are held). Apps above us (consent: purposes; retention:
schedules) add columns through `register_contributor`, since connectors may not import them.
Each generation is kept (DataMapSnapshot) so the page shows what changed since the last one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from audit.services import audit_record
from core.actors import Actor
from core.organisation import organisation
from inventory.models import DataCategory, DataSubject, System
from inventory.reference import EEA_COUNTRIES
from inventory.registry import registry

from . import fides
from .connector import parsed_dataset
from .models import Connection, DataMapSnapshot, Dataset

COLUMNS = [
    "system", "system_name", "kind", "connection", "owner", "recipient", "location", "category",
    "category_name", "collections", "identities", "transfer",
]  # fmt: skip
_CONTRIBUTORS: list[Callable[[list[dict[str, Any]]], None]] = []


def register_contributor(fn: Callable[[list[dict[str, Any]]], None]) -> None:
    """An app above connectors adds columns to each row (e.g. purposes, retention periods)."""
    if fn not in _CONTRIBUTORS:
        _CONTRIBUTORS.append(fn)


def _transfer(location: str, eea_subjects: bool) -> str:
    code = (location or "").strip().upper()[:2]
    if not code or not eea_subjects:
        return ""
    return "" if code in EEA_COUNTRIES else f"EEA subjects' data hosted in {code}: needs a transfer mechanism"


def build_rows() -> list[dict[str, Any]]:
    eea_subjects = DataSubject.objects.filter(country__in=EEA_COUNTRIES).exists()
    names = dict(DataCategory.objects.values_list("code", "name"))
    rows: list[dict[str, Any]] = []
    internal: dict[str, list[str]] = {}
    for entry in registry:
        internal.setdefault(entry.category, []).append(entry.verbose_name)
    systems = System.objects.select_related("provider").order_by("code")
    connections = {c.system_id: c for c in Connection.objects.all()}
    datasets: dict[int, list[Dataset]] = {}
    for d in Dataset.objects.order_by("fides_key"):
        datasets.setdefault(d.system_id, []).append(d)
    for system in systems:
        base = {
            "system": system.code, "system_name": system.name, "kind": system.kind,
            "connection": connections[system.pk].kind if system.pk in connections else "",
            "owner": system.owner, "recipient": system.provider.legal_name if system.provider else "",
            "location": system.location, "transfer": _transfer(system.location, eea_subjects),
        }  # fmt: skip
        by_category: dict[str, dict[str, set[str]]] = {}
        if system.kind == System.Kind.INTERNAL:
            for code, models in internal.items():
                by_category[code] = {"collections": set(models), "identities": {"subject"}}
        for d in datasets.get(system.pk, []):
            ds = parsed_dataset(d.pk, d.updated_at, d.text)
            for coll in ds.collections.values():
                for f in coll.fields.values():
                    for cat in f.data_categories:
                        code = fides.category_for(cat, d.category_map)
                        if code:
                            slot = by_category.setdefault(code, {"collections": set(), "identities": set()})
                            slot["collections"].add(coll.name)
                            if f.identity:
                                slot["identities"].add(f.identity)
        if not by_category:
            by_category[""] = {"collections": set(), "identities": set()}
        for code, slot in sorted(by_category.items()):
            rows.append({
                **base, "category": code, "category_name": names.get(code, ""),
                "collections": ", ".join(sorted(slot["collections"])),
                "identities": ", ".join(sorted(slot["identities"])),
            })  # fmt: skip
    for contribute in _CONTRIBUTORS:
        contribute(rows)
    return rows


def _digest(rows: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Changes:
    added: list[str]
    removed: list[str]
    changed: list[str]

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _key(row: dict[str, Any]) -> str:
    return f"{row['system']} / {row['category'] or '-'}"


def changes_between(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Changes:
    before, after = {_key(r): r for r in old}, {_key(r): r for r in new}
    changed = []
    for key in sorted(set(before) & set(after)):
        fields = [
            c for c in sorted(set(before[key]) | set(after[key])) if before[key].get(c) != after[key].get(c)
        ]
        if fields:
            changed.append(f"{key}: {', '.join(fields)}")
    return Changes(sorted(set(after) - set(before)), sorted(set(before) - set(after)), changed)


@transaction.atomic
def datamap_generate(*, actor: Actor) -> tuple[DataMapSnapshot, Changes]:
    """Generate the map now, keep it, and say what changed since the previous one."""
    previous = DataMapSnapshot.objects.first()
    rows = build_rows()
    snapshot = DataMapSnapshot.objects.create(rows=rows, digest=_digest(rows))
    changes = changes_between(previous.rows if previous else [], rows)
    audit_record(
        action="connectors.datamap_generated", actor=actor, target=snapshot,
        details={"rows": len(rows), "added": len(changes.added), "removed": len(changes.removed),
                 "changed": len(changes.changed)},
    )  # fmt: skip
    return snapshot, changes


def as_csv(snapshot: DataMapSnapshot) -> str:
    out = io.StringIO()
    columns = COLUMNS + sorted({k for r in snapshot.rows for k in r} - set(COLUMNS))
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(snapshot.rows)
    return out.getvalue()


def as_pdf(snapshot: DataMapSnapshot) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    buffer = io.BytesIO()
    styles = getSampleStyleSheet()
    org = organisation()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), title="Record of processing activities")
    small = styles["BodyText"].clone("small", fontSize=7, leading=8)
    header = ["System", "Owner", "Recipient", "Location", "Category", "Collections", "Identities", "Purposes",
              "Retention", "Transfer"]  # fmt: skip
    data = [header] + [
        [Paragraph(str(v), small) for v in (
            f"{r['system_name']} ({r['kind']}, {r['connection'] or 'no connection'})", r["owner"],
            r["recipient"], r["location"], r["category_name"] or r["category"], r["collections"],
            r["identities"], r.get("purposes", ""),
            "; ".join(x for x in (r.get("retention", ""), r.get("retention_basis", "")) if x), r["transfer"],
        )]
        for r in snapshot.rows
    ]  # fmt: skip
    table = Table(data, repeatRows=1)
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("FONTSIZE", (0, 0), (-1, 0), 8)])
    )
    doc.build([
        Paragraph(f"Record of processing activities (GDPR Art. 30) — {org.name}", styles["Title"]),
        Paragraph(f"Controller: {org.name}, {org.postal_address}; contact {org.privacy_email}", styles["BodyText"]),
        Paragraph(f"Generated {snapshot.generated_at:%Y-%m-%d %H:%M} UTC from the back office's registry, "
                  "systems and datasets.", styles["BodyText"]),
        table,
    ])  # fmt: skip
    return buffer.getvalue()
