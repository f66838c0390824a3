"""Issue 14 item 12: receipt dates and "today" are the business's own (PRIVACY_TIME_ZONE), not UTC's."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from requests_app import deadlines
from requests_app.models import PrivacyRequest, Regime, RequestType, Status
from requests_app.selectors import case_deadlines, cases_overdue

from .factories import make_case

# Thursday 15 January 2026, 16:30 in Los Angeles = Friday 16 January, 00:30 UTC.
PACIFIC_AFTERNOON = datetime(2026, 1, 16, 0, 30, tzinfo=UTC)


def test_the_default_business_time_zone_is_pacific(settings):
    del settings.PRIVACY_TIME_ZONE
    assert deadlines.received_on(PACIFIC_AFTERNOON) == date(2026, 1, 15)


def test_the_setting_moves_the_receipt_date(settings):
    settings.PRIVACY_TIME_ZONE = "UTC"
    assert deadlines.received_on(PACIFIC_AFTERNOON) == date(2026, 1, 16)
    settings.PRIVACY_TIME_ZONE = "America/Los_Angeles"
    assert deadlines.received_on(PACIFIC_AFTERNOON) == date(2026, 1, 15)


@pytest.mark.django_db
def test_a_late_pacific_afternoon_ccpa_request_is_received_that_day_not_utcs_next():
    with time_machine.travel(PACIFIC_AFTERNOON, tick=False):
        case = make_case(regime=Regime.CCPA, request_type=RequestType.ERASURE)
    # 45 calendar days from Thu 15 Jan (day 0) = Sun 1 Mar; UTC's date would have given 2 Mar.
    assert case.due_on == date(2026, 3, 1)
    # 10 business days after Thu 15 Jan, skipping MLK day (19 Jan) = Fri 30 Jan (UTC's date: Mon 2 Feb).
    assert case.acknowledge_due_on == date(2026, 1, 30)
    assert case_deadlines(case).received_on == date(2026, 1, 15)


@pytest.mark.django_db
def test_a_ccpa_opt_out_counts_15_business_days_from_the_pacific_date():
    with time_machine.travel(PACIFIC_AFTERNOON, tick=False):
        case = make_case(regime=Regime.CCPA, request_type=RequestType.OPT_OUT)
    # From Thu 15 Jan: 16, 20 (19 is MLK day), 21, 22, 23, 26-30, 2-6 Feb -> the 15th is Fri 6 Feb
    # (from UTC's Fri 16 Jan it would be Mon 9 Feb).
    assert case.due_on == date(2026, 2, 6)


@pytest.mark.django_db
def test_overdue_is_judged_on_the_business_date():
    with time_machine.travel(datetime(2026, 3, 2, 20, 0, tzinfo=UTC), tick=False):
        case = make_case(regime=Regime.GDPR)  # received 2 March (Pacific), due 2 April
    assert case.due_on == date(2026, 4, 2)
    # 3 April 02:00 UTC is still 2 April in California: due today, not overdue.
    with time_machine.travel(datetime(2026, 4, 3, 2, 0, tzinfo=UTC), tick=False):
        assert not cases_overdue().filter(pk=case.pk).exists()
        assert case_deadlines(case).state == "due_soon"
    with time_machine.travel(datetime(2026, 4, 3, 9, 0, tzinfo=UTC), tick=False):
        assert cases_overdue().filter(pk=case.pk).exists()


@pytest.mark.django_db
def test_the_public_form_dates_a_pacific_afternoon_request_that_day(
    client, django_capture_on_commit_callbacks
):
    with time_machine.travel(PACIFIC_AFTERNOON, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/requests/new/",
            {
                "request_type": "erasure",
                "regime": "ccpa",
                "subject_email": "pacific.person@example.com",
                "subject_name": "Pacific Person",
                "subject_phone": "",
                "description": "Delete my data",
                "requester_kind": "subject",
                "website": "",
            },
        )
    assert response.status_code == 302
    case = PrivacyRequest.objects.get()
    assert case.status in (Status.VERIFYING, Status.RECEIVED)
    assert case.due_on == date(2026, 3, 1)
