"""Retention writes: schedules, legal holds, erasure of a subject, sweeps and journal replay.

Every function here is the one place its rule lives; admin, commands and tasks call these. Each
records an audit event with ids, codes and counts only (never personal data).
"""

import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, models, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_label
from inventory.hooks import run_before_subject_erasure
from inventory.models import DataCategory, DataKey, DataSubject, Source, System
from inventory.registry import Erase, registry
from inventory.services import subject_destroy_data_key

from . import mirror
from .erasure import (
    JournalContext,
    Plan,
    erase_rows,
    erasure_order,
    pending_q,
    plan_for,
    write_journal,
)
from .expiry import expired_q
from .models import (
    Action,
    ErasureCertificate,
    ErasureJournal,
    ExceptionCode,
    LegalHold,
    RetentionSchedule,
    SweepBatch,
    SweepRun,
)
from .selectors import (
    Target,
    actions_allowed,
    forecast,
    hold_covering,
    holds_for_category,
    holds_for_subject,
    minors_to_erase,
    schedule_entries,
    schedule_targets,
    unfinished_run,
)

logger = logging.getLogger(__name__)

SWEEP_ACTOR = "retention.sweep"
# Records per fan-out task and per transaction (id windows inside a task). Settings may override.
BATCH_ROWS = 250_000
WINDOW_ROWS = 50_000
# Kept-record ids listed per batch and per certificate; beyond this only counts are kept.
KEPT_LIST_LIMIT = 10_000

NIST_CLEAR = "NIST SP 800-88 Rev. 1 Clear (logical overwrite or deletion in the database)"
NIST_PURGE_CRYPTO = (
    "NIST SP 800-88 Rev. 1 Purge: cryptographic erase (the subject's data key, stored only wrapped, "
    "was destroyed; every value sealed under it, in every copy, is unreadable)"
)
DISPOSAL = "Cal. Civ. Code §1798.81: erased or modified to make it unreadable or undecipherable"


def _batch_rows() -> int:
    return int(getattr(settings, "RETENTION_SWEEP_BATCH_ROWS", BATCH_ROWS))


def _window_rows() -> int:
    return int(getattr(settings, "RETENTION_SWEEP_WINDOW_ROWS", WINDOW_ROWS))


# === Schedules ======================================================================================

SCHEDULE_FIELDS = (
    "category",
    "model_label",
    "system",
    "source",
    "period_months",
    "period_days",
    "anchor",
    "action",
    "legal_basis",
    "citation",
    "is_default",
    "active",
)


def retention_schedule_check(schedule: RetentionSchedule) -> None:
    """Refuse a schedule the registry can't carry out, or one that duplicates an active schedule's scope."""
    schedule.full_clean()
    errors: dict[str, list[str]] = {}
    code = schedule.category.code
    in_category = [e for e in registry.for_category(code) if not e.append_only]
    if not in_category:
        raise ValidationError(
            {"category": f"No record kind holds '{schedule.category}' data that a sweep may erase."}
        )
    if schedule.model_label:
        labels = {e.label.lower(): e for e in in_category}
        if schedule.model_label.lower() not in labels:
            errors.setdefault("model_label", []).append(
                f"'{schedule.model_label}' is not a kind of record in this category. "
                f"Choose one of: {', '.join(sorted(e.label for e in in_category))}."
            )
        else:
            schedule.model_label = labels[schedule.model_label.lower()].label
    if not errors:
        entries = schedule_entries(schedule)
        if not entries:
            anchors = sorted({a for e in in_category for a in e.timestamp_fields})
            errors.setdefault("anchor", []).append(
                f"No record in this scope records the event '{schedule.anchor}'. Events available: "
                f"{', '.join(anchors)}."
            )
        for entry in entries:
            if schedule.action not in actions_allowed(entry):
                choices = ", ".join(Action(a).label.lower() for a in actions_allowed(entry))
                errors.setdefault("action", []).append(
                    f"{entry.verbose_name.capitalize()} can't be erased that way; possible: {choices}."
                    + (" (Set 'model label' to narrow the schedule.)" if not schedule.model_label else "")
                )
    if schedule.active:
        twins = RetentionSchedule.objects.filter(
            active=True,
            category_id=schedule.category_id,
            model_label__iexact=schedule.model_label,
            system_id=schedule.system_id,
            source_id=schedule.source_id,
        ).exclude(pk=schedule.pk)
        if twins.exists():
            errors.setdefault("__all__", []).append(
                "Another active schedule already covers exactly this scope; edit that one instead."
            )
    if errors:
        raise ValidationError(errors)


def _schedule_snapshot(schedule: RetentionSchedule) -> dict[str, Any]:
    return {
        name: getattr(schedule, f"{name}_id")
        if name in ("category", "system", "source")
        else getattr(schedule, name)
        for name in SCHEDULE_FIELDS
    }


