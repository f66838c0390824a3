"""Retention sweeps: erase every record whose retention period ended, in resumable batches.

A run is opened (or the unfinished one resumed), planned into batches of primary-key ranges per
(schedule, model) plus one batch per minor to erase, worked through window by window in short
transactions (each window's erasure, journal and cursor advance commit together), and closed by the
last batch with a certificate, an audit event and the report. See docs/design.md (performance) for
why id windows and raw deletes.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, models, transaction
from django.db.models import Max, Min
from django.utils import timezone

from audit.services import audit_record_many
from core.actors import Actor, actor_label
from inventory.registry import registry

from .. import conf
from ..dry_run import subject_pending_count
from ..erasure import JournalContext, erase_rows, pending_q, plan_for
from ..expiry import expired_q
from ..hooks import sweep_protected_subject_ids
from ..models import ErasureCertificate, RetentionSchedule, SweepBatch, SweepRun
from ..reports import sweep_report_send
from ..selectors import Target, holds_for_category, minors_to_erase, schedule_targets, unfinished_run
from .common import DISPOSAL, KEPT_LIST_LIMIT, NIST_CLEAR, SWEEP_ACTOR, kept_row
from .erasure import erase_subject_outcome
from .external import external_batches, sweep_external
from .sweep_window import sweep_window_folded, window_folds

logger = logging.getLogger(__name__)

MINOR_REASON = "The subject is a minor: their data is deleted immediately (policy §9)."


def sweep_request(
    *,
    actor: Actor = None,
    trigger: str = SweepRun.Trigger.SCHEDULE,
    schedule_ids: list[int] | None = None,
    include_minors: bool = True,
    dispatch: bool = True,
    plan: bool = False,
) -> SweepRun:
    """Start a sweep, or resume the unfinished one (a killed worker's run is finished by the next).

    With `dispatch`, the fan-out task is enqueued when the transaction commits. With `plan` (the daily
    task, which enqueues the batches itself), the run is planned in the transaction that opens it, one
    commit instead of two, and `run.pending` lists the batches to enqueue once this returns.
    """
    try:
        with transaction.atomic():
            run = _sweep_open(
                actor=actor, trigger=trigger, schedule_ids=schedule_ids, include_minors=include_minors
            )
            if plan:
                run.pending = sweep_plan(run_id=run.pk)
    except IntegrityError:  # another process opened a run at the same instant: resume that one
        run = unfinished_run()
        if run is None:
            raise
        run.resumed = True
        if plan:
            run.pending = sweep_plan(run_id=run.pk)
    if dispatch:
        from ..tasks import sweep_dispatch  # tasks import services: resolved at call time

        transaction.on_commit(lambda: sweep_dispatch.delay(run.pk))
    return run


def _sweep_open(
    *, actor: Actor, trigger: str, schedule_ids: list[int] | None, include_minors: bool
) -> SweepRun:
    run = unfinished_run()
    if run is not None:
        _audit_run(run, "retention.sweep.resumed", actor, {"run": str(run.public_id), "trigger": trigger})
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
    _audit_run(
        run,
        "retention.sweep.started",
        actor,
        {"run": str(run.public_id), "trigger": trigger, "schedules": schedule_ids or "all"},
    )
    run.resumed = False
    return run


def _audit_run(run: SweepRun, action: str, actor: Actor, details: dict) -> None:
    """One audit event about a run, appended in one statement on PostgreSQL (the chain's lock, head and
    insert: audit_record_many) instead of three round trips, in the run's transaction as before."""
    audit_record_many(
        [{"action": action, "actor": actor, "target_type": run._meta.label_lower, "target_id": run.pk,
          "details": details}]
    )  # fmt: skip


# Below this many rows an exact count is as cheap as the estimate and never stale.
ESTIMATE_ABOVE = 100_000


def _id_bounds(model: type[models.Model]) -> tuple[int, int, int] | None:
    """(lowest id, highest id, rows) of a table, or None when it is empty. Rows come from the planner's
    statistics (no scan) for big tables, else an exact count. On PostgreSQL one round trip: the count is
    a subquery only evaluated when the estimate is small (planning reads every registered table).
    Project models keep Django's plain default manager, so the table is what the manager sees."""
    connection = connections[model._default_manager.db]
    if connection.vendor != "postgresql":
        bounds = model._default_manager.aggregate(lo=Min("pk"), hi=Max("pk"))
        if bounds["lo"] is None:
            return None
        return bounds["lo"], bounds["hi"], model._default_manager.count()
    table, pk = (
        connection.ops.quote_name(model._meta.db_table),
        connection.ops.quote_name(model._meta.pk.column),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT b.lo, b.hi, CASE WHEN b.lo IS NULL THEN 0 WHEN e.n >= %s THEN e.n"
            f" ELSE (SELECT count(*) FROM {table}) END"
            f" FROM (SELECT min({pk}) AS lo, max({pk}) AS hi FROM {table}) b,"
            " (SELECT coalesce((SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass), -1) AS n) e",
            [ESTIMATE_ABOVE, model._meta.db_table],
        )
        lo, hi, rows = cursor.fetchone()
    return None if lo is None else (lo, hi, int(rows))


def id_ranges(model: type[models.Model], batch_rows: int, window_rows: int) -> list[tuple[int, int, int]]:
    """(lo, hi, window) primary-key ranges of about `batch_rows` rows each, windows of about `window_rows`.

    Spans come from the table's id density (estimated rows / id range): one cheap query instead of a
    scan, and balanced batches whatever gaps the ids have on average.
    """
    bounds = _id_bounds(model)
    if bounds is None:
        return []
    lo, end = bounds[0], bounds[1] + 1
    density = min(1.0, max(bounds[2], 1) / (end - lo))
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
            batches = _record_batches(run)
            if run.include_minors:
                batches.extend(_minor_batches(run))
            SweepBatch.objects.bulk_create(batches, batch_size=1000, ignore_conflicts=True)
            run.planned_at = timezone.now()
            run.save(update_fields=["planned_at"])
        pending = list(
            run.batches.filter(status=SweepBatch.Status.PENDING).order_by("pk").values_list("pk", flat=True)
        )
    if not pending:
        sweep_finish(run_id=run_id)
    return pending


def _record_batches(run: SweepRun) -> list[SweepBatch]:
    """One batch per (schedule, model, primary-key range) of the run's schedules."""
    schedules = RetentionSchedule.objects.filter(active=True).select_related("category", "system", "source")
    if run.schedule_ids is not None:
        schedules = schedules.filter(pk__in=run.schedule_ids)
    batch_rows, window_rows = conf.sweep_batch_rows(), conf.sweep_window_rows()
    batches = []
    chosen = list(schedules.order_by("pk"))  # read once for the run's targets and its external batches
    # Every active schedule bears on the targets (the most specific wins): without a choice, that is `chosen`.
    for target in schedule_targets(chosen, active=chosen if run.schedule_ids is None else None):
        for lo, hi, window in id_ranges(target.entry.model, batch_rows, window_rows):
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
    batches.extend(external_batches(run, chosen))
    return batches


def _minor_batches(run: SweepRun) -> list[SweepBatch]:
    """One batch per minor to erase (each erased like a DSAR erasure, with its own certificate)."""
    return [
        SweepBatch(
            run=run,
            key=f"minor:{subject_id}",
            kind=SweepBatch.Kind.MINOR,
            category="minors",
            subject_id=subject_id,
        )  # fmt: skip
        for subject_id in minors_to_erase().values_list("pk", flat=True)
    ]


def batch_target(batch: SweepBatch) -> Target | None:
    """The (schedule, model) a records batch works on, or None once its schedule is switched off."""
    schedule = batch.schedule
    if schedule is None or not schedule.active:
        return None
    for target in schedule_targets([schedule]):
        if target.entry.label == batch.model_label:
            return target
    return None


class WindowResult(NamedTuple):
    """What one window did: erased, kept under hold (count and listed rows), kept for an open request;
    for a folded window (one statement, bookkeeping included) also where the batch stands after it."""

    erased: int
    kept: int
    kept_rows: list[dict]
    open_request: int = 0
    cursor: int | None = None
    status: str = ""


def sweep_window(
    target: Target, run: SweepRun, *, lo: int, hi: int, batch: SweepBatch | None = None
) -> WindowResult:
    """Erase one id window of one target.

    Held records are kept (and listed); records of a subject with an open access/portability case are
    kept and counted as "kept: open request" (retention.hooks); the rest is erased and journaled.
    With `batch` (and a target whose windows fold, see sweep_window.py) the window is one statement that
    also advances the batch's cursor and counters; otherwise it runs inside the caller's transaction.
    """
    if batch is not None:
        done = sweep_window_folded(target, run, batch, lo=lo, hi=hi, now=timezone.now())
        return WindowResult(done.erased, done.kept, [], done.open_request, done.cursor, done.status)
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
            kept_row(entry.label, pk, holds.category_wide)
            for pk in held.values_list("pk", flat=True)[:KEPT_LIST_LIMIT]
        ]
        kept_count = len(kept) if len(kept) < KEPT_LIST_LIMIT else held.count()
        return WindowResult(0, kept_count, kept)
    lookup = f"{entry.subject_lookup}__in"
    if holds.by_subject:
        held = queryset.filter(**{lookup: list(holds.by_subject)}).filter(pending_q(entry.model, plan))
        rows = list(held.values_list("pk", entry.subject_lookup)[:KEPT_LIST_LIMIT])
        kept = [kept_row(entry.label, pk, holds.by_subject[sid]) for pk, sid in rows]
        kept_count = len(kept) if len(kept) < KEPT_LIST_LIMIT else held.count()
        queryset = queryset.exclude(**{lookup: list(holds.by_subject)})
    open_request = 0
    protected = sweep_protected_subject_ids()
    if protected:
        open_request = queryset.filter(**{lookup: protected}).filter(pending_q(entry.model, plan)).count()
        queryset = queryset.exclude(**{lookup: protected})
    result = erase_rows(
        entry=entry,
        queryset=queryset,
        plan=plan,
        journal=JournalContext(at=timezone.now(), sweep_run_id=run.pk),
    )
    return WindowResult(result.count, kept_count, kept, open_request)


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
    elif batch.kind == SweepBatch.Kind.EXTERNAL:
        sweep_external(batch)
    else:
        _sweep_records(batch)
    _finish_if_complete(batch.run_id)
    return SweepBatch.objects.get(pk=batch_id)


