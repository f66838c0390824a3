"""Every write of the connectors app: connections, datasets, per-(case, system) runs, journal replay.

Callers above us (requests_app, retention, consent) use `case_systems_plan`, `case_systems_status`,
`case_systems_settled`, `system_run_retry` and `system_run_waive`; they never reach into the models.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from django.core.exceptions import ValidationError
from django.db import connection as db
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor, actor_fields
from inventory.models import System

from . import fides, graph, sql
from .connector import NotConnected, for_system, system_graph
from .http import HttpConfigError, HttpError
from .models import Connection, Dataset, ErasureJournal, RunEvent, RunStatus, SystemRun
from .secrets import open_json, seal, seal_json

log = logging.getLogger(__name__)

# Errors that fail a run with a message (a retry by an officer may help); infrastructure errors of our
# own database propagate instead, so PrivacyTask retries them.
RUN_ERRORS = (
    NotConnected,
    sql.SystemUnavailable,
    fides.DatasetError,
    sa.exc.SQLAlchemyError,
    ValidationError,
    HttpError,
    HttpConfigError,
)


def _system(code: str) -> System:
    try:
        return System.objects.get(code=code)
    except System.DoesNotExist:
        raise ValidationError(f"No system with code {code!r}.") from None


# --- connections -----------------------------------------------------------------------------------


@transaction.atomic
def connection_save(
    *,
    system: System,
    kind: str,
    actor: Actor,
    url: str | None = None,
    secrets: dict[str, Any] | None = None,
    config: str | None = None,
    owner_email: str | None = None,
    row_cap: int | None = None,
    rate_limit_per_second: float | None = None,
) -> Connection:
    """Create or update a system's connection; credentials given are sealed, omitted ones are kept."""
    conn, _ = Connection.objects.get_or_create(system=system, defaults={"kind": kind})
    conn.kind = kind
    if url is not None or secrets is not None:
        conn.secret = seal(url) if kind == Connection.Kind.SQL else seal_json(secrets or {})
        conn.secret_changed_at = timezone.now()
    if config is not None:
        conn.config = config
    if owner_email is not None:
        conn.owner_email = owner_email
    if row_cap is not None:
        conn.row_cap = row_cap
    if rate_limit_per_second is not None:
        conn.rate_limit_per_second = rate_limit_per_second
    if kind == Connection.Kind.HTTP and conn.config:
        from .http import parse_config

        try:
            parse_config(conn.config)
        except HttpConfigError as exc:
            raise ValidationError(str(exc)) from None
    conn.full_clean()
    conn.save()
    audit_record(
        action="connectors.connection_saved",
        actor=actor,
        target=conn,
        details={
            "system": system.code,
            "kind": kind,
            "credentials_changed": url is not None or secrets is not None,
        },
    )
    return conn


def connection_test(*, system: System, actor: Actor) -> str:
    """Try the connection and record what it could reach; raises ValidationError when it cannot."""
    try:
        result = for_system(system).probe()
        ok = True
    except RUN_ERRORS as exc:
        result, ok = str(exc), False
    Connection.objects.filter(system=system).update(
        last_test_at=timezone.now(), last_test_result=result[:1000]
    )
    audit_record(action="connectors.connection_tested", actor=actor, target=system, details={"ok": ok})
    if not ok:
        raise ValidationError(result)
    return result


# --- datasets --------------------------------------------------------------------------------------


@transaction.atomic
def dataset_import(
    *,
    system: System,
    text: str,
    actor: Actor,
    erase: dict[str, str] | None = None,
    category_map: dict[str, str] | None = None,
) -> list[Dataset]:
    """Store a Fides file (every dataset in it) for a system, unchanged; errors by line, nothing saved."""
    parsed = fides.parse(text)
    problems = []
    g = graph.build(parsed)
    problems += graph.validate_erase(g, erase or {})
    if problems:
        raise ValidationError(problems)
    saved = []
    for ds in parsed:
        other = Dataset.objects.filter(fides_key=ds.fides_key).exclude(system=system).first()
        if other is not None:
            raise ValidationError(
                f"Dataset {ds.fides_key!r} already belongs to system {other.system.code!r}."
            )
        row, _ = Dataset.objects.update_or_create(
            fides_key=ds.fides_key,
            defaults={
                "system": system,
                "name": ds.name,
                "text": text if len(parsed) == 1 else _single(text, ds.fides_key),
                "erase": erase or {},
                "category_map": category_map or {},
            },
        )
        saved.append(row)
    audit_record(
        action="connectors.dataset_imported",
        actor=actor,
        target=system,
        details={"datasets": [d.fides_key for d in saved]},
    )
    return saved


