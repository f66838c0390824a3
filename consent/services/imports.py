"""CSV import of historic opt-in/opt-out lists, all or nothing."""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label, actor_user
from inventory.models import DataSubject

from ..models import Action, ConsentEvent, ConsentImport, ConsentState, PolicyVersion, Purpose
from ..selectors import suppressed_hashes
from ..suppression import email_hmac
from .common import CHUNK, chunks
from .inputs import BulkRecordRejected, ConsentEventInput
from .record import consent_events_record_bulk


class ImportRejected(ValidationError):
    """The file has bad rows; nothing was written. `row_errors` lists every one with its line number."""

    def __init__(self, row_errors: Sequence[Any]):
        self.row_errors = sorted(row_errors, key=lambda e: e.line)
        super().__init__(
            f"The file was rejected: {len(self.row_errors)} problem(s); nothing was imported.",
            code="import_rejected",
        )


@dataclass
class ImportReport:
    rows: int = 0
    events_created: int = 0
    duplicates: int = 0
    skipped_suppressed: int = 0
    skipped_opted_out: int = 0
    subjects_created: int = 0
    suppressed_lines: list[int] = field(default_factory=list)  # refused grants, by line (shown on the page)
    opted_out_lines: list[int] = field(default_factory=list)
    dry_run: bool = False
    import_batch: ConsentImport | None = None


def _subjects_by_email(emails: Iterable[str]) -> dict[str, int]:
    """Live subjects by normalised address (primary address first, then email contact points; lowest id)."""
    from inventory.models import ContactPoint

    emails = list(set(emails))
    found: dict[str, int] = {}
    for chunk in chunks(emails):
        for email, sid in (
            DataSubject.objects.filter(email_normalized__in=chunk, erased_at__isnull=True)
            .order_by("-pk")
            .values_list("email_normalized", "pk")
        ):
            found[email] = sid
    for chunk in chunks([e for e in emails if e not in found]):
        for email, sid in (
            ContactPoint.objects.filter(
                kind=ContactPoint.Kind.EMAIL, value_normalized__in=chunk, subject__erased_at__isnull=True
            )
            .order_by("-subject_id")
            .values_list("value_normalized", "subject_id")
        ):
            found[email] = sid
    return found


@dataclass
class _Plan:
    """What an import will do: the rows to record and the subjects to create (first row per address)."""

    report: ImportReport
    to_record: list[Any]
    missing: dict[str, Any]
    subject_ids: dict[str, int]
    prefix: str


def _check_rows(rows: Sequence[Any], errors: list[Any]) -> None:
    """Checks needing the database or other rows: purpose usable, policy version published, no repeats."""
    from .. import csv_import

    purposes = {p.code: p for p in Purpose.objects.all()}
    published = set(
        PolicyVersion.objects.filter(published_at__isnull=False).values_list("version", flat=True)
    )
    seen: dict[tuple, int] = {}
    for row in rows:
        purpose = purposes.get(row.purpose)
        if purpose is None:
            errors.append(csv_import.RowError(row.line, f"Unknown purpose '{row.purpose[:40]}'."))
        elif purpose.required or not purpose.active:
            errors.append(
                csv_import.RowError(row.line, f"'{purpose.name}' can't be imported (required or retired).")
            )
        if row.policy_version and row.policy_version not in published:
            errors.append(
                csv_import.RowError(
                    row.line, f"Unknown or unpublished policy version '{row.policy_version}'."
                )
            )
        key = (row.email, row.purpose, row.action, row.at)
        if key in seen:
            errors.append(
                csv_import.RowError(row.line, f"Same address, purpose, action and date as line {seen[key]}.")
            )
        else:
            seen[key] = row.line


def _current_states(subject_ids: Iterable[int]) -> dict[tuple[int, str], str]:
    """(subject id, purpose code) -> current action, for the subjects the file names."""
    states: dict[tuple[int, str], str] = {}
    for chunk in chunks(list(set(subject_ids))):
        states.update(
            {
                (sid, purpose): action
                for sid, purpose, action in ConsentState.objects.filter(subject_id__in=chunk).values_list(
                    "subject_id", "purpose__code", "action"
                )
            }
        )
    return states


def _imported_lines(prefix: str) -> set[int]:
    """Lines of this very file (same hash) recorded by an earlier import."""
    return {
        int(cid.removeprefix(prefix))
        for cid in ConsentEvent.objects.filter(
            source="import", client_event_id__startswith=prefix
        ).values_list("client_event_id", flat=True)
    }


