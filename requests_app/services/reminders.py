"""Reminders (beat task): unassigned cases to the privacy office, due dates to their assignees."""

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .. import conf, deadlines
from ..gateways import NoticeKinds
from ..models import PrivacyRequest
from ..selectors import cases_due_soon_for_reminder, cases_unassigned_for_reminder
from ..workflow import absolute_url, send_case_notice, update_case


def _days_left(case: PrivacyRequest) -> int | None:
    return (case.due_on - deadlines.business_today()).days if case.due_on else None


def _case_admin_url(case: PrivacyRequest) -> str:
    return absolute_url(reverse("admin:requests_app_privacyrequest_change", args=[case.pk]))


def reminders_send() -> dict[str, int]:
    """Beat task: unassigned cases after 5 days go to the privacy office; assignees hear 5 days before due.

    Idempotency keys make each reminder go once (per due date, so an extension re-arms it).
    """
    sent = {"unassigned": 0, "due_soon": 0}
    for case in cases_unassigned_for_reminder():
        with transaction.atomic():
            send_case_notice(
                case=case,
                kind=NoticeKinds.ASSIGNEE_REMINDER,
                key="remind:unassigned",
                context={
                    "reminder": "unassigned",
                    "assignee_name": "privacy office",
                    "action": "Assign this case: it has been waiting for an owner for "
                    f"{(timezone.now() - case.received_at).days} days",
                    "days_left": _days_left(case),
                    "case_url": _case_admin_url(case),
                },
                to_email=conf.privacy_office_email(),
                actor="reminders",
            )
            update_case(case, unassigned_reminder_at=timezone.now())
        sent["unassigned"] += 1
    for case in cases_due_soon_for_reminder():
        with transaction.atomic():
            send_case_notice(
                case=case,
                kind=NoticeKinds.ASSIGNEE_REMINDER,
                key=f"remind:due:{case.due_on.isoformat()}",
                context={
                    "reminder": "due_soon",
                    "assignee_name": case.assignee.get_full_name() or case.assignee.get_username(),
                    "action": f"Respond to the {case.get_type_display().lower()} request",
                    "days_left": _days_left(case),
                    "case_url": _case_admin_url(case),
                },
                to_email=case.assignee.email or conf.privacy_office_email(),
                actor="reminders",
            )
            update_case(case, due_reminder_for=case.due_on)
        sent["due_soon"] += 1
    return sent