def _single(text: str, key: str) -> str:
    """One dataset of a multi-dataset file, as its own Fides document."""
    import yaml

    doc = yaml.safe_load(text)
    doc["dataset"] = [d for d in doc["dataset"] if d.get("fides_key") == key]
    return yaml.safe_dump(doc, sort_keys=False)


def dataset_export(*, system: System) -> str:
    """The system's Fides file(s) as imported (one document; several datasets are concatenated)."""
    rows = list(Dataset.objects.filter(system=system).order_by("fides_key"))
    if not rows:
        raise ValidationError(f"System {system.code!r} has no dataset.")
    if len(rows) == 1:
        return rows[0].text
    import yaml

    merged = {"dataset": [d for r in rows for d in yaml.safe_load(r.text)["dataset"]]}
    return yaml.safe_dump(merged, sort_keys=False)


@dataclass
class CheckReport:
    errors: list[str]
    warnings: list[str]
    paths: list[list[str]]

    @property
    def ok(self) -> bool:
        return not self.errors


def dataset_check(*, system: System) -> CheckReport:
    """The system's datasets against its live schema: unknown tables/columns, missing indexes (with DDL)."""
    connector = for_system(system)
    g, erase = system_graph(system)
    errors = graph.validate_erase(g, erase)
    warnings: list[str] = []
    if hasattr(connector, "check"):
        try:
            e, w = connector.check()
        except sa.exc.SQLAlchemyError as exc:
            raise sql.SystemUnavailable(f"{type(exc).__name__}: could not inspect the schema") from None
        errors += e
        warnings += w
    return CheckReport(errors=errors, warnings=warnings, paths=g.paths())


# --- ad-hoc access and erasure (commands) ------------------------------------------------------------


def system_access(*, system: System, identities: dict[str, list[str]]) -> sql.Traversal:
    """The rows a request would return from one system, by collection (no run, no journal)."""
    return for_system(system).access(identities)


def system_erase(
    *, system: System, identities: dict[str, list[str]], actor: Actor, dry_run: bool
) -> dict[str, int]:
    """Erase one identity's rows in one system outside a case (journaled, audited); dry_run counts only."""
    connector = for_system(system)
    if dry_run:
        return {s.collection: s.row_count for s in connector.steps(connector.access(identities))}
    counts = _erase_passes(system=system, connector=connector, identities=identities, run=None)
    audit_record(action="connectors.system_erased", actor=actor, target=system, details={"counts": counts})
    return counts


def _erase_passes(
    *,
    system: System,
    connector: Any,
    identities: dict[str, list[str]],
    run: SystemRun | None,
    sweep_reference: str = "",
) -> dict[str, int]:
    """Traverse, journal (committed), apply; again while a collection came back truncated."""
    from .conf import max_erasure_passes

    counts: dict[str, int] = {}
    for _ in range(max_erasure_passes()):
        found = connector.access(identities)
        steps = connector.steps(found)
        if not steps:
            break
        journal(system=system, run=run, steps=steps, sweep_reference=sweep_reference)
        for cname, n in connector.apply(steps).items():
            counts[cname] = counts.get(cname, 0) + n
        if not found.truncated:
            break
    return counts


def journal(
    *, system: System, run: SystemRun | None, steps: list[sql.ErasureStep], sweep_reference: str = ""
) -> None:
    """Journal first: the keys are committed before the external change, in the order applied."""
    with transaction.atomic():
        ErasureJournal.objects.bulk_create(
            ErasureJournal(
                system=system,
                run=run,
                sweep_reference=sweep_reference,
                dataset=s.dataset,
                collection=s.collection,
                strategy=s.strategy,
                keys=s.journal_keys(),
                row_count=s.row_count,
            )
            for s in steps
        )