def _would_erase(schedule: RetentionSchedule) -> int:
    return sum(f.would_erase for f in forecast(schedules=[schedule]))


@transaction.atomic
def retention_schedule_create(
    *,
    category: DataCategory,
    period_months: int = 0,
    period_days: int = 0,
    anchor: str = "collected",
    action: str = Action.DELETE,
    legal_basis: str,
    citation: str,
    model_label: str = "",
    system: System | None = None,
    source: Source | None = None,
    is_default: bool = False,
    active: bool = True,
    actor: Actor = None,
) -> RetentionSchedule:
    """Add a schedule; the audit event records what it would erase at once."""
    schedule = RetentionSchedule(
        category=category,
        model_label=model_label.strip(),
        system=system,
        source=source,
        period_months=period_months,
        period_days=period_days,
        anchor=anchor.strip(),
        action=action,
        legal_basis=legal_basis.strip(),
        citation=citation.strip(),
        is_default=is_default,
        active=active,
    )
    retention_schedule_check(schedule)
    schedule.save()
    audit_record(
        action="retention.schedule.created",
        actor=actor,
        target=schedule,
        details={"schedule": _schedule_snapshot(schedule), "would_erase_now": _would_erase(schedule)},
    )
    return schedule


@transaction.atomic
def retention_schedule_update(*, schedule_id: int, actor: Actor = None, **changes: Any) -> RetentionSchedule:
    """Change a schedule (period, anchor, action, scope, basis, active...). Audited with before/after."""
    unknown = set(changes) - set(SCHEDULE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown schedule fields: {', '.join(sorted(unknown))}.")
    schedule = RetentionSchedule.objects.select_for_update().get(pk=schedule_id)
    before = _schedule_snapshot(schedule)
    for name, value in changes.items():
        setattr(schedule, name, value.strip() if isinstance(value, str) else value)
    retention_schedule_check(schedule)
    after = _schedule_snapshot(schedule)
    changed = {k: {"from": before[k], "to": after[k]} for k in SCHEDULE_FIELDS if before[k] != after[k]}
    if not changed:
        return schedule
    schedule.save()
    audit_record(
        action="retention.schedule.updated",
        actor=actor,
        target=schedule,
        details={"changes": changed, "would_erase_now": _would_erase(schedule) if schedule.active else 0},
    )
    return schedule


# === Legal holds ====================================================================================


@transaction.atomic
def legal_hold_place(
    *,
    subject_id: int | None = None,
    category: str | None = None,
    case_reference: str = "",
    reason: str,
    owner: Any,
    ends_on: date | None = None,
    actor: Actor = None,
    exception_code: str = ExceptionCode.LEGAL_CLAIMS,
) -> LegalHold:
    """Put records beyond the reach of every erasure until released or past `ends_on`.

    Scope: a subject (all records, or one `category` of them) or a whole category. A DSAR case's hold
    carries the case's public UUID as `case_reference`. `owner` is a user or a name; None means the actor.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the records must be kept (it is shown on certificates)."})
    if subject_id is None and not category:
        raise ValidationError("A legal hold needs a data subject, a data category, or both.")
    category_obj = None
    if category:
        category_obj = DataCategory.objects.filter(code=category).first()
        if category_obj is None:
            raise ValidationError({"category": f"Unknown data category '{category}'."})
    if subject_id is not None and not DataSubject.objects.filter(pk=subject_id).exists():
        raise ValidationError({"subject": "No such data subject."})
    if ends_on is not None and ends_on < timezone.now().date():
        raise ValidationError({"ends_on": "The end date of a hold can't be in the past."})
    if exception_code not in ExceptionCode.values:
        raise ValidationError({"exception_code": "Choose one of the GDPR Art. 17(3) exception codes."})
    hold = LegalHold(
        subject_id=subject_id,
        category=category_obj,
        case_reference=(case_reference or "").strip(),
        exception_code=exception_code,
        reason=reason,
        owner=owner if hasattr(owner, "pk") else None,
        # No owner named: whoever places the hold answers for it (a job's name, or "system").
        owner_label=actor_label(owner if owner is not None else actor),
        placed_at=timezone.now(),
        ends_on=ends_on,
    )
    hold.full_clean()
    hold.save()
    audit_record(
        action="retention.hold.placed",
        actor=actor,
        target=hold,
        subject_id=subject_id,
        details={
            "hold": str(hold.public_id),
            "category": category or "",
            "case_reference": hold.case_reference,
            "exception_code": exception_code,
            "ends_on": ends_on,
        },
    )
    return hold


@transaction.atomic
def legal_hold_update(
    *, hold_id: int, actor: Actor = None, ends_on: date | None = None, reason: str | None = None
) -> LegalHold:
    """Change a hold's end date or reason (scope can't change: place a new hold instead)."""
    hold = LegalHold.objects.select_for_update().get(pk=hold_id)
    if hold.released_at is not None:
        raise ValidationError("This hold was released; place a new hold instead.")
    changed = {}
    if ends_on != hold.ends_on:
        if ends_on is not None and ends_on < timezone.now().date():
            raise ValidationError({"ends_on": "The end date of a hold can't be in the past."})
        changed["ends_on"] = {"from": hold.ends_on, "to": ends_on}
        hold.ends_on = ends_on
    if reason is not None and reason.strip() != hold.reason:
        if not reason.strip():
            raise ValidationError({"reason": "Say why the records must be kept."})
        hold.reason = reason.strip()
        changed["reason"] = "changed"
    if changed:
        hold.save(update_fields=["ends_on", "reason"])
        audit_record(
            action="retention.hold.updated",
            actor=actor,
            target=hold,
            subject_id=hold.subject_id,
            details={"hold": str(hold.public_id), "changes": changed},
        )
    return hold


@transaction.atomic
def legal_hold_release(*, hold_id: int, actor: Actor = None, reason: str) -> LegalHold:
    """End a hold now. The records become erasable again at the next sweep or request. Idempotent."""
    if not (reason or "").strip():
        raise ValidationError({"release_reason": "Say why the hold ends."})
    hold = LegalHold.objects.select_for_update().get(pk=hold_id)
    if hold.released_at is not None:
        return hold
    hold.released_at = timezone.now()
    hold.released_by = actor_label(actor)
    hold.release_reason = reason.strip()
    hold.save(update_fields=["released_at", "released_by", "release_reason"])
    audit_record(
        action="retention.hold.released",
        actor=actor,
        target=hold,
        subject_id=hold.subject_id,
        details={"hold": str(hold.public_id), "case_reference": hold.case_reference},
    )
    return hold


def legal_holds_release_for_case(*, case_reference: str, actor: Actor = None, reason: str) -> int:
    """Release every active hold placed for one case (when the case is closed)."""
    ids = LegalHold.objects.filter(case_reference=case_reference, released_at__isnull=True).values_list(
        "pk", flat=True
    )
    count = 0
    for hold_id in list(ids):
        legal_hold_release(hold_id=hold_id, actor=actor, reason=reason)
        count += 1
    return count


# === Erasure of one subject =========================================================================


def _kept_row(label: str, pk: int, hold: LegalHold, note: str = "") -> dict[str, Any]:
    row = {
        "model": label,
        "pk": pk,
        "hold": str(hold.public_id),
        "code": hold.exception_code,
        "case_reference": hold.case_reference,
    }
    if note:
        row["note"] = note
    return row


def _fields_summary(plan: Plan) -> dict[str, str]:
    return {name: Erase(strategy).value for name, strategy in plan.strategies.items()}


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
    certificate, _ = _erase_subject(
        subject_id=subject_id, actor=actor, reason=reason, case_reference=case_reference, minor=minor
    )
    return certificate


@transaction.atomic
def _erase_subject(
    *, subject_id: int, actor: Actor, reason: str, case_reference: str, minor: bool
) -> tuple[ErasureCertificate, bool]:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for the erasure; it is printed on the certificate.")
    subject = DataSubject.objects.select_for_update().filter(pk=subject_id).first()
    if subject is None:
        raise ValidationError("No such data subject.")
    now = timezone.now()
    holds = list(holds_for_subject(subject_id=subject_id, at=now))

    kept: list[dict[str, Any]] = []
    todo: list[tuple[Any, Plan, models.QuerySet]] = []
    ledgers = []
    pending = 0
    for entry in erasure_order():
        records = entry.for_subject(subject_id)
        hold = hold_covering(holds, subject_id=subject_id, category=entry.category)
        if hold is not None:
            kept.extend(
                _kept_row(entry.label, pk, hold) for pk in records.order_by("pk").values_list("pk", flat=True)
            )
            continue
        if entry.append_only:
            ledgers.append(entry)
            continue
        plan = plan_for(entry)
        pending += records.filter(pending_q(entry.model, plan)).count()
        todo.append((entry, plan, records))
    key_live = DataKey.objects.filter(subject_id=subject_id, destroyed_at__isnull=True).exists()
    nothing_to_do = pending == 0 and (bool(kept) or not key_live) and subject.erased_at is not None
    if nothing_to_do:
        previous = (
            ErasureCertificate.objects.filter(subject_id=subject_id, case_reference=case_reference)
            .order_by("-issued_at", "-id")
            .first()
        )
        if previous is not None:
            return previous, False

    certificate_ref = uuid.uuid4()
    journal = JournalContext(at=now, certificate_ref=certificate_ref, subject_id=subject_id)
    run_before_subject_erasure(subject_id=subject_id)
    erased: list[dict[str, Any]] = []
    for entry, plan, records in todo:
        result = erase_rows(entry=entry, queryset=records, plan=plan, journal=journal, want_ids=True)
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
    ledger_rows = []
    key_destroyed = False
    if kept:
        first_hold = next(h for h in holds if str(h.public_id) == kept[0]["hold"])
        for entry in ledgers:
            kept.extend(
                _kept_row(entry.label, pk, first_hold, note="data key kept while other records are held")
                for pk in entry.for_subject(subject_id).order_by("pk").values_list("pk", flat=True)
            )
    else:
        key_destroyed = subject_destroy_data_key(
            subject_id=subject_id, actor=actor, reason=f"erasure certificate {certificate_ref}"
        )
        if key_destroyed:
            write_journal("inventory.DataKey", ErasureJournal.Method.KEY_DESTROYED, [subject_id], journal)
        for entry in ledgers:
            count = entry.for_subject(subject_id).count()
            if count:
                ledger_rows.append({"model": entry.label, "category": entry.category, "count": count})
    if subject.erased_at is None:
        DataSubject.objects.filter(pk=subject_id).update(erased_at=now)
        write_journal("inventory.DataSubject", ErasureJournal.Method.SUBJECT_ERASED, [subject_id], journal)

    erased_count = sum(e["count"] for e in erased)
    certificate = ErasureCertificate.objects.create(
        public_id=certificate_ref,
        kind=ErasureCertificate.Kind.SUBJECT,
        issued_at=now,
        subject_id=subject_id,
        reason=reason,
        case_reference=case_reference,
        minor=minor,
        actor_label=actor_label(actor),
        erased_count=erased_count,
        kept_count=len(kept),
        key_destroyed=key_destroyed,
        summary={
            "erased": erased,
            "kept": kept,
            "ledgers_erased_by_key_destruction": ledger_rows,
            "key_destruction": {
                "subject_id": subject_id,
                "destroyed_now": key_destroyed,
                "already_destroyed": not key_live,
                "retained_because_of_holds": bool(kept),
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
    audit_record(
        action="retention.subject.erased",
        actor=actor,
        target=certificate,
        subject_id=subject_id,
        details={
            "certificate": str(certificate.public_id),
            "case_reference": case_reference,
            "erased": {e["model"]: e["count"] for e in erased},
            "kept": len(kept),
            "key_destroyed": key_destroyed,
            "minor": minor,
        },
    )
    return certificate, True


# === Sweeps =========================================================================================


def sweep_request(
    *,
    actor: Actor = None,
    trigger: str = SweepRun.Trigger.SCHEDULE,
    schedule_ids: list[int] | None = None,
    include_minors: bool = True,
    dispatch: bool = True,
) -> SweepRun:
    """Start a sweep, or resume the unfinished one (a killed worker's run is finished by the next).

    With `dispatch`, the fan-out task is enqueued when the transaction commits.
    """
    try:
        with transaction.atomic():
            run = _sweep_open(
                actor=actor, trigger=trigger, schedule_ids=schedule_ids, include_minors=include_minors
            )
    except IntegrityError:  # another process opened a run at the same instant: resume that one
        run = unfinished_run()
        if run is None:
            raise
        run.resumed = True
    if dispatch:
        from .tasks import sweep_dispatch

        transaction.on_commit(lambda: sweep_dispatch.delay(run.pk))
    return run


def _sweep_open(
    *, actor: Actor, trigger: str, schedule_ids: list[int] | None, include_minors: bool
) -> SweepRun:
    run = unfinished_run()
    if run is not None:
        audit_record(
            action="retention.sweep.resumed",
            actor=actor,
            target=run,
            details={"run": str(run.public_id), "trigger": trigger},
        )
        run.resumed = True  # callers tell the user a running sweep was resumed, not a new one started
        return run
    if schedule_ids is not None:
        schedule_ids = sorted({int(i) for i in schedule_ids})
        if not RetentionSchedule.objects.filter(pk__in=schedule_ids, active=True).exists():
            raise ValidationError("None of the chosen schedules is active.")
    now = timezone.now()
    run = SweepRun.objects.create(
        trigger=trigger,
        actor_label=actor_label(actor),
        as_of=now,
        started_at=now,
        schedule_ids=schedule_ids,
        include_minors=include_minors,
    )
    audit_record(
        action="retention.sweep.started",
        actor=actor,
        target=run,
        details={"run": str(run.public_id), "trigger": trigger, "schedules": schedule_ids or "all"},
    )
    run.resumed = False
    return run


# Below this many rows an exact count is as cheap as the estimate and never stale.
ESTIMATE_ABOVE = 100_000


def _estimated_rows(model: type[models.Model]) -> int:
    """Row count from the planner's statistics (no scan) for big PostgreSQL tables; else an exact count."""
    connection = connections[model._default_manager.db]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
            )
            row = cursor.fetchone()
        if row and row[0] and row[0] >= ESTIMATE_ABOVE:
            return int(row[0])
    return model._default_manager.count()


