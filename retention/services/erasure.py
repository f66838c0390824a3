"""Erasure of one data subject (a DSAR erasure, or a minor's data in a sweep), certified.

The steps, in one transaction: survey what each registered model holds of the subject (held records
are kept and listed), erase the rest through the erasure engine, destroy the subject's data key when
nothing is held (which erases the append-only ledgers), stamp `erased_at`, issue the certificate and
audit it.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import connections, models, transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory.hooks import run_before_subject_erasure
from inventory.models import DataKey, DataSubject
from inventory.registry import Erase, PersonalData
from inventory.services import subject_destroy_data_key

from ..erasure import (
    JournalContext,
    Plan,
    erase_rows_together,
    erasure_order,
    pending_q,
    plan_for,
    write_journal_rows,
)
from ..models import ErasureCertificate, ErasureJournal, LegalHold
from ..selectors import hold_covering, holds_for_subject
from .common import DISPOSAL, NIST_CLEAR, NIST_PURGE_CRYPTO, kept_row


class ErasureOutcome(NamedTuple):
    """The certificate of a subject erasure, and whether it was issued now (False: nothing was left to
    erase and the earlier certificate for the same case came back)."""

    certificate: ErasureCertificate
    issued: bool


@dataclass
class _Survey:
    """What the registry holds of the subject, sorted before anything is written."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    todo: list[tuple[PersonalData, Plan, models.QuerySet]] = field(default_factory=list)
    ledgers: list[PersonalData] = field(default_factory=list)


@dataclass
class _Done:
    """What an erasure did, for the certificate and the audit event."""

    erased: list[dict[str, Any]]
    kept: list[dict[str, Any]]
    ledger_rows: list[dict[str, Any]]
    key_destroyed: bool
    key_live: bool

    @property
    def erased_count(self) -> int:
        return sum(e["count"] for e in self.erased)


def erase_subject(
    *, subject_id: int, actor: Actor = None, reason: str, case_reference: str = "", minor: bool = False
) -> ErasureCertificate:
    """Erase every registered record of a subject, except records under legal hold, and certify it.

    Per the registry: rows deleted, or fields nulled / keyed-hashed / ciphertext dropped; append-only
    ledgers only by destroying the subject's data key, which happens when nothing of the subject is
    held. Runs the before-erasure hooks first (consent keeps its suppression hashes), journals every
    erasure for `replay_erasures`, stamps `erased_at`. Idempotent: when nothing is left to erase, the
    previous certificate for the same case is returned and nothing is written.
    """
    return erase_subject_outcome(
        subject_id=subject_id, actor=actor, reason=reason, case_reference=case_reference, minor=minor
    ).certificate


@transaction.atomic
def erase_subject_outcome(
    *, subject_id: int, actor: Actor = None, reason: str, case_reference: str = "", minor: bool = False
) -> ErasureOutcome:
    """`erase_subject`, also saying whether the certificate is new (a sweep counts only new erasures)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for the erasure; it is printed on the certificate.")
    subject = DataSubject.objects.select_for_update().filter(pk=subject_id).first()
    if subject is None:
        raise ValidationError("No such data subject.")
    now = timezone.now()
    holds = list(holds_for_subject(subject_id=subject_id, at=now))
    survey = _survey(subject_id, holds)
    key_live = None  # asked only when it decides something: a first erasure destroys a live key or none
    if subject.erased_at is not None:  # erased before: a repeat finds nothing left to do
        key_live = _key_live(subject_id)
        if (survey.kept or not key_live) and not _anything_pending(survey):
            previous = _previous_certificate(subject_id, case_reference)
            if previous is not None:
                return ErasureOutcome(previous, False)

    journal = JournalContext(at=now, certificate_ref=uuid.uuid4(), subject_id=subject_id)
    run_before_subject_erasure(subject_id=subject_id)
    erased = _erase_records(survey, journal)
    held = bool(survey.kept)
    ledger_rows, key_destroyed = _ledgers_and_key(survey, holds, actor=actor, journal=journal)
    if key_live is None:
        # Nothing held: the key was destroyed now exactly when it was live.
        key_live = _key_live(subject_id) if held else key_destroyed
    lines = []  # the key's and the subject's journal entries, in one INSERT
    if key_destroyed:
        lines.append(("inventory.DataKey", ErasureJournal.Method.KEY_DESTROYED, [subject_id]))
    stamp = None
    if subject.erased_at is None:  # stamped in the journal's round trip
        stamp = _stamp_erased(subject_id, now)
        lines.append(("inventory.DataSubject", ErasureJournal.Method.SUBJECT_ERASED, [subject_id]))
    write_journal_rows(lines, journal, with_statement=stamp)
    done = _Done(erased, survey.kept, ledger_rows, key_destroyed, key_live)
    certificate = _issue_certificate(
        done, journal=journal, reason=reason, case_reference=case_reference, minor=minor, actor=actor
    )
    audit_record(
        action="retention.subject.erased",
        actor=actor,
        target=certificate,
        subject_id=subject_id,
        details={
            "certificate": str(certificate.public_id),
            "case_reference": case_reference,
            "erased": {e["model"]: e["count"] for e in erased},
            "kept": len(done.kept),
            "key_destroyed": key_destroyed,
            "minor": minor,
        },
    )
    return ErasureOutcome(certificate, True)


def _survey(subject_id: int, holds: list[LegalHold]) -> _Survey:
    """Sort every registered model's records of the subject: held (kept), ledger, or to erase.

    Nothing is counted here: the engine erases only what still holds a value, and reports the count.
    """
    survey = _Survey()
    for entry in erasure_order():
        records = entry.for_subject(subject_id)
        hold = hold_covering(holds, subject_id=subject_id, category=entry.category)
        if hold is not None:
            survey.kept.extend(
                kept_row(entry.label, pk, hold) for pk in records.order_by("pk").values_list("pk", flat=True)
            )
            continue
        if entry.append_only:
            survey.ledgers.append(entry)
            continue
        survey.todo.append((entry, plan_for(entry), records))
    return survey


def _anything_pending(survey: _Survey) -> bool:
    """Does any record not under hold still hold a value to erase? (Stops at the first that does.)"""
    return any(records.filter(pending_q(entry.model, plan)).exists() for entry, plan, records in survey.todo)


def _stamp_erased(subject_id: int, at: datetime) -> tuple[str, list[Any]] | None:
    """Stamp `erased_at` on the subject: on PostgreSQL the UPDATE is returned (SQL and parameters) to go
    with the journal's INSERT; elsewhere it runs now, through the ORM."""
    connection = connections[DataSubject.objects.db]
    if connection.vendor != "postgresql":
        DataSubject.objects.filter(pk=subject_id).update(erased_at=at)
        return None
    meta = DataSubject._meta
    qn = connection.ops.quote_name
    return (
        f"UPDATE {qn(meta.db_table)} SET {qn(meta.get_field('erased_at').column)} = %s "
        f"WHERE {qn(meta.pk.column)} = %s",
        [at, subject_id],
    )


