"""Reminders: unassigned after 5 days to the privacy office; 5 days before due to the assignee; once each."""

from datetime import UTC, datetime

import pytest
import time_machine

from requests_app import services
from requests_app.models import RequestType
from requests_app.tasks import send_reminders

from .factories import make_case


def _at(y, m, d):
    # Noon in California (the business time zone counts the days: PRIVACY_TIME_ZONE).
    return time_machine.travel(datetime(y, m, d, 20, 0, tzinfo=UTC), tick=False)


@pytest.mark.django_db
def test_unassigned_case_reminds_the_privacy_office_after_five_days_once(outbox, settings):
    with _at(2026, 3, 2):
        case = make_case(request_type=RequestType.ERASURE)
    with _at(2026, 3, 6):
        assert send_reminders.delay().get() == {"unassigned": 0, "due_soon": 0}
    with _at(2026, 3, 7):
        assert send_reminders.delay().get() == {"unassigned": 1, "due_soon": 0}
        assert send_reminders.delay().get() == {"unassigned": 0, "due_soon": 0}
    notice = outbox.last("assignee_reminder")
    assert notice["to_email"] == settings.PRIVACY_OFFICE_EMAIL
    assert notice["context"]["reference"] == str(case.reference)


@pytest.mark.django_db
def test_assignee_is_reminded_five_days_before_due_and_again_after_an_extension(outbox, officer):
    with _at(2026, 3, 2):
        case = make_case(request_type=RequestType.ERASURE)  # GDPR: due 2 April
        services.request_assign(case=case, assignee=officer, actor=officer)
    with _at(2026, 3, 27):
        assert send_reminders.delay().get()["due_soon"] == 0
    with _at(2026, 3, 28):
        services.request_extend(case=case, reason="Complex", actor=officer)  # due 2 June
    with _at(2026, 5, 28):
        assert send_reminders.delay().get()["due_soon"] == 1
        assert send_reminders.delay().get()["due_soon"] == 0
    assert outbox.last("assignee_reminder")["to_email"] == "olivia@example.com"
