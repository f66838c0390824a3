"""Running a verified case's fulfilment: one FulfilmentAttempt per try, run by a Celery task with a
heartbeat; the watchdog re-queues or flags attempts whose worker died, so no case stays "in progress"
forever. What each request type does is one row of `ACTION_FOR_TYPE` and one handler in `HANDLERS`;
handlers are idempotent (erasure, consent withdrawal and notices are idempotent by contract; a rebuilt
package replaces nothing).
"""

import uuid
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor

from .. import conf, policy
from ..models import CaseEvent, FulfilmentAttempt, PrivacyRequest, RecipientNotification, RequestType, Status
from ..workflow import case_event, lock_case, update_case
from .access import access_fulfil
from .erasure import erasure_fulfil, minor_erasure_fulfil
from .limit_sensitive import limit_sensitive_fulfil
from .notice_1798_83 import notice_1798_83_fulfil
from .opt_out import opt_out_fulfil
from .rectification import rectification_fulfil

Action = FulfilmentAttempt.Action
State = FulfilmentAttempt.State

ACTION_FOR_TYPE = {
    RequestType.ACCESS: Action.ACCESS_PACKAGE,
    RequestType.PORTABILITY: Action.ACCESS_PACKAGE,
    RequestType.RECTIFICATION: Action.RECTIFICATION,
    RequestType.ERASURE: Action.ERASURE,
    RequestType.OPT_OUT: Action.OPT_OUT,
    RequestType.NOTICE_1798_83: Action.NOTICE_1798_83,
    RequestType.MINOR_DELETION: Action.MINOR_ERASURE,
    RequestType.LIMIT_SENSITIVE: Action.LIMIT_SENSITIVE,
}


class FulfilmentRetry(Exception):
    """A fulfilment failed for a reason that may pass (database, broker, disk): the task retries."""


def _enqueue(attempt: FulfilmentAttempt) -> None:
    from ..tasks import run_fulfilment

    task_id = attempt.task_id
    transaction.on_commit(lambda: run_fulfilment.apply_async(args=[attempt.pk], task_id=task_id))


@transaction.atomic
def request_fulfil(*, case: PrivacyRequest, actor: Actor) -> FulfilmentAttempt:
    """Start the fulfilment of a verified case (a task does the work after this transaction commits)."""
    case = lock_case(case)
    if case.status != Status.IN_PROGRESS:
        raise ValidationError("Only a verified case that is in progress can be fulfilled.")
    action = ACTION_FOR_TYPE.get(case.type)
    if action is None:
        raise ValidationError(
            "A restriction/objection is decided by an officer: record the outcome with 'Complete restriction'."
        )
    if case.attempts.filter(state__in=[State.QUEUED, State.RUNNING]).exists():
        raise ValidationError("A fulfilment of this case is already queued or running.")
    if action == Action.RECTIFICATION and not case.rectifications.filter(applied_at__isnull=True).exists():
        raise ValidationError("Enter the corrected values on the case before fulfilling it.")
    number = case.attempts.count() + 1
    attempt = FulfilmentAttempt.objects.create(
        case=case, action=action, number=number, task_id=str(uuid.uuid4()), queued_at=timezone.now()
    )
    update_case(case, stuck_reason="", stuck_at=None)
    case_event(
        case=case,
        kind=CaseEvent.Kind.FULFILMENT,
        summary=f"{attempt.get_action_display()} queued (attempt {number})",
        actor=actor,
        details={"attempt_id": attempt.pk, "action": action},
    )
    _enqueue(attempt)
    return attempt


def fulfil_when_systems_settled(*, case_id: int) -> None:
    """connectors told us the case's other systems are all done or waived: resume a case that waited."""
    case = PrivacyRequest.objects.filter(pk=case_id, status=Status.IN_PROGRESS).first()
    if case is None or case.attempts.filter(state__in=[State.QUEUED, State.RUNNING]).exists():
        return
    if case.type in ACTION_FOR_TYPE:
        request_fulfil(case=case, actor="connectors")


def fulfil_if_automatic(case: PrivacyRequest, *, actor: Actor) -> None:
    """A case just reached "in progress": types that need no officer judgement start at once."""
    if case.type in policy.AUTO_FULFIL:
        request_fulfil(case=case, actor=actor)


