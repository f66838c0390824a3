"""An officer approves the release of a prepared package from the case page (issue 14 item 15)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.actors import Actor

from .. import conf, gateways
from ..models import AccessPackage, CaseEvent, PrivacyRequest, RequestType, Status
from ..workflow import case_event, lock_case
from .access import access_release
from .notice_1798_83 import notice_1798_83_release


@transaction.atomic
def request_release_approve(*, case: PrivacyRequest, actor: Actor) -> PrivacyRequest:
    """Send what the preview showed and complete the case; the approval is on the timeline with its officer."""
    case = lock_case(case)
    if case.status != Status.AWAITING_APPROVAL:
        raise ValidationError("Only a case waiting for an officer's approval can be released.")
    case_event(
        case=case,
        kind=CaseEvent.Kind.FULFILMENT,
        summary="Release approved by an officer after the preview",
        actor=actor,
    )
    if case.type == RequestType.NOTICE_1798_83:
        year = gateways.notice_1798_83_year_covered(received_at=case.received_at)
        notice_1798_83_release(case=case, actor=actor, year=year)
        return case
    package = (
        AccessPackage.objects.filter(case=case, purged_at__isnull=True).order_by("-created_at", "-id").first()
    )
    if package is None:
        raise ValidationError("The prepared package was destroyed; fulfil the case again to rebuild it.")
    # The download period starts when the link is sent, not when the package was built.
    AccessPackage.objects.filter(pk=package.pk).update(expires_at=timezone.now() + conf.package_ttl())
    package.refresh_from_db()
    access_release(case=case, actor=actor, package=package)
    return case