def _key_live(subject_id: int) -> bool:
    return DataKey.objects.filter(subject_id=subject_id, destroyed_at__isnull=True).exists()


def _ledger_counts(entries: list[PersonalData], subject_id: int) -> list[int]:
    """Rows of each ledger of the subject, in one statement (a scalar count per ledger), not one per ledger."""
    querysets = [entry.for_subject(subject_id).order_by().values("pk") for entry in entries]
    if not querysets or len({qs.db for qs in querysets}) != 1:
        return [qs.count() for qs in querysets]
    parts, params = [], []
    for number, qs in enumerate(querysets):
        sql, part_params = qs.query.get_compiler(qs.db).as_sql()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS ledger_{number})")
        params.extend(part_params)
    with connections[querysets[0].db].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        return [int(count) for count in cursor.fetchone()]


def _previous_certificate(subject_id: int, case_reference: str) -> ErasureCertificate | None:
    return (
        ErasureCertificate.objects.filter(subject_id=subject_id, case_reference=case_reference)
        .order_by("-issued_at", "-id")
        .first()
    )


def _fields_summary(plan: Plan) -> dict[str, str]:
    return {name: Erase(strategy).value for name, strategy in plan.strategies.items()}


def _erase_records(survey: _Survey, journal: JournalContext) -> list[dict[str, Any]]:
    """Erase (and journal) every model's records not under hold; one certificate line per model."""
    erased = []
    results = erase_rows_together([(entry, plan, records) for entry, plan, records in survey.todo], journal)
    for (entry, plan, _records), result in zip(survey.todo, results, strict=True):
        if result.count:
            erased.append(
                {
                    "model": entry.label,
                    "category": entry.category,
                    "method": plan.method,
                    "fields": _fields_summary(plan),
                    "count": result.count,
                    "ids": result.ids,
                    "standard": NIST_CLEAR,
                }
            )
    return erased


def _ledgers_and_key(
    survey: _Survey, holds: list[LegalHold], *, actor: Actor, journal: JournalContext
) -> tuple[list[dict[str, Any]], bool]:
    """Destroy the data key (erasing the ledgers) unless something is held; then the ledgers are kept too.

    The caller journals the destruction (with the subject's stamp, one INSERT). Returns the ledger lines erased by key destruction, and whether the key was destroyed now.
    """
    subject_id = journal.subject_id
    if survey.kept:
        first_hold = next(h for h in holds if str(h.public_id) == survey.kept[0]["hold"])
        for entry in survey.ledgers:
            survey.kept.extend(
                kept_row(entry.label, pk, first_hold, note="data key kept while other records are held")
                for pk in entry.for_subject(subject_id).order_by("pk").values_list("pk", flat=True)
            )
        return [], False
    key_destroyed = subject_destroy_data_key(
        subject_id=subject_id, actor=actor, reason=f"erasure certificate {journal.certificate_ref}"
    )
    ledger_rows = [
        {"model": entry.label, "category": entry.category, "count": count}
        for entry, count in zip(survey.ledgers, _ledger_counts(survey.ledgers, subject_id), strict=True)
        if count
    ]
    return ledger_rows, key_destroyed


def _issue_certificate(
    done: _Done, *, journal: JournalContext, reason: str, case_reference: str, minor: bool, actor: Actor
) -> ErasureCertificate:
    return ErasureCertificate.objects.create(
        public_id=journal.certificate_ref,
        kind=ErasureCertificate.Kind.SUBJECT,
        issued_at=journal.at,
        subject_id=journal.subject_id,
        reason=reason,
        case_reference=case_reference,
        minor=minor,
        actor_label=actor_label(actor),
        erased_count=done.erased_count,
        kept_count=len(done.kept),
        key_destroyed=done.key_destroyed,
        summary={
            "erased": done.erased,
            "kept": done.kept,
            "ledgers_erased_by_key_destruction": done.ledger_rows,
            "key_destruction": {
                "subject_id": journal.subject_id,
                "destroyed_now": done.key_destroyed,
                "already_destroyed": not done.key_live,
                "retained_because_of_holds": bool(done.kept),
                "standard": NIST_PURGE_CRYPTO,
                "copies": "Only the wrapped key exists (no copies outside the database); backups are "
                "covered by replay_erasures, which destroys the key again after a restore.",
            },
            "minor": minor,
            "minor_policy": "Policy §9: minors' data is deleted immediately (COPPA 16 CFR §312.10)."
            if minor
            else "",
            "disposal": DISPOSAL,
        },
    )