def attempt_heartbeat(attempt_id: int) -> Callable[[], None]:
    def beat() -> None:
        FulfilmentAttempt.objects.filter(pk=attempt_id, state=State.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    return beat


def fulfilment_run(*, attempt_id: int) -> str:
    """Run one attempt. Guarded start: a queued attempt, or a running one whose worker went silent."""
    now = timezone.now()
    stale = now - conf.stuck_after()
    started = FulfilmentAttempt.objects.filter(
        Q(state=State.QUEUED) | Q(state=State.RUNNING, heartbeat_at__lt=stale), pk=attempt_id
    ).update(state=State.RUNNING, started_at=now, heartbeat_at=now)
    attempt = FulfilmentAttempt.objects.select_related("case", "case__subject").get(pk=attempt_id)
    if not started:
        return attempt.state
    case = attempt.case
    if case.status != Status.IN_PROGRESS:
        _finish(attempt, State.ABANDONED, error=f"case is {case.status}")
        return State.ABANDONED
    try:
        HANDLERS[attempt.action](
            case, attempt.case.assignee or "fulfilment worker", attempt_heartbeat(attempt.pk)
        )
    except ValidationError as exc:
        # A business refusal (e.g. the yearly 1798.83 limit): retrying won't help; an officer decides.
        reason = "; ".join(exc.messages)[:250]
        _finish(attempt, State.FAILED, error=reason)
        _flag(case, f"{attempt.get_action_display()} refused: {reason}", attempt)
        return State.FAILED
    except Exception as exc:
        # Type only: exception text may quote data.
        # Back in the queue for the task's retry; queued_at restarts so the watchdog measures this wait.
        FulfilmentAttempt.objects.filter(pk=attempt.pk).update(
            state=State.QUEUED, error=type(exc).__name__, queued_at=timezone.now()
        )
        raise FulfilmentRetry(type(exc).__name__) from exc
    _finish(attempt, State.SUCCEEDED)
    return State.SUCCEEDED


def _finish(attempt: FulfilmentAttempt, state: str, *, error: str = "") -> None:
    FulfilmentAttempt.objects.filter(pk=attempt.pk).update(
        state=state, finished_at=timezone.now(), error=error
    )


@transaction.atomic
def _flag(case: PrivacyRequest, reason: str, attempt: FulfilmentAttempt | None) -> None:
    update_case(case, stuck_reason=reason[:300], stuck_at=timezone.now())
    case_event(
        case=case,
        kind=CaseEvent.Kind.STUCK,
        summary=reason,
        actor="fulfilment watchdog",
        details={"attempt_id": getattr(attempt, "pk", None)},
    )


def fulfilment_give_up(*, attempt_id: int, error: str) -> None:
    """Retries are exhausted: the attempt failed and the case says so, visibly, for an officer."""
    attempt = FulfilmentAttempt.objects.select_related("case").get(pk=attempt_id)
    _finish(attempt, State.FAILED, error=error)
    _flag(
        attempt.case,
        f"{attempt.get_action_display()} failed after retries ({error}); needs an officer",
        attempt,
    )


def fulfilment_watchdog() -> dict[str, int]:
    """Find attempts whose worker died (no heartbeat) or whose message was lost (never started).

    Each is abandoned; the case gets a new attempt unless it already had `max_fulfilment_attempts`, in
    which case it is flagged with the reason (visible in the admin and on the timeline).
    """
    now = timezone.now()
    dead = FulfilmentAttempt.objects.filter(
        Q(state=State.RUNNING, heartbeat_at__lt=now - conf.stuck_after())
        | Q(state=State.QUEUED, queued_at__lt=now - conf.queued_too_long())
    ).select_related("case")
    requeued = flagged = 0
    for attempt in dead:
        with transaction.atomic():
            if not FulfilmentAttempt.objects.filter(pk=attempt.pk, state=attempt.state).update(
                state=State.ABANDONED, finished_at=now, error="worker lost: no heartbeat"
            ):
                continue
            case = lock_case(attempt.case)
            what = "stopped reporting" if attempt.state == State.RUNNING else "was never picked up"
            if case.status != Status.IN_PROGRESS:
                continue
            if attempt.number >= conf.max_fulfilment_attempts():
                _flag(
                    case,
                    f"{attempt.get_action_display()} {what} {attempt.number} times; needs an officer",
                    attempt,
                )
                flagged += 1
                continue
            retry = FulfilmentAttempt.objects.create(
                case=case,
                action=attempt.action,
                number=attempt.number + 1,
                task_id=str(uuid.uuid4()),
                queued_at=now,
            )
            case_event(
                case=case,
                kind=CaseEvent.Kind.STUCK,
                summary=f"{attempt.get_action_display()} {what}; re-queued as attempt {retry.number}",
                actor="fulfilment watchdog",
                details={"abandoned_attempt_id": attempt.pk, "attempt_id": retry.pk},
            )
            _enqueue(retry)
            requeued += 1
    # Recipient notifications whose task was lost: send again (the task is idempotent).
    lost = list(
        RecipientNotification.objects.filter(
            state=RecipientNotification.State.PENDING, created_at__lt=now - conf.queued_too_long()
        ).values_list("pk", flat=True)
    )
    if lost:
        from ..tasks import notify_recipient

        transaction.on_commit(lambda: [notify_recipient.delay(pk) for pk in lost])
    if requeued or flagged or lost:
        audit_record(
            action="request.watchdog",
            actor="fulfilment watchdog",
            details={"requeued": requeued, "flagged": flagged, "recipient_notifications_requeued": len(lost)},
        )
    return {"requeued": requeued, "flagged": flagged, "recipients_requeued": len(lost)}


HANDLERS: dict[str, Callable] = {
    Action.ACCESS_PACKAGE: access_fulfil,
    Action.RECTIFICATION: rectification_fulfil,
    Action.ERASURE: erasure_fulfil,
    Action.MINOR_ERASURE: minor_erasure_fulfil,
    Action.OPT_OUT: opt_out_fulfil,
    Action.NOTICE_1798_83: notice_1798_83_fulfil,
    Action.LIMIT_SENSITIVE: limit_sensitive_fulfil,
}
