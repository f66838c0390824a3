"""The public form's intake: the web request does the same work whether or not we hold the subject.

Anonymous visitors must not learn from the answer, nor from how long it takes, whether an address is a
customer (issue 15 item 2). Finding the subject costs nothing extra for a known one and creates a
subject, a data key and an audit event for an unknown one, so the request does none of it: it checks
the fields, stores them sealed as an `IntakeSubmission` (one INSERT, for everyone) and queues
`open_public_intake` with the submission's id. The task opens the case through `request_create`
under the reference the requester's status link already names, then deletes the submission.
"""

import json
import logging
import uuid
from dataclasses import asdict
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from inventory import crypto

from ..models import IntakeSubmission, PrivacyRequest
from .intake import Intake, request_create, validate_intake

logger = logging.getLogger(__name__)

PUBLIC_ACTOR = "public web form"
STALE_AFTER = timedelta(minutes=5)


def _queue(submission_id: int) -> None:
    from ..tasks import open_public_intake

    transaction.on_commit(lambda: open_public_intake.delay(submission_id))


@transaction.atomic
def public_intake_submit(*, channel: str, **fields: str | bool) -> IntakeSubmission:
    """Check the fields as `request_create` will, store them sealed and queue the case's opening.

    Raises ValidationError with the same messages `request_create` would. Reads nothing about the subject.
    """
    now = timezone.now()
    intake = Intake(channel=channel, **fields)
    validate_intake(intake, now=now)
    typed = {k: v for k, v in asdict(intake).items() if k not in ("received_at", "reference")}
    submission = IntakeSubmission.objects.create(
        reference=uuid.uuid4(),
        received_at=intake.received_at,
        sealed=crypto.master().encrypt(json.dumps(typed).encode()).decode(),
    )
    _queue(submission.pk)
    return submission


@transaction.atomic
def public_intake_open(*, submission_id: int, actor: Actor = PUBLIC_ACTOR) -> str:
    """Open the submission's case (idempotent: a retried task finds the case or no submission)."""
    submission = IntakeSubmission.objects.select_for_update().filter(pk=submission_id).first()
    if submission is None:
        return "gone"
    if not PrivacyRequest.objects.filter(reference=submission.reference).exists():
        typed = json.loads(crypto.master().decrypt(submission.sealed.encode()))
        try:
            with transaction.atomic():
                request_create(
                    **typed, received_at=submission.received_at, reference=submission.reference, actor=actor
                )
        except ValidationError:
            # Checked when submitted; only a rule change in between gets here. Ids only in the log.
            logger.error("Public intake submission %s no longer validates; dropped", submission.pk)
            submission.delete()
            return "invalid"
    submission.delete()
    return "opened"


def public_intake_requeue_stale() -> int:
    """Queue again the submissions whose task was lost (broker restart): none waits for ever."""
    ids = list(
        IntakeSubmission.objects.filter(received_at__lt=timezone.now() - STALE_AFTER).values_list(
            "pk", flat=True
        )
    )
    for pk in ids:
        _queue(pk)
    return len(ids)
