"""Expiry and re-consent: expired consent counts as withdrawn; the daily sweep lists whom to ask again."""

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor

from .. import outbox
from ..models import Action, ConsentState, Purpose, ReconsentRequest
from ..selectors import open_reconsent_requests


def reconsent_requests_open(
    *, at: datetime | None = None, batch_size: int = 1000, actor: Actor = "consent-expiry-sweep"
) -> int:
    """List subjects whose consent expired (one ReconsentRequest per expiry); returns how many were opened.

    Works in primary-key windows with short transactions, so it resumes where it stopped; running it
    twice opens nothing new. Expired consent already counts as withdrawn, so nothing is marketed meanwhile.
    """
    return sum(_reconsent_requests_open(at=at, batch_size=batch_size, actor=actor).values())


def _reconsent_requests_open(*, at: datetime | None, batch_size: int, actor: Actor) -> dict[str, int]:
    at = at or timezone.now()
    opened: dict[str, int] = defaultdict(int)
    last = 0
    while True:
        with transaction.atomic():
            already = ReconsentRequest.objects.filter(
                subject_id=OuterRef("subject_id"),
                purpose_id=OuterRef("purpose_id"),
                expired_at=OuterRef("expires_at"),
            )
            batch = list(
                ConsentState.objects.filter(pk__gt=last, action=Action.GRANT, expires_at__lte=at)
                .order_by("pk")
                .values_list("pk", "subject_id", "purpose_id", "expires_at")[:batch_size]
            )
            if not batch:
                break
            last = batch[-1][0]
            todo = set(
                ConsentState.objects.filter(pk__in=[b[0] for b in batch])
                .filter(~Exists(already))
                .values_list("pk", flat=True)
            )
            new = [
                ReconsentRequest(subject_id=sid, purpose_id=purpose, expired_at=expires, created_at=at)
                for pk, sid, purpose, expires in batch
                if pk in todo
            ]
            ReconsentRequest.objects.bulk_create(new, ignore_conflicts=True)
            codes = dict(Purpose.objects.values_list("pk", "code"))
            for request in new:
                opened[codes[request.purpose_id]] += 1
    if opened:
        audit_record(
            action="consent.reconsent_requests_opened", actor=actor, details={"opened": dict(opened)}
        )
    return dict(opened)


@transaction.atomic
def reconsent_request_dismiss(*, request_id: int, actor: Actor = None) -> bool:
    """An officer decides not to ask again (e.g. the customer relationship ended)."""
    changed = ReconsentRequest.objects.filter(pk=request_id, status=ReconsentRequest.Status.OPEN).update(
        status=ReconsentRequest.Status.DISMISSED, resolved_at=timezone.now()
    )
    if changed:
        audit_record(
            action="consent.reconsent_request_dismissed",
            actor=actor,
            target_type="consent.reconsentrequest",
            target_id=request_id,
        )
    return bool(changed)


def consent_expiry_sweep(*, at: datetime | None = None, actor: Actor = "consent-expiry-sweep") -> int:
    """Open re-consent requests for consents that expired, and tell the privacy office when there are new ones."""
    opened = _reconsent_requests_open(at=at, batch_size=1000, actor=actor)
    if opened:
        with transaction.atomic():
            outbox.expiry_report_enqueue(
                opened_by_purpose=opened, open_total=open_reconsent_requests().count(), actor=actor
            )
    return sum(opened.values())