def _ranges(model: type[models.Model], batch_rows: int, window_rows: int) -> list[tuple[int, int, int]]:
    """(lo, hi, window) primary-key ranges of about `batch_rows` rows each, windows of about `window_rows`.

    Spans come from the table's id density (estimated rows / id range): two cheap queries instead of a
    scan, and balanced batches whatever gaps the ids have on average.
    """
    bounds = model._default_manager.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return []
    lo, end = bounds["lo"], bounds["hi"] + 1
    density = min(1.0, max(_estimated_rows(model), 1) / (end - lo))
    span = max(1, math.ceil(batch_rows / density))
    window = max(1, math.ceil(window_rows / density))
    return [(start, min(start + span, end), min(window, span)) for start in range(lo, end, span)]


def sweep_plan(*, run_id: int) -> list[int]:
    """Split the run into batches (once), and return the ids of the batches still pending."""
    with transaction.atomic():
        run = SweepRun.objects.select_for_update().get(pk=run_id)
        if run.status != SweepRun.Status.RUNNING:
            return []
        if run.planned_at is None:
            schedules = RetentionSchedule.objects.filter(active=True).select_related(
                "category", "system", "source"
            )
            if run.schedule_ids is not None:
                schedules = schedules.filter(pk__in=run.schedule_ids)
            batches = []
            for target in schedule_targets(list(schedules.order_by("pk"))):
                for lo, hi, window in _ranges(target.entry.model, _batch_rows(), _window_rows()):
                    batches.append(
                        SweepBatch(
                            run=run,
                            key=f"{target.schedule.pk}:{target.entry.label}:{lo}",
                            kind=SweepBatch.Kind.RECORDS,
                            schedule=target.schedule,
                            model_label=target.entry.label,
                            category=target.schedule.category.code,
                            lo=lo,
                            hi=hi,
                            cursor=lo,
                            window=window,
                        )
                    )
            if run.include_minors:
                for subject_id in minors_to_erase().values_list("pk", flat=True):
                    batches.append(
                        SweepBatch(
                            run=run,
                            key=f"minor:{subject_id}",
                            kind=SweepBatch.Kind.MINOR,
                            category="minors",
                            subject_id=subject_id,
                        )
                    )
            SweepBatch.objects.bulk_create(batches, batch_size=1000, ignore_conflicts=True)
            run.planned_at = timezone.now()
            run.save(update_fields=["planned_at"])
        pending = list(
            run.batches.filter(status=SweepBatch.Status.PENDING).order_by("pk").values_list("pk", flat=True)
        )
    if not pending:
        sweep_finish(run_id=run_id)
    return pending


