"""Opt-outs reach every system that declares an unsubscribe operation."""

from __future__ import annotations

from django.db import transaction

from audit.services import audit_record
from core.actors import Actor, actor_fields
from inventory.models import System

from ..http import HttpConfigError
from ..models import Connection, RunEvent, SystemRun
from ..secrets import seal_json
from .runs import connected_systems


def unsubscribe_systems() -> list[System]:
    """Systems that declare an unsubscribe operation (HTTP connections whose YAML has one)."""
    from ..http import parse_config

    out = []
    for system in connected_systems():
        conn = system.connection
        if conn.kind != Connection.Kind.HTTP or not conn.config:
            continue
        try:
            if parse_config(conn.config).operations.get("unsubscribe"):
                out.append(system)
        except HttpConfigError:
            continue
    return out


@transaction.atomic
def opt_out_propagate(
    *,
    identities: dict[str, list[str]],
    subject_id: int | None = None,
    case_id: int | None = None,
    actor: Actor = None,
) -> list[SystemRun]:
    """A withdrawal or unsubscribe reaches every system with an unsubscribe operation: one run each,
    status recorded, retried like any run (consent and requests_app call this; we never call them)."""
    from ..tasks import opt_out_run, run_system

    runs = []
    sealed = seal_json({k: list(v) for k, v in identities.items() if v})
    for system in unsubscribe_systems():
        if case_id is not None:  # one per case and system: a re-run of the case adds nothing
            run, created = SystemRun.objects.get_or_create(
                case_id=case_id, system=system, action=SystemRun.Action.OPT_OUT,
                defaults={"subject_id": subject_id, "identities": sealed},
            )  # fmt: skip
            if not created:
                continue
        else:
            run = SystemRun.objects.create(
                subject_id=subject_id, system=system, action=SystemRun.Action.OPT_OUT, identities=sealed
            )
        RunEvent.objects.create(run=run, kind="planned", **actor_fields(actor))
        runs.append(run)
        # Inside a case an officer retries from the case page; alone, the task retries by itself.
        task = run_system if case_id is not None else opt_out_run
        transaction.on_commit(lambda pk=run.pk, t=task: t.delay(pk))
    if runs:
        audit_record(
            action="connectors.opt_out_planned",
            actor=actor,
            target_type="inventory.datasubject",
            target_id=subject_id or "",
            subject_id=subject_id,
            details={"systems": [r.system_id for r in runs], "case_id": case_id},
        )
    return runs
