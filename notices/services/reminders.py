"""Reminders to the privacy office: breach clocks about to run out or overdue."""

from django.db import transaction

from core import clock

from .. import conf
from ..models import NoticeKind
from ..selectors import breach_open_clocks
from .enqueue import outbox_insert


def breach_clock_reminders() -> int:
    """Remind the privacy office (operations_report) of breach clocks about to run out or overdue.

    One reminder per breach, clock and day (the idempotency key carries the date).
    """
    office = conf.privacy_office_email()
    if not office:
        return 0
    sent = 0
    today = clock.business_today().isoformat()  # the privacy office's day
    for item in breach_open_clocks():
        if not item.needs_reminder:
            continue
        with transaction.atomic():
            _, created = outbox_insert(
                kind=NoticeKind.OPERATIONS_REPORT,
                idempotency_key=f"breach:{item.breach_id}:{item.code}:reminder:{today}",
                context={
                    "title": f"Breach clock: {item.label} {'overdue' if item.overdue else 'due soon'}",
                    "summary": f"Breach {item.reference}: {item.action} by {item.due:%Y-%m-%d %H:%M} UTC "
                    f"({item.source}).",
                    "items": [],
                    "link": item.admin_url,
                },
                to_email=office,
                actor="notices.breach_clock_reminders",
            )
            sent += created
    return sent
