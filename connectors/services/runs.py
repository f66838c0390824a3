"""Runs per (case, system): planned, executed by one idempotent task, retried, waived, settled."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection as db
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record, audit_record_many
from core.actors import Actor, actor_fields
from inventory.models import System

from .. import fides, hooks, sql
from ..connector import NotConnected, for_system
from ..http import HttpConfigError, HttpError
from ..models import Connection, RunEvent, RunStatus, SystemRun
from ..secrets import open_json, seal_json
from .common import RUN_ERRORS
from .erasure import erase_passes, steps_from_journal


def connected_systems() -> list[System]:
    """Systems a case reaches: an enabled connection (SQL/HTTP with a dataset or config, or manual)."""
    return list(System.objects.filter(connection__enabled=True).select_related("connection").order_by("name"))


@transaction.atomic
def case_systems_plan(
    *,
    case_id: int,
    action: str,
    identities: dict[str, list[str]],
    subject_id: int | None = None,
    systems: list[System] | None = None,
    actor: Actor = None,
    case_due_on: date | None = None,
) -> list[SystemRun]:
    """One run per connected system for the case and action, each started by its own task on commit;
    manual systems get a task mailed to their owner, due ahead of the case.

    Idempotent: planning again returns the existing runs and starts only the unsettled ones.
    """
    from ..manual import manual_task_open
    from ..tasks import run_system

    runs = []
    sealed = seal_json({k: list(v) for k, v in identities.items() if v})
    for system in systems if systems is not None else connected_systems():
        run, created = SystemRun.objects.get_or_create(
            case_id=case_id,
            system=system,
            action=action,
            defaults={"identities": sealed, "subject_id": subject_id},
        )
        if created:
            RunEvent.objects.create(run=run, kind="planned", **actor_fields(actor))
            if system.connection.kind == Connection.Kind.MANUAL:
                manual_task_open(run=run, case_due_on=case_due_on)
        runs.append(run)
        if not run.settled and system.connection.kind != Connection.Kind.MANUAL:
            transaction.on_commit(lambda pk=run.pk: run_system.delay(pk))
    if not runs:
        return runs  # no connected system: nothing to record
    audit_record(
        action="connectors.case_planned",
        actor=actor,
        target_type="requests_app.privacyrequest",
        target_id=case_id,
        subject_id=subject_id,
        details={"action": action, "systems": [r.system_id for r in runs]},
    )
    return runs


@contextlib.contextmanager
def _run_lock(run_id: int) -> Iterator[bool]:
    """Only one worker executes a run at a time (a redelivered task finds it locked and leaves)."""
    if db.vendor != "postgresql":
        yield True
        return
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [0x434F4E4E, run_id % 2**31])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with db.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [0x434F4E4E, run_id % 2**31])


def system_run_execute(*, run_id: int) -> SystemRun | None:
    """Run one (case, system) piece of work; idempotent, resumable after a killed worker.

    A run already done or waived is left alone. An erasure that was interrupted re-applies its own
    journal first (every strategy is idempotent), then traverses again for anything left.
    """
    with _run_lock(run_id) as got:
        if not got:
            return None
        run, claimed = _claim(run_id)
        if not claimed:
            return run  # done or waived; or manual: a person answers (connectors.manual), not a worker
        identities = open_json(run.identities)
        try:
            connector = for_system(run.system, datasets_alongside=True)
            result_json: dict[str, Any] | None = None
            truncated: list[str] = []
            if run.action == SystemRun.Action.ACCESS:
                found = connector.access(identities)
                counts, truncated, result_json = found.counts(), found.truncated, found.as_json()
            elif run.action == SystemRun.Action.ERASURE:
                counts = _erase(run, connector, identities)
            else:
                counts = connector.unsubscribe(identities)
        except RUN_ERRORS as exc:
            message = _safe_error(exc)
            SystemRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                status=RunStatus.FAILED, error=message, finished_at=timezone.now()
            )
            RunEvent.objects.create(run=run, kind="failed", note=message, **actor_fields("connectors.worker"))
            audit_record(
                action="connectors.run_failed",
                actor="connectors.worker",
                target=run,
                subject_id=run.subject_id,
                details={"case_id": run.case_id, "system": run.system.code, "error": type(exc).__name__},
            )
            run.refresh_from_db()
            return run
        with transaction.atomic():
            fields: dict[str, Any] = {
                "status": RunStatus.DONE,
                "counts": counts,
                "truncated": truncated,
                "finished_at": timezone.now(),
            }
            if result_json is not None:
                fields["result"] = seal_json(result_json) if result_json else ""
            if run.action != SystemRun.Action.ACCESS:
                fields["identities"] = ""
            settled = SystemRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(**fields)
            RunEvent.objects.create(run=run, kind="done", **actor_fields("connectors.worker"))
            hooks.case_settled(run.case_id)
            audit_record_many([{
                "action": f"connectors.{run.action}_done",
                "actor": "connectors.worker",
                "target_type": run._meta.label_lower,
                "target_id": run.pk,
                "subject_id": run.subject_id,
                "details": {"case_id": run.case_id, "system": run.system.code, "counts": counts},
            }])  # fmt: skip
        if settled:  # the row now holds what was just written: no need to read it back
            for name, value in fields.items():
                setattr(run, name, value)
        else:  # waived meanwhile
            run.refresh_from_db()
        return run


def _claim(run_id: int) -> tuple[SystemRun, bool]:
    """Claim a run (running, one more attempt) and record "started" in one commit: (the run, claimed).

    Not claimed: done or waived (every other status is claimable), or a manual system's run.
    """
    with transaction.atomic():
        claimed = (
            SystemRun.objects.filter(
                pk=run_id, status__in=[RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED]
            )
            .exclude(system__connection__kind=Connection.Kind.MANUAL)
            .update(status=RunStatus.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now(), error="")
        )
        run = SystemRun.objects.select_related("system__connection").get(pk=run_id)
        if claimed:
            RunEvent.objects.create(run=run, kind="started", **actor_fields("connectors.worker"))
    return run, bool(claimed)


def _erase(run: SystemRun, connector: Any, identities: dict[str, list[str]]) -> dict[str, int]:
    """An erasure run: an interrupted earlier attempt's journal re-applied first (idempotent), then the
    passes. A first attempt has no journal to read: keys are journaled only by a claimed attempt."""
    earlier = list(run.journal.order_by("id")) if run.attempts > 1 else []
    if earlier:
        connector.apply(steps_from_journal(earlier))
    counts = erase_passes(system=run.system, connector=connector, identities=identities, run=run)
    for e in earlier:
        counts.setdefault(e.collection, 0)
        counts[e.collection] = max(counts[e.collection], e.row_count)
    return counts


def _safe_error(exc: Exception) -> str:
    """Error class plus our own message; driver messages (which may quote data) are not kept."""
    if isinstance(
        exc,
        NotConnected
        | sql.SystemUnavailable
        | fides.DatasetError
        | ValidationError
        | HttpError
        | HttpConfigError,
    ):
        return f"{type(exc).__name__}: {exc}"[:300]
    return f"{type(exc).__name__}: the system refused the operation"[:300]


@transaction.atomic
def system_run_retry(*, run_id: int, actor: Actor) -> SystemRun:
    """An officer retries a failed (or stuck pending) run: back to pending, task started on commit."""
    from ..tasks import run_system

    run = SystemRun.objects.select_for_update().get(pk=run_id)
    if run.status not in (RunStatus.FAILED, RunStatus.PENDING):
        raise ValidationError(f"Only a failed or pending run can be retried; this one is {run.status}.")
    SystemRun.objects.filter(pk=run_id).update(status=RunStatus.PENDING, error="")
    RunEvent.objects.create(run=run, kind="retried", **actor_fields(actor))
    audit_record(action="connectors.run_retried", actor=actor, target=run, subject_id=run.subject_id)
    transaction.on_commit(lambda: run_system.delay(run_id))
    run.refresh_from_db()
    return run


@transaction.atomic
def system_run_waive(*, run_id: int, actor: Actor, reason: str) -> SystemRun:
    """An officer waives a system for a case (e.g. no data there, legally exempt), with a reason."""
    if not reason.strip():
        raise ValidationError("A waiver needs a reason.")
    run = SystemRun.objects.select_for_update().get(pk=run_id)
    if run.status == RunStatus.DONE:
        raise ValidationError("This system is already done; nothing to waive.")
    SystemRun.objects.filter(pk=run_id).update(
        status=RunStatus.WAIVED, waived_reason=reason.strip(), identities="", finished_at=timezone.now()
    )
    RunEvent.objects.create(run=run, kind="waived", note=reason.strip()[:300], **actor_fields(actor))
    hooks.case_settled(run.case_id)
    audit_record(
        action="connectors.run_waived",
        actor=actor,
        target=run,
        subject_id=run.subject_id,
        details={"case_id": run.case_id, "system": run.system_id},
    )
    run.refresh_from_db()
    return run


def case_systems_settled(*, case_id: int, action: str | None = None) -> bool:
    """True when every system of the case is done or waived (a failure never counts as done)."""
    runs = SystemRun.objects.filter(case_id=case_id)
    if action:
        runs = runs.filter(action=action)
    return not runs.exclude(status__in=[RunStatus.DONE, RunStatus.WAIVED]).exists()