def _target_for(batch: SweepBatch) -> Target | None:
    schedule = batch.schedule
    if schedule is None or not schedule.active:
        return None
    for target in schedule_targets([schedule]):
        if target.entry.label == batch.model_label:
            return target
    return None


def _sweep_window(target: Target, run: SweepRun, *, lo: int, hi: int) -> tuple[int, int, list[dict]]:
    """Erase one id window of one target, inside the caller's transaction. Returns erased, kept, kept ids."""
    entry = target.entry
    schedule = target.schedule
    plan = plan_for(entry, schedule.action)
    # Holds are read afresh for every window: a hold placed mid-sweep protects from the next window on.
    holds = holds_for_category(category=schedule.category.code, at=run.as_of)
    queryset = (
        entry.all()
        .filter(pk__gte=lo, pk__lt=hi)
        .filter(target.scope_q())
        .filter(expired_q(target.anchor_field, schedule.period, run.as_of))
    )
    kept_count = 0
    kept: list[dict] = []
    if holds.category_wide is not None:
        held = queryset.filter(pending_q(entry.model, plan))
        kept = [
            _kept_row(entry.label, pk, holds.category_wide)
            for pk in held.values_list("pk", flat=True)[:KEPT_LIST_LIMIT]
        ]
        kept_count = len(kept) if len(kept) < KEPT_LIST_LIMIT else held.count()
        return 0, kept_count, kept
    if holds.by_subject:
        lookup = f"{entry.subject_lookup}__in"
        held = queryset.filter(**{lookup: list(holds.by_subject)}).filter(pending_q(entry.model, plan))
        rows = list(held.values_list("pk", entry.subject_lookup)[:KEPT_LIST_LIMIT])
        kept = [_kept_row(entry.label, pk, holds.by_subject[sid]) for pk, sid in rows]
        kept_count = len(kept) if len(kept) < KEPT_LIST_LIMIT else held.count()
        queryset = queryset.exclude(**{lookup: list(holds.by_subject)})
    result = erase_rows(
        entry=entry,
        queryset=queryset,
        plan=plan,
        journal=JournalContext(at=timezone.now(), sweep_run_id=run.pk),
    )
    return result.count, kept_count, kept