def _sweep_records(batch: SweepBatch) -> None:
    target = batch_target(batch)
    if target is None:  # the schedule was switched off after planning: erase nothing more
        SweepBatch.objects.filter(pk=batch.pk, status=SweepBatch.Status.PENDING).update(
            status=SweepBatch.Status.DONE, error_code="schedule_inactive", finished_at=timezone.now()
        )
        return
    if window_folds(target):
        _sweep_records_folded(batch, target)
        return
    cursor = batch.cursor
    while cursor < batch.hi:
        started = time.monotonic()
        hi = min(cursor + batch.window, batch.hi)
        done = hi >= batch.hi
        try:
            with transaction.atomic():
                erased, kept_count, kept, open_request, *_ = sweep_window(target, batch.run, lo=cursor, hi=hi)
                moved = SweepBatch.objects.filter(
                    pk=batch.pk, status=SweepBatch.Status.PENDING, cursor=cursor
                ).update(
                    cursor=hi,
                    erased=models.F("erased") + erased,
                    kept=models.F("kept") + kept_count,
                    kept_open_request=models.F("kept_open_request") + open_request,
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


def _sweep_records_folded(batch: SweepBatch, target: Target) -> None:
    """Window after window, one statement each (autocommit): a crash loses at most the window in flight,
    which the statement's atomicity rolls back whole."""
    cursor = batch.cursor
    while cursor < batch.hi:
        hi = min(cursor + batch.window, batch.hi)
        result = sweep_window(target, batch.run, lo=cursor, hi=hi, batch=batch)
        if result.status != SweepBatch.Status.PENDING or result.cursor is None:
            break
        cursor = result.cursor


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
        if locked.subject_id in sweep_protected_subject_ids():
            # An open access/portability case must get the data it returns: erased once it closes.
            locked.kept_open_request = subject_pending_count(subject_id=locked.subject_id)
            locked.error_code = "kept_open_request"
            locked.status = SweepBatch.Status.DONE
            locked.finished_at = timezone.now()
            locked.save()
            return
        certificate, issued = erase_subject_outcome(
            subject_id=locked.subject_id, actor=SWEEP_ACTOR, reason=MINOR_REASON, minor=True
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


@dataclass
class _RunTotals:
    """A run's batches added up: per category and per (model, schedule), kept records, minors, failures."""

    per_category: dict[str, dict[str, int]] = field(default_factory=dict)
    per_model: dict[str, dict[str, Any]] = field(default_factory=dict)
    kept: list[dict] = field(default_factory=list)
    minors: list[int] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    systems: list[dict] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(t[name] for t in self.per_category.values())

    def add(self, batch: SweepBatch) -> None:
        totals = self.per_category.setdefault(batch.category, {"erased": 0, "kept": 0, "errors": 0})
        totals["erased"] += batch.erased
        totals["kept"] += batch.kept
        if batch.kept_open_request:  # "kept: open request", listed only where it happened
            totals["kept_open_request"] = totals.get("kept_open_request", 0) + batch.kept_open_request
        if batch.status == SweepBatch.Status.FAILED:
            totals["errors"] += 1
            self.failed.append({"batch": batch.pk, "model": batch.model_label, "lo": batch.lo, "hi": batch.hi,
                                "subject_id": batch.subject_id, "error": batch.error_code})  # fmt: skip
        if batch.kind == SweepBatch.Kind.MINOR:
            self.minors.append(batch.subject_id)
        elif batch.kind == SweepBatch.Kind.EXTERNAL:  # another system: its collection's counts
            system, _, collection = batch.model_label.partition(":")
            self.systems.append({"system": system, "collection": collection, "schedule": batch.schedule_id,
                                 "counts": batch.counts, "erased": batch.erased, "kept": batch.kept,
                                 "status": batch.status, "note": batch.error_code})  # fmt: skip
        else:
            row = self.per_model.setdefault(
                f"{batch.model_label}#{batch.schedule_id}",
                {"model": batch.model_label, "schedule": batch.schedule_id, "category": batch.category,
                 "method": plan_for(registry.by_label(batch.model_label), batch.schedule.action).method,
                 "erased": 0, "kept": 0},
            )  # fmt: skip
            row["erased"] += batch.erased
            row["kept"] += batch.kept
        room = KEPT_LIST_LIMIT - len(self.kept)
        if room > 0 and batch.kept_detail:
            self.kept.extend(batch.kept_detail[:room])


@transaction.atomic
def sweep_finish(*, run_id: int) -> SweepRun:
    """Close a run whose batches are all done: totals per category, the certificate, audit, the report."""
    run = SweepRun.objects.select_for_update().get(pk=run_id)
    if run.status != SweepRun.Status.RUNNING or run.planned_at is None:
        return run
    if run.batches.filter(status=SweepBatch.Status.PENDING).exists():
        return run
    totals = _RunTotals()
    minor_certificates = []  # read with the batches, not by a query of their own
    for batch in run.batches.select_related("schedule", "certificate").order_by("pk"):
        totals.add(batch)
        if batch.kind == SweepBatch.Kind.MINOR and batch.certificate is not None:
            minor_certificates.append(batch.certificate.public_id)
    certificate = _sweep_certificate(run, totals, minor_certificates)
    error_count = totals.total("errors")
    run.status = SweepRun.Status.DONE_WITH_ERRORS if error_count else SweepRun.Status.DONE
    run.finished_at = certificate.issued_at
    run.erased_count = certificate.erased_count
    run.kept_count = certificate.kept_count
    run.error_count = error_count
    run.summary = totals.per_category
    run.certificate = certificate
    run.save(update_fields=["status", "finished_at", "erased_count", "kept_count", "error_count", "summary",
                            "certificate"])  # fmt: skip
    _audit_run(
        run,
        "retention.sweep.finished",
        SWEEP_ACTOR,
        {
            "run": str(run.public_id),
            "certificate": str(certificate.public_id),
            "erased": run.erased_count,
            "kept": run.kept_count,
            "errors": error_count,
            "per_category": totals.per_category,
        },
    )
    sweep_report_send(run=run)
    return run


def _sweep_certificate(run: SweepRun, totals: _RunTotals, minor_certificates: list) -> ErasureCertificate:
    """The run's certificate: counts per category and model, kept records, failures, minors' certificates."""
    return ErasureCertificate.objects.create(
        kind=ErasureCertificate.Kind.SWEEP,
        issued_at=timezone.now(),
        sweep_run_id_ref=run.pk,
        reason="Retention periods ended (policy §8); minors' data deleted (policy §9).",
        actor_label=run.actor_label,
        erased_count=totals.total("erased"),
        kept_count=totals.total("kept"),
        summary={
            "as_of": run.as_of.isoformat(),
            "run": str(run.public_id),
            "per_category": totals.per_category,
            "per_model": list(totals.per_model.values()),
            "kept": totals.kept,
            "kept_listed": len(totals.kept),
            "failed_batches": totals.failed,
            "systems": totals.systems,
            "minor_subject_ids": totals.minors,
            "minor_certificates": [str(c) for c in minor_certificates],
            "journal": {"sweep_run_id": run.pk, "note": "Erased record ids are in the erasure journal."},
            "standard": NIST_CLEAR,
            "disposal": DISPOSAL,
        },
    )


def sweep_execute(*, run_id: int, progress: Callable[[SweepBatch, int, int], None] | None = None) -> SweepRun:
    """Run a sweep in this process, batch after batch (the `sweep --now` command and tests)."""
    pending = sweep_plan(run_id=run_id)
    for done, batch_id in enumerate(pending, start=1):
        batch = sweep_batch_process(batch_id=batch_id)
        if progress is not None:
            progress(batch, done, len(pending))
    _finish_if_complete(run_id)
    return SweepRun.objects.get(pk=run_id)