def _steps_from_journal(entries: list[ErasureJournal]) -> list[sql.ErasureStep]:
    return [
        sql.ErasureStep(e.collection, e.dataset, e.strategy, e.keys["columns"], e.keys["values"])
        for e in entries
    ]


def journal_replay(*, system: System, actor: Actor, since_id: int = 0) -> dict[str, int]:
    """Re-apply a system's journal (after that system was restored from a backup); idempotent."""
    connector = for_system(system)
    entries = list(ErasureJournal.objects.filter(system=system, id__gt=since_id).order_by("id"))
    counts: dict[str, int] = {}
    for cname, n in connector.apply(_steps_from_journal(entries)).items() if entries else []:
        counts[cname] = counts.get(cname, 0) + n
    audit_record(
        action="connectors.journal_replayed",
        actor=actor,
        target=system,
        details={"entries": len(entries), "counts": counts},
    )
    return counts


# --- runs per (case, system) -----------------------------------------------------------------------


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
    from .manual import manual_task_open
    from .tasks import run_system

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
    if SystemRun.objects.filter(pk=run_id, system__connection__kind=Connection.Kind.MANUAL).exists():
        return SystemRun.objects.get(pk=run_id)  # a person answers (connectors.manual), not a worker
    with _run_lock(run_id) as got:
        if not got:
            return None
        claimed = SystemRun.objects.filter(
            pk=run_id, status__in=[RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED]
        ).update(status=RunStatus.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now(), error="")
        run = SystemRun.objects.select_related("system").get(pk=run_id)
        if not claimed:
            return run
        RunEvent.objects.create(run=run, kind="started", **actor_fields("connectors.worker"))
        identities = open_json(run.identities)
        try:
            connector = for_system(run.system)
            result_json: dict[str, Any] | None = None
            truncated: list[str] = []
            if run.action == SystemRun.Action.ACCESS:
                found = connector.access(identities)
                counts, truncated, result_json = found.counts(), found.truncated, found.as_json()
            elif run.action == SystemRun.Action.ERASURE:
                earlier = list(run.journal.order_by("id"))
                if earlier:
                    connector.apply(_steps_from_journal(earlier))
                counts = _erase_passes(system=run.system, connector=connector, identities=identities, run=run)
                for e in earlier:
                    counts.setdefault(e.collection, 0)
                    counts[e.collection] = max(counts[e.collection], e.row_count)
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
            SystemRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(**fields)
            RunEvent.objects.create(run=run, kind="done", **actor_fields("connectors.worker"))
            audit_record(
                action=f"connectors.{run.action}_done",
                actor="connectors.worker",
                target=run,
                subject_id=run.subject_id,
                details={"case_id": run.case_id, "system": run.system.code, "counts": counts},
            )
        run.refresh_from_db()
        return run


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
    from .tasks import run_system

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


# --- retention across systems ----------------------------------------------------------------------