class _Overtaken(Exception):
    """Another worker advanced this batch's cursor first: roll back this window and re-read."""


def sweep_batch_process(*, batch_id: int) -> SweepBatch:
    """Work through one batch window by window, each in its own short transaction. Idempotent, resumable.

    Each window's erasure, journal and cursor advance commit together; the cursor only moves from the
    value this worker read (a guarded UPDATE), so two workers on one batch never erase a window twice.
    """
    batch = SweepBatch.objects.select_related("run", "schedule__category").get(pk=batch_id)
    if batch.status != SweepBatch.Status.PENDING or batch.run.status != SweepRun.Status.RUNNING:
        return batch
    SweepBatch.objects.filter(pk=batch_id).update(attempts=models.F("attempts") + 1)
    if batch.kind == SweepBatch.Kind.MINOR:
        _sweep_minor(batch_id)
    else:
        _sweep_records(batch)
    _finish_if_complete(batch.run_id)
    return SweepBatch.objects.get(pk=batch_id)


def _sweep_records(batch: SweepBatch) -> None:
    target = _target_for(batch)
    if target is None:  # the schedule was switched off after planning: erase nothing more
        SweepBatch.objects.filter(pk=batch.pk, status=SweepBatch.Status.PENDING).update(
            status=SweepBatch.Status.DONE, error_code="schedule_inactive", finished_at=timezone.now()
        )
        return
    cursor = batch.cursor
    while cursor < batch.hi:
        started = time.monotonic()
        hi = min(cursor + batch.window, batch.hi)
        done = hi >= batch.hi
        try:
            with transaction.atomic():
                erased, kept_count, kept = _sweep_window(target, batch.run, lo=cursor, hi=hi)
                moved = SweepBatch.objects.filter(
                    pk=batch.pk, status=SweepBatch.Status.PENDING, cursor=cursor
                ).update(
                    cursor=hi,
                    erased=models.F("erased") + erased,
                    kept=models.F("kept") + kept_count,
                    duration_ms=models.F("duration_ms") + int((time.monotonic() - started) * 1000),
                    status=SweepBatch.Status.DONE if done else SweepBatch.Status.PENDING,
                    finished_at=timezone.now() if done else None,
                )
                if not moved:
                    raise _Overtaken()
                if kept:
                    _append_kept(batch.pk, kept)
        except _Overtaken:
            fresh = SweepBatch.objects.get(pk=batch.pk)
            if fresh.status != SweepBatch.Status.PENDING:
                return
            cursor = fresh.cursor
            continue
        cursor = hi


