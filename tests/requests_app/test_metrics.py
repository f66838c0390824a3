"""The §7102 metrics report and the dashboard cards."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.test import RequestFactory

from requests_app import services
from requests_app.dashboard import dashboard_cards
from requests_app.models import DenialBasis, PrivacyRequest, RequestType, Status
from requests_app.selectors import dashboard_figures, request_metrics

from .factories import make_case


def _close(case, status, when):
    PrivacyRequest.objects.filter(pk=case.pk).update(
        status=status, closed_at=when, denial_basis=DenialBasis.OTHER if status == Status.DENIED else ""
    )


@pytest.fixture
def year_of_cases():
    with time_machine.travel(datetime(2026, 2, 1, tzinfo=UTC), tick=False):
        a = make_case(request_type=RequestType.ACCESS)
        b = make_case(request_type=RequestType.ACCESS)
        c = make_case(request_type=RequestType.ACCESS)
        d = make_case(request_type=RequestType.ERASURE)
    with time_machine.travel(datetime(2025, 6, 1, tzinfo=UTC), tick=False):
        make_case(request_type=RequestType.ERASURE)  # another year
    _close(a, Status.COMPLETED, datetime(2026, 2, 11, tzinfo=UTC))  # 10 days
    _close(b, Status.COMPLETED, datetime(2026, 2, 21, tzinfo=UTC))  # 20 days
    _close(c, Status.DENIED, datetime(2026, 2, 4, tzinfo=UTC))  # 3 days
    return a, b, c, d


@pytest.mark.django_db
def test_metrics_count_received_complied_denied_and_median_days_per_type(year_of_cases):
    rows = {r.request_type: r for r in request_metrics(year=2026)}
    access, erasure = rows["access"], rows["erasure"]
    assert (access.received, access.complied, access.denied) == (3, 2, 1)
    assert access.median_days_to_respond == 10.0
    assert access.mean_days_to_respond == 11.0
    assert (erasure.received, erasure.complied, erasure.denied, erasure.median_days_to_respond) == (
        1,
        0,
        0,
        None,
    )
    assert set(rows) == set(RequestType.values)


@pytest.mark.django_db
def test_request_metrics_command_prints_the_table_and_csv(year_of_cases, capsys):
    call_command("request_metrics", "--year", "2026")
    out = capsys.readouterr().out
    assert "11 CCR §7102" in out
    assert "Access (right to know)" in out
    call_command("request_metrics", "--year", "2026", "--csv")
    csv_out = capsys.readouterr().out
    assert "access,Access (right to know),3,2,1,10.0,11.0" in csv_out


@pytest.mark.django_db
def test_admin_metrics_download_is_a_csv_for_officers_only(year_of_cases, client, officer, django_user_model):
    client.force_login(officer)
    response = client.get("/admin/requests_app/privacyrequest/metrics/?year=2026")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert b"access,Access (right to know),3,2,1" in response.content
    nobody = django_user_model.objects.create_user(username="nobody", password="x" * 16, is_staff=True)
    client.force_login(nobody)
    assert client.get("/admin/requests_app/privacyrequest/metrics/?year=2026").status_code == 403


@pytest.mark.django_db
def test_dashboard_cards_show_open_by_status_due_overdue_and_median(officer, django_assert_max_num_queries):
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        overdue = make_case(request_type=RequestType.ERASURE)  # due 1 April
        done = make_case(request_type=RequestType.ERASURE)
    with time_machine.travel(datetime(2026, 3, 28, tzinfo=UTC), tick=False):
        make_case(request_type=RequestType.ERASURE)
        services.request_withdraw(case=done, reason="withdrawn", actor=officer)
    _close(done, Status.COMPLETED, datetime(2026, 3, 8, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 4, 3, tzinfo=UTC), tick=False):
        figures = dashboard_figures()
        assert figures.overdue == 1
        assert figures.open_by_status[Status.VERIFYING] == 2
        assert figures.median_days_to_close == 7.0
        request = RequestFactory().get("/admin/")
        request.user = officer
        with django_assert_max_num_queries(8):
            cards = {c.title: c for c in dashboard_cards(request)}
    assert cards["Overdue"].value == 1 and cards["Overdue"].level == "danger"
    assert "due=overdue" in cards["Overdue"].url
    assert overdue.pk


@pytest.mark.django_db
def test_the_admin_index_shows_the_case_cards(client, officer):
    make_case(request_type=RequestType.ERASURE)
    client.force_login(officer)
    page = client.get("/admin/").content.decode()
    assert "Privacy requests" in page
    for title in ("Open: Verifying identity", "Due this week", "Overdue", "Median days to close"):
        assert title in page


@pytest.mark.django_db
def test_metrics_count_a_request_in_the_year_it_was_received_in_california():
    """Received at 20:00 Pacific on 31 December 2025 (04:00 on 1 January 2026 in UTC): a 2025 request,
    as its deadlines count it."""
    with time_machine.travel(datetime(2026, 1, 1, 4, 0, tzinfo=UTC), tick=False):
        make_case(request_type=RequestType.ACCESS)
    assert {r.request_type: r.received for r in request_metrics(year=2025)}["access"] == 1
    assert {r.request_type: r.received for r in request_metrics(year=2026)}["access"] == 0
