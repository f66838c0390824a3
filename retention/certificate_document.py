"""The erasure certificate as a document a person reads and prints (HTML and PDF), not a JSON dump.

The certificate row keeps its evidence as structured data; this module turns it into headed sections of
labelled lines with human labels and values ("Per category", "Yes", "§1798.81"), for the printable page and
the PDF an officer files or sends.
"""

import io
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

from core.organisation import organisation

from .models import ErasureCertificate

LABELS = {
    "ledgers_erased_by_key_destruction": "Ledger entries made unreadable by destroying the key",
    "retained_because_of_holds": "Key kept because of legal holds",
    "per_category": "Per data category",
    "per_model": "Per record type",
    "systems": "Other systems (external collections)",
    "kept_listed": "Kept records listed",
    "failed_batches": "Failed batches",
    "minor_subject_ids": "Minors' subject ids",
    "minor_certificates": "Minors' certificates",
    "as_of": "Expiry computed as of",
}


@dataclass
class Section:
    title: str
    lines: list[tuple[str, str]] = field(default_factory=list)


def label(key: str) -> str:
    return LABELS.get(key, key.replace("_", " ").capitalize())


def human(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(human(v) for v in value)
    return str(value)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested evidence as (label, value) lines; nested keys read 'Parent: child'."""
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            lines += _flatten(
                item, f"{prefix}{label(str(key))}" if not prefix else f"{prefix}: {label(str(key))}"
            )
        return lines
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        lines = []
        for n, item in enumerate(value, start=1):
            lines += _flatten(item, f"{prefix} {n}")
        return lines
    return [(prefix, human(value))]


def certificate_sections(certificate: ErasureCertificate) -> list[Section]:
    """What the certificate says, in order: who issued it, what it covers, then each part of its evidence."""
    org = organisation()
    head = Section(
        "Certificate",
        [
            ("Certificate number", str(certificate.public_id)),
            ("Issued by", org.name),
            ("Issued at", f"{certificate.issued_at:%Y-%m-%d %H:%M} UTC"),
            ("Kind", certificate.get_kind_display()),
            ("Reason", certificate.reason),
            ("Case reference", certificate.case_reference or "—"),
            ("Records erased", human(certificate.erased_count)),
            ("Records kept", human(certificate.kept_count)),
            ("Subject's key destroyed", human(certificate.key_destroyed)),
            ("Minor", human(certificate.minor)),
            ("Signed off by", certificate.actor_label or "—"),
        ],
    )
    sections = [head]
    for key, value in certificate.summary.items():
        lines = _flatten(value, "") if isinstance(value, dict | list) else [("", human(value))]
        sections.append(Section(label(key), [(k or label(key), v) for k, v in lines]))
    return sections


def certificate_pdf(certificate: ErasureCertificate) -> bytes:
    """The same sections as a PDF (reportlab), for filing or sending."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"Erasure certificate {certificate.public_id}")
    story: list = [Paragraph("Erasure certificate", styles["Title"])]
    for section in certificate_sections(certificate):
        story.append(Paragraph(escape(section.title), styles["Heading2"]))
        rows = [
            [Paragraph(escape(k), styles["BodyText"]), Paragraph(escape(v), styles["BodyText"])]
            for k, v in section.lines
        ]
        if rows:
            story.append(Table(rows, colWidths=[170, 300]))
        story.append(Spacer(1, 8))
    doc.build(story)
    return buffer.getvalue()