def _append_kept(batch_id: int, kept: list[dict]) -> None:
    locked = SweepBatch.objects.select_for_update().only("kept_detail").get(pk=batch_id)
    room = KEPT_LIST_LIMIT - len(locked.kept_detail)
    if room > 0:
        locked.kept_detail = [*locked.kept_detail, *kept[:room]]
        locked.save(update_fields=["kept_detail"])


def _sweep_minor(batch_id: int) -> None:
    started = time.monotonic()
    with transaction.atomic():
        locked = SweepBatch.objects.select_for_update().get(pk=batch_id)
        if locked.status != SweepBatch.Status.PENDING:
            return
        certificate, issued = _erase_subject(
            subject_id=locked.subject_id,
            actor=SWEEP_ACTOR,
            reason="The subject is a minor: their data is deleted immediately (policy §9).",
            case_reference="",
            minor=True,
        )
        # A certificate returned from an earlier erasure (nothing new to erase) adds nothing to the run.
        locked.erased = certificate.erased_count if issued else 0
        locked.kept = certificate.kept_count
        locked.kept_detail = certificate.summary.get("kept", [])[:KEPT_LIST_LIMIT]
        locked.error_code = ""
        locked.status = SweepBatch.Status.DONE
        locked.finished_at = timezone.now()
        locked.duration_ms = int((time.monotonic() - started) * 1000)
        locked.certificate = certificate
        locked.save()


def sweep_batch_fail(*, batch_id: int, error_code: str) -> bool:
    """Record that a batch gave up after its retries (ids and error class only); the run still finishes."""
    failed = SweepBatch.objects.filter(pk=batch_id, status=SweepBatch.Status.PENDING).update(
        status=SweepBatch.Status.FAILED, error_code=error_code[:100], finished_at=timezone.now()
    )
    if failed:
        batch = SweepBatch.objects.get(pk=batch_id)
        logger.warning("retention sweep batch %s failed: %s", batch_id, error_code)
        _finish_if_complete(batch.run_id)
    return bool(failed)


