"""Retention across systems: a schedule that targets another system's collection is one sweep batch,
erased by the connectors engine (key windows, journaled per system) with the sweep's holds."""

import time

from django.db import transaction
from django.utils import timezone

from ..models import RetentionSchedule, SweepBatch, SweepRun
from ..selectors import external_cutoff, external_held
from .common import SWEEP_ACTOR


def external_batches(run: SweepRun, schedules: list[RetentionSchedule]) -> list[SweepBatch]:
    """One batch per external schedule (the connectors engine windows it by primary key itself)."""
    return [
        SweepBatch(
            run=run,
            key=f"{s.pk}:external",
            kind=SweepBatch.Kind.EXTERNAL,
            schedule=s,
            model_label=f"{s.system.code}:{s.external_collection}",
            category=s.category.code,
        )
        for s in schedules
        if s.external_collection
    ]


def sweep_external(batch: SweepBatch) -> None:
    """Erase the expired rows of the batch's external collection; holds keep their subjects' rows.

    Idempotent: a rerun finds only what is still expired and not yet erased (deleted rows are gone;
    null/hash strategies are idempotent). The journal reference names the schedule and the run.
    """
    from connectors.services import external_retention_erase

    schedule = batch.schedule
    started = time.monotonic()
    fields: dict = {"status": SweepBatch.Status.DONE, "finished_at": None}
    if schedule is None or not schedule.active:
        fields["error_code"] = "schedule_inactive"
    else:
        wide, held = external_held(category=schedule.category.code, at=batch.run.as_of)
        if wide is not None:  # a category-wide hold: nothing of the category is erased anywhere
            from connectors.selectors import external_retention_forecast

            counts, kept = external_retention_forecast(
                system=schedule.system, collection=schedule.external_collection,
                timestamp_field=schedule.external_timestamp_field,
                before=external_cutoff(schedule, batch.run.as_of),
            )  # fmt: skip
            fields["kept"] = sum(counts.values()) + kept
            fields["kept_detail"] = [{"model": batch.model_label, "hold": str(wide.public_id),
                                      "code": wide.exception_code}]  # fmt: skip
            fields["error_code"] = "held_category"
        else:
            result = external_retention_erase(
                system=schedule.system, collection=schedule.external_collection,
                timestamp_field=schedule.external_timestamp_field,
                before=external_cutoff(schedule, batch.run.as_of),
                sweep_reference=f"retention:{schedule.pk}:sweep:{batch.run_id}", actor=SWEEP_ACTOR,
                held_identities=held,
            )  # fmt: skip
            fields.update(erased=result.erased, kept=result.kept, counts=result.counts)
    fields["finished_at"] = timezone.now()
    fields["duration_ms"] = int((time.monotonic() - started) * 1000)
    with transaction.atomic():
        SweepBatch.objects.filter(pk=batch.pk, status=SweepBatch.Status.PENDING).update(**fields)
