"""Erasures a legal hold deferred (GDPR Art. 17(3), 19; issue 14 item 5).

A case whose erasure kept held records waits, visibly, in "waiting for hold release" (never
"completed"): the requester is told what was erased and what is kept under which exception. When a hold
is released (retention.hooks `after_hold_release`), a task resumes each waiting case of that subject:
the case goes back to work and the erasure runs again through a fulfilment attempt; when nothing is kept
any more it completes with the final notice, otherwise it waits again.
"""

from django.db import transaction

from core.actors import Actor

from ..gateways import NoticeKinds
from ..models import PrivacyRequest, Status
from ..workflow import lock_case, send_case_notice, transition

RESUME_ACTOR = "legal hold release"


def erasure_defer(
    *, case: PrivacyRequest, actor: Actor, outcome: str, certificate, kept: list[dict], to_email: str
) -> None:
    """Park the case until the hold ends and tell the requester exactly what was and wasn't erased."""
    transition(
        case,
        Status.WAITING_HOLD_RELEASE,
        actor=actor,
        summary="Erasure partly deferred by a legal hold: waiting for hold release",
        details={"certificate_id": certificate.pk, "kept": sum(k["count"] for k in kept)},
        outcome_note=outcome,
    )
    send_case_notice(
        case=case,
        kind=NoticeKinds.ERASURE_PARTIAL,
        key=f"erasure_partial:{certificate.pk}",
        context={
            "erased_count": certificate.erased_count,
            "kept_records": [{"description": k["description"], "reason": k["reason"]} for k in kept],
            "certificate_reference": str(certificate.public_id),
        },
        to_email=to_email,
        actor=actor,
    )


def erasures_resume_after_release(*, subject_id: int | None) -> list[int]:
    """retention hook: queue the resumption of every case a released hold may have been deferring."""
    waiting = PrivacyRequest.objects.filter(status=Status.WAITING_HOLD_RELEASE)
    if subject_id is not None:
        waiting = waiting.filter(subject_id=subject_id)
    ids = list(waiting.values_list("pk", flat=True))
    if ids:
        from ..tasks import resume_erasure

        transaction.on_commit(lambda: [resume_erasure.delay(pk) for pk in ids])
    return ids


@transaction.atomic
def erasure_resume(*, case_id: int, actor: Actor = RESUME_ACTOR) -> str:
    """Send a waiting case back to work and queue its erasure again (idempotent: only a waiting case)."""
    from .fulfilment import request_fulfil

    case = lock_case(case_id)
    if case.status != Status.WAITING_HOLD_RELEASE:
        return "not_waiting"
    transition(case, Status.IN_PROGRESS, actor=actor, summary="Legal hold released: the erasure resumes")
    request_fulfil(case=case, actor=actor)
    return "resumed"