def _finish_if_complete(run_id: int) -> None:
    # Every batch checks after its own commit, so the last one to commit always sees none pending.
    if not SweepBatch.objects.filter(run_id=run_id, status=SweepBatch.Status.PENDING).exists():
        sweep_finish(run_id=run_id)


@transaction.atomic
def sweep_finish(*, run_id: int) -> SweepRun:
    """Close a run whose batches are all done: totals per category, the certificate, audit, the report."""
    run = SweepRun.objects.select_for_update().get(pk=run_id)
    if run.status != SweepRun.Status.RUNNING or run.planned_at is None:
        return run
    if run.batches.filter(status=SweepBatch.Status.PENDING).exists():
        return run
    now = timezone.now()
    per_category: dict[str, dict[str, int]] = {}
    per_model: dict[str, dict[str, Any]] = {}
    kept: list[dict] = []
    minors: list[int] = []
    failed: list[dict] = []
    for batch in run.batches.select_related("schedule").order_by("pk"):
        totals = per_category.setdefault(batch.category, {"erased": 0, "kept": 0, "errors": 0})
        totals["erased"] += batch.erased
        totals["kept"] += batch.kept
        if batch.status == SweepBatch.Status.FAILED:
            totals["errors"] += 1
            failed.append({"batch": batch.pk, "model": batch.model_label, "lo": batch.lo, "hi": batch.hi,
                           "subject_id": batch.subject_id, "error": batch.error_code})  # fmt: skip
        if batch.kind == SweepBatch.Kind.MINOR:
            minors.append(batch.subject_id)
        else:
            key = f"{batch.model_label}#{batch.schedule_id}"
            row = per_model.setdefault(
                key,
                {"model": batch.model_label, "schedule": batch.schedule_id, "category": batch.category,
                 "method": plan_for(registry.by_label(batch.model_label), batch.schedule.action).method,
                 "erased": 0, "kept": 0},
            )  # fmt: skip
            row["erased"] += batch.erased
            row["kept"] += batch.kept
        room = KEPT_LIST_LIMIT - len(kept)
        if room > 0 and batch.kept_detail:
            kept.extend(batch.kept_detail[:room])
    erased_count = sum(t["erased"] for t in per_category.values())
    kept_count = sum(t["kept"] for t in per_category.values())
    error_count = sum(t["errors"] for t in per_category.values())
    minor_certificates = list(
        run.batches.filter(kind=SweepBatch.Kind.MINOR, certificate__isnull=False)
        .order_by("pk")
        .values_list("certificate__public_id", flat=True)
    )
    certificate = ErasureCertificate.objects.create(
        kind=ErasureCertificate.Kind.SWEEP,
        issued_at=now,
        sweep_run_id_ref=run.pk,
        reason="Retention periods ended (policy §8); minors' data deleted (policy §9).",
        actor_label=run.actor_label,
        erased_count=erased_count,
        kept_count=kept_count,
        summary={
            "as_of": run.as_of.isoformat(),
            "run": str(run.public_id),
            "per_category": per_category,
            "per_model": list(per_model.values()),
            "kept": kept,
            "kept_listed": len(kept),
            "failed_batches": failed,
            "minor_subject_ids": minors,
            "minor_certificates": [str(c) for c in minor_certificates],
            "journal": {"sweep_run_id": run.pk, "note": "Erased record ids are in the erasure journal."},
            "standard": NIST_CLEAR,
            "disposal": DISPOSAL,
        },
    )
    run.status = SweepRun.Status.DONE_WITH_ERRORS if error_count else SweepRun.Status.DONE
    run.finished_at = now
    run.erased_count = erased_count
    run.kept_count = kept_count
    run.error_count = error_count
    run.summary = per_category
    run.certificate = certificate
    run.save()
    audit_record(
        action="retention.sweep.finished",
        actor=SWEEP_ACTOR,
        target=run,
        details={
            "run": str(run.public_id),
            "certificate": str(certificate.public_id),
            "erased": erased_count,
            "kept": kept_count,
            "errors": error_count,
            "per_category": per_category,
        },
    )
    from .reports import sweep_report_send

    sweep_report_send(run=run)
    return run


def sweep_execute(*, run_id: int, progress: Callable[[SweepBatch, int, int], None] | None = None) -> SweepRun:
    """Run a sweep in this process, batch after batch (the `sweep --now` command and tests)."""
    pending = sweep_plan(run_id=run_id)
    for done, batch_id in enumerate(pending, start=1):
        batch = sweep_batch_process(batch_id=batch_id)
        if progress is not None:
            progress(batch, done, len(pending))
    _finish_if_complete(run_id)
    return SweepRun.objects.get(pk=run_id)


