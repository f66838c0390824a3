"""Manual systems: a person (the system's owner) answers for the system, through a signed link.

The owner gets a mail with a link (signed, no login) to a page where they mark the task done, report
"no data", or upload an export file (sealed at rest, added to the access package). Each task has its
own due date ahead of the case's; owners are reminded before it and the privacy team is told after.
"""

from __future__ import annotations

import base64
from datetime import date, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from core import clock
from core.actors import Actor, actor_fields
from core.organisation import organisation

from . import hooks
from .models import Connection, RunEvent, RunStatus, SystemRun
from .secrets import open_sealed, seal

SALT = "connectors.manual"
OUTCOMES = ("done", "no_data", "upload")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def lead_days() -> int:
    """How many days before the case's due date the owner's task is due."""
    return int(getattr(settings, "CONNECTORS_MANUAL_LEAD_DAYS", 7))


def link_ttl_seconds() -> int:
    return int(getattr(settings, "CONNECTORS_MANUAL_LINK_DAYS", 60)) * 86400


def token_for(run: SystemRun) -> str:
    return signing.dumps({"r": str(run.public_id)}, salt=SALT)


def run_for_token(token: str) -> SystemRun:
    """The run a link names; ValidationError (expired or forged) otherwise."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=link_ttl_seconds())
    except signing.SignatureExpired:
        raise ValidationError("This link has expired; ask the privacy team for a new one.") from None
    except signing.BadSignature:
        raise ValidationError("This link is not valid.") from None
    try:
        return SystemRun.objects.select_related("system").get(public_id=payload["r"])
    except SystemRun.DoesNotExist:
        raise ValidationError("This task no longer exists.") from None


def manual_due_on(case_due_on: date | None) -> date:
    """A manual task's due date, before its case's, in the business's calendar (as the case's is)."""
    today = clock.business_today()
    if case_due_on is None:
        return today + timedelta(days=lead_days())
    return max(today, case_due_on - timedelta(days=lead_days()))


def _mail_owner(run: SystemRun, *, subject: str, intro: str) -> None:
    conn = run.system.connection
    if not conn.owner_email:
        return
    url = settings.SITE_URL.rstrip("/") if hasattr(settings, "SITE_URL") else ""
    link = f"{url}{reverse('connectors:manual_task', args=[token_for(run)])}"
    body = (
        f"{intro}\n\nSystem: {run.system.name}\nTask: {run.get_action_display()}\n"
        f"Due: {run.due_on:%Y-%m-%d}\n\nOpen the task: {link}\n\n{organisation().name} privacy team"
    )
    send_mail(subject, body, None, [conn.owner_email])


def manual_task_open(*, run: SystemRun, case_due_on: date | None) -> None:
    """Give a planned manual run its due date and mail its owner (after commit)."""
    SystemRun.objects.filter(pk=run.pk).update(due_on=manual_due_on(case_due_on))
    run.refresh_from_db()
    transaction.on_commit(
        lambda: _mail_owner(
            run,
            subject=f"Privacy request task for {run.system.name}",
            intro="A privacy request needs an answer from the system you own.",
        )
    )


@transaction.atomic
def manual_task_answer(
    *, run_id: int, outcome: str, actor: Actor, file_name: str = "", file_bytes: bytes = b""
) -> SystemRun:
    """The owner's answer: done, no data, or an export file (sealed); settles the run."""
    if outcome not in OUTCOMES:
        raise ValidationError("Choose done, no data, or upload a file.")
    if outcome == "upload" and not file_bytes:
        raise ValidationError("Choose a file to upload.")
    if len(file_bytes) > MAX_UPLOAD_BYTES:
        raise ValidationError("The file is larger than 20 MB; send it to the privacy team instead.")
    run = SystemRun.objects.select_for_update().select_related("system").get(pk=run_id)
    if run.system.connection.kind != Connection.Kind.MANUAL:
        raise ValidationError("This system is not answered by hand.")
    if run.status not in (RunStatus.PENDING, RunStatus.FAILED):
        raise ValidationError(f"This task is already {run.get_status_display().lower()}.")
    fields = {
        "status": RunStatus.DONE,
        "finished_at": timezone.now(),
        "counts": {"manual": outcome},
        "identities": "" if run.action != SystemRun.Action.ACCESS else run.identities,
    }
    if outcome == "upload":
        fields["upload_name"] = file_name[:200]
        fields["upload"] = seal(base64.b64encode(file_bytes).decode())
    SystemRun.objects.filter(pk=run_id).update(**fields)
    RunEvent.objects.create(run=run, kind=f"manual_{outcome}", **actor_fields(actor))
    hooks.case_settled(run.case_id)
    audit_record(
        action="connectors.manual_answered",
        actor=actor,
        target=run,
        subject_id=run.subject_id,
        details={"case_id": run.case_id, "system": run.system.code, "outcome": outcome},
    )
    run.refresh_from_db()
    return run


def manual_upload(run: SystemRun) -> bytes:
    return base64.b64decode(open_sealed(run.upload)) if run.upload else b""


def manual_tasks_remind(*, today: date | None = None) -> dict[str, int]:
    """Remind owners two days before their due date; tell the privacy team once a task is overdue."""
    today = today or clock.business_today()
    open_runs = SystemRun.objects.filter(
        system__connection__kind=Connection.Kind.MANUAL, status=RunStatus.PENDING, due_on__isnull=False
    ).select_related("system", "system__connection")
    reminded = escalated = 0
    for run in open_runs.filter(reminded_at__isnull=True, due_on__lte=today + timedelta(days=2)):
        if SystemRun.objects.filter(pk=run.pk, reminded_at__isnull=True).update(reminded_at=timezone.now()):
            _mail_owner(run, subject=f"Reminder: privacy request task for {run.system.name}",
                        intro="Reminder: a privacy request still needs your answer.")  # fmt: skip
            reminded += 1
    for run in open_runs.filter(escalated_at__isnull=True, due_on__lt=today):
        if SystemRun.objects.filter(pk=run.pk, escalated_at__isnull=True).update(escalated_at=timezone.now()):
            send_mail(
                f"Overdue: {run.system.name} has not answered case #{run.case_id}",
                f"The owner of {run.system.name} has not answered (due {run.due_on:%Y-%m-%d}). "
                "Chase them, or waive the system for this case with a reason.",
                None,
                [organisation().privacy_email],
            )
            escalated += 1
    return {"reminded": reminded, "escalated": escalated}