def _plan(
    rows: Sequence[Any], errors: list[Any], *, sha: str, create_missing_subjects: bool, dry_run: bool
) -> _Plan:
    """Sort each row into recorded, duplicate, skipped (suppressed or opted out), or an error."""
    from .. import csv_import

    subject_ids = _subjects_by_email(r.email for r in rows)
    hashes = {r.email: email_hmac(r.email) for r in rows}
    listed = suppressed_hashes(hashes=hashes.values(), purposes={r.purpose for r in rows})
    states = _current_states(subject_ids.values())
    prefix = f"{sha[:32]}:"
    imported_lines = _imported_lines(prefix)
    plan = _Plan(ImportReport(rows=len(rows), dry_run=dry_run), [], {}, subject_ids, prefix)
    report = plan.report
    for row in rows:
        if row.line in imported_lines:  # this very file was imported before
            report.duplicates += 1
            continue
        sid = subject_ids.get(row.email)
        suppressed = (hashes[row.email], row.purpose) in listed
        if suppressed and (row.action == Action.GRANT or sid is None):
            report.skipped_suppressed += 1
            report.suppressed_lines.append(row.line)
            continue
        if (
            row.action == Action.GRANT
            and sid is not None
            and states.get((sid, row.purpose)) == Action.WITHDRAW
        ):
            report.skipped_opted_out += 1
            report.opted_out_lines.append(row.line)
            continue
        if sid is None:
            if not create_missing_subjects:
                errors.append(
                    csv_import.RowError(
                        row.line, "No data subject has this address (or allow creating subjects)."
                    )
                )
                continue
            plan.missing.setdefault(row.email, row)
        plan.to_record.append(row)
    return plan


def _record_rows(plan: _Plan, *, batch: ConsentImport, actor: Actor) -> None:
    """Record the planned rows in batches through the ledger's one path; a refused item rejects the file."""
    from .. import csv_import

    to_record, report = plan.to_record, plan.report
    inputs = [
        ConsentEventInput(
            subject_id=plan.subject_ids[row.email],
            purpose=row.purpose,
            action=row.action,
            channel=row.channel,
            at=row.at,
            client_event_id=f"{plan.prefix}{row.line}",
            collection_point=row.collection_point,
            policy_version=row.policy_version,
            language=row.language,
            evidence={"note": row.note} if row.note else None,
        )
        for row in to_record
    ]
    for start in range(0, len(inputs), CHUNK):
        chunk = inputs[start : start + CHUNK]
        try:
            result = consent_events_record_bulk(
                events=chunk, source="import", actor=actor, notify_withdrawals=False, import_batch=batch
            )
        except BulkRecordRejected as exc:
            lines = [to_record[start + i].line for i in exc.item_errors]
            raise ImportRejected(
                [
                    csv_import.RowError(line, " ".join(msgs))
                    for line, msgs in zip(lines, exc.item_errors.values(), strict=True)
                ]
            ) from exc
        report.events_created += result.created
        report.duplicates += result.duplicates


_COUNTS = ("events_created", "duplicates", "skipped_suppressed", "skipped_opted_out", "subjects_created")


def _write(plan: _Plan, *, sha: str, file_name: str, actor: Actor) -> ConsentImport:
    """Create the import batch and the missing subjects, record the rows, store the counts, audit."""
    from inventory.services import subject_create

    report = plan.report
    with transaction.atomic():
        batch = ConsentImport.objects.create(
            file_name=(file_name or "upload.csv")[:255],
            file_sha256=sha,
            rows_total=report.rows,
            actor=actor_user(actor),
            actor_label=actor_label(actor),
        )
        for email, row in plan.missing.items():
            subject = subject_create(
                email=email, name=row.name, country=row.country, region=row.region, actor=actor
            )
            plan.subject_ids[email] = subject.pk
        _record_rows(plan, batch=batch, actor=actor)
        for name in _COUNTS:
            setattr(batch, name, getattr(report, name))
        batch.save()
        audit_record(
            action="consent.list_imported",
            actor=actor,
            target=batch,
            details={"sha256": sha, "rows": report.rows, **{name: getattr(report, name) for name in _COUNTS}},
        )
    return batch


def consent_import_csv(
    *,
    content: bytes,
    file_name: str,
    actor: Actor = None,
    create_missing_subjects: bool = True,
    dry_run: bool = False,
) -> ImportReport:
    """Import a historic opt-in/opt-out list, all or nothing.

    Every row is checked first; any bad row rejects the whole file (ImportRejected lists each one with
    its line number) and nothing is written. Grants for suppressed addresses, and grants for subjects
    who opted out, are refused (a list can never re-subscribe anyone); they are counted, not errors.
    Re-importing the same file records nothing twice (client event id = file hash + line).
    """
    from .. import csv_import

    try:
        text = csv_import.decode(content)
    except ValidationError as exc:
        raise ImportRejected([csv_import.RowError(0, exc.messages[0])]) from exc
    rows, errors = csv_import.parse(text, now=timezone.now())
    _check_rows(rows, errors)
    sha = hashlib.sha256(content).hexdigest()
    plan = _plan(rows, errors, sha=sha, create_missing_subjects=create_missing_subjects, dry_run=dry_run)
    if errors:
        raise ImportRejected(errors)
    report = plan.report
    report.subjects_created = len(plan.missing)
    if dry_run:
        report.events_created = len(plan.to_record)
        return report
    report.import_batch = _write(plan, sha=sha, file_name=file_name, actor=actor)
    return report