# === Replay after a restore =========================================================================


def _replay_plan(entry, method: str) -> Plan | None:
    if method == ErasureJournal.Method.DELETE:
        return Plan(method, {})
    if method == ErasureJournal.Method.ANONYMISE:
        return Plan(method, dict(entry.field_strategies))
    if method == ErasureJournal.Method.CRYPTO_SHRED:
        return Plan(method, dict.fromkeys(entry.encrypted_fields, Erase.SHRED))
    return None


def _journal_lines(since: datetime) -> Iterator[dict[str, Any]]:
    """The journal table's entries since `since`, oldest first, read in chunks."""
    last_id = 0
    fields = (
        "pk",
        "at",
        "model_label",
        "method",
        "record_pks",
        "subject_id",
        "certificate_ref",
        "sweep_run_id",
    )
    while True:
        rows = list(
            ErasureJournal.objects.filter(at__gte=since, pk__gt=last_id).order_by("pk").values(*fields)[:500]
        )
        if not rows:
            return
        for row in rows:
            last_id = row.pop("pk")
            yield row


def erasures_replay(
    *,
    since: datetime,
    actor: Actor = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Re-apply every erasure journaled since `since` (after a database restore): rows that came back are
    deleted or anonymised again, restored data keys destroyed again. Reads the journal table and, when
    configured, its mirror outside the database (which a restore does not roll back). One short
    transaction per entry. Returns counts per method of what was (with `dry_run`: would be) erased again.
    """
    counts = {m: 0 for m in ErasureJournal.Method.values} | {
        "unknown_model": 0,
        "journal_rows": 0,
        "mirrored": 0,
    }
    seen: set[tuple] = set()
    sources = ((False, _journal_lines(since)), (True, mirror.read(since=since)))
    for from_mirror, lines in sources:
        for line in lines:
            line_key = mirror.key(line)
            if line_key in seen:
                continue
            seen.add(line_key)
            counts["journal_rows"] += 1
            counts["mirrored"] += from_mirror
            with transaction.atomic():
                counts[line["method"]] += _replay_line(line, actor=actor, dry_run=dry_run, counts=counts)
            if progress is not None:
                progress(1)
    if not dry_run:
        audit_record(
            action="retention.erasures.replayed",
            actor=actor,
            details={"since": since, **{k: v for k, v in counts.items() if v}},
        )
    return counts


def erasure_mirror_sync(*, since: datetime) -> int:
    """Append to the journal's mirror the entries it lacks (run before taking a backup, or daily)."""
    return mirror.sync(since=since, rows=_journal_lines(since))


def _replay_line(line: dict[str, Any], *, actor: Actor, dry_run: bool, counts: dict[str, int]) -> int:
    pks = list(line["record_pks"])
    method = line["method"]
    if method == ErasureJournal.Method.KEY_DESTROYED:
        restored = list(
            DataKey.objects.filter(subject_id__in=pks)
            .filter(Q(destroyed_at__isnull=True) | ~Q(wrapped=""))
            .values_list("subject_id", flat=True)
        )
        if not dry_run:
            for subject_id in restored:
                subject_destroy_data_key(subject_id=subject_id, actor=actor, reason="replay after restore")
                DataKey.objects.filter(subject_id=subject_id).exclude(wrapped="").update(wrapped="")
        return len(restored)
    if method == ErasureJournal.Method.SUBJECT_ERASED:
        back = DataSubject.objects.filter(pk__in=pks, erased_at__isnull=True)
        return back.count() if dry_run else back.update(erased_at=line["at"])
    try:
        entry = registry.by_label(line["model_label"])
    except KeyError:
        counts["unknown_model"] += 1
        return 0
    plan = _replay_plan(entry, method)
    if plan is None or entry.append_only:
        return 0
    total = 0
    for start in range(0, len(pks), 5000):
        queryset = entry.all().filter(pk__in=pks[start : start + 5000])
        if dry_run:
            total += queryset.filter(pending_q(entry.model, plan)).count()
        else:
            total += erase_rows(entry=entry, queryset=queryset, plan=plan, journal=None).count
    return total


__all__ = [
    "erase_subject",
    "erasure_mirror_sync",
    "erasures_replay",
    "legal_hold_place",
    "legal_hold_release",
    "legal_hold_update",
    "legal_holds_release_for_case",
    "retention_schedule_check",
    "retention_schedule_create",
    "retention_schedule_update",
    "sweep_batch_fail",
    "sweep_batch_process",
    "sweep_execute",
    "sweep_finish",
    "sweep_plan",
    "sweep_request",
]