def external_retention_sweep(
    *,
    system: System,
    collection: str,
    timestamp_field: str,
    period_days: int,
    sweep_reference: str,
    actor: Actor = "retention.sweep",
    held_identities: dict[str, set[str]] | None = None,
    batch_rows: int = 1000,
) -> dict[str, int]:
    """Erase an external collection's rows older than the period, and their dependants, in batches.

    Each batch: the next key window of expired rows (rows whose identity fields match a held
    identity are skipped: legal holds), their children along the references, journaled then erased
    by the dataset's strategies in one transaction. Returns rows per collection for the certificate.
    retention calls this for schedules that target an external collection.
    """
    from datetime import timedelta

    from .connector import SqlConnector

    connector = for_system(system)
    if not isinstance(connector, SqlConnector):
        raise ValidationError("Retention sweeps reach SQL systems only.")
    g = connector.graph
    if collection not in g.collections:
        raise ValidationError(f"Collection {collection!r} is not in the datasets of {system.code!r}.")
    coll = g.collections[collection]
    if timestamp_field not in coll.fields:
        raise ValidationError(f"Field {collection}.{timestamp_field} is not in the dataset.")
    before = timezone.now() - timedelta(days=period_days)
    if connector.engine.dialect.name != "postgresql":
        before = before.replace(tzinfo=None)  # naive timestamps on MySQL/SQLite
    held = {f.name: {v.strip().lower() for v in (held_identities or {}).get(f.identity, ())}
            for f in coll.fields.values() if f.identity}  # fmt: skip
    counts: dict[str, int] = {}
    after = None
    while True:
        rows = sql.run_in_transaction(
            connector.engine,
            lambda conn, a=after: sql.expired_rows(
                conn,
                g,
                collection,
                timestamp_field=timestamp_field,
                before=before,
                after_key=a,
                limit=batch_rows,
            ),
            read_only=True,
        )
        if not rows:
            break
        after = rows[-1][coll.primary_key[0]]
        rows = [
            r for r in rows if not any(str(r.get(f) or "").strip().lower() in v for f, v in held.items() if v)
        ]
        if not rows:
            continue
        found = sql.run_in_transaction(
            connector.engine,
            lambda conn, rs=rows: sql.traverse_by_steps(
                conn, g, {}, row_cap=connector.connection.row_cap, start=(collection, rs)
            ),
            read_only=True,
        )
        steps = connector.steps(found)
        if not steps:
            continue
        journal(system=system, run=None, steps=steps, sweep_reference=sweep_reference)
        for cname, n in connector.apply(steps).items():
            counts[cname] = counts.get(cname, 0) + n
    audit_record(
        action="connectors.retention_swept",
        actor=actor,
        target=system,
        details={"collection": collection, "schedule": sweep_reference, "counts": counts},
    )
    return counts


# --- opt-outs --------------------------------------------------------------------------------------


def unsubscribe_systems() -> list[System]:
    """Systems that declare an unsubscribe operation (HTTP connections whose YAML has one)."""
    from .http import HttpConfigError, parse_config

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
    from .tasks import run_system

    runs = []
    sealed = seal_json({k: list(v) for k, v in identities.items() if v})
    for system in unsubscribe_systems():
        run = SystemRun.objects.create(
            case_id=case_id, subject_id=subject_id, system=system, action=SystemRun.Action.OPT_OUT,
            identities=sealed,
        )  # fmt: skip
        RunEvent.objects.create(run=run, kind="planned", **actor_fields(actor))
        runs.append(run)
        transaction.on_commit(lambda pk=run.pk: run_system.delay(pk))
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


# --- the demo CRM (make run) -------------------------------------------------------------------------


def demo_crm_install(*, path: str, subjects: int = 200, actor: Actor = "bootstrap") -> System:
    """A small SQLite "CRM" beside the demo data, filled for the first demo subjects, with its dataset,
    so a demo access request returns rows from it and a demo erasure erases them."""
    from pathlib import Path

    from inventory.models import DataSubject

    from . import demo

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    engine = sa.create_engine(f"sqlite:///{target}", poolclass=sa.pool.NullPool)
    demo.create_schema(engine)
    people = [
        {"email": s.email_normalized, "name": s.name or "-", "phone": s.phone or None}
        for s in DataSubject.objects.filter(erased_at__isnull=True)
        .exclude(email_normalized="")
        .order_by("id")[:subjects]
    ]
    demo.fill(engine, people)
    engine.dispose()
    system, _ = System.objects.get_or_create(
        code="demo-crm",
        defaults={"name": "Demo CRM", "kind": System.Kind.EXTERNAL, "owner": "Sales operations",
                  "location": "US", "description": "The demo's external CRM (SQLite), reached by the connectors."},
    )  # fmt: skip
    connection_save(system=system, kind=Connection.Kind.SQL, url=f"sqlite:///{target}", actor=actor)
    dataset_import(system=system, text=demo.dataset_text(), erase=demo.DEMO_ERASE, actor=actor)
    return system
