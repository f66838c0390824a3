"""Manual systems: a task mailed to the owner, a signed page to answer, reminders, escalation, waiver."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from connectors.manual import manual_due_on, manual_tasks_remind, token_for
from connectors.models import SystemRun
from connectors.selectors import case_manual_uploads
from connectors.services import case_systems_plan, case_systems_settled, connection_save, system_run_waive
from inventory.models import System

CASE_DUE = dt.date(2026, 3, 31)


@pytest.fixture
def erp(db):
    system = System.objects.create(code="erp", name="Legacy ERP", kind="external", owner="Finance")
    connection_save(system=system, kind="manual", owner_email="erp-owner@example.com", actor="test")
    return system


def _plan(erp, action="access"):
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False):
        [run] = case_systems_plan(
            case_id=5, action=action, identities={"email": ["jane@example.com"]}, systems=[erp],
            case_due_on=CASE_DUE,
        )  # fmt: skip
    run.refresh_from_db()
    return run


@pytest.mark.django_db(transaction=True)
def test_the_owner_gets_a_signed_link_due_ahead_of_the_case(erp, mailoutbox):
    run = _plan(erp)
    assert run.status == "pending" and run.due_on == dt.date(2026, 3, 24)
    [mail] = mailoutbox
    assert mail.to == ["erp-owner@example.com"]
    assert reverse("connectors:manual_task", args=[token_for(run)]).split("/task/")[0] in mail.body
    assert "jane@example.com" not in mail.body  # the identity is on the page, behind the link
    assert not case_systems_settled(case_id=5)


@pytest.mark.django_db
def test_the_owner_reports_no_data_on_the_page(erp, client):
    run = _plan(erp)
    url = reverse("connectors:manual_task", args=[token_for(run)])
    page = client.get(url)
    assert b"jane@example.com" in page.content
    response = client.post(url, {"outcome": "no_data"})
    assert response.status_code == 200 and b"settled" in response.content
    run.refresh_from_db()
    assert run.status == "done" and run.counts == {"manual": "no_data"}
    assert case_systems_settled(case_id=5)


@pytest.mark.django_db
def test_an_uploaded_export_is_sealed_and_joins_the_package(erp, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    run = _plan(erp)
    url = reverse("connectors:manual_task", args=[token_for(run)])
    client.post(url, {"outcome": "upload", "file": SimpleUploadedFile("export.csv", b"name\nJane Roe\n")})
    run.refresh_from_db()
    assert run.status == "done" and b"Jane" not in run.upload.encode()
    [upload] = case_manual_uploads(case_id=5)
    assert (upload.system_code, upload.file_name, upload.content) == (
        "erp",
        "export.csv",
        b"name\nJane Roe\n",
    )


@pytest.mark.django_db
def test_a_forged_link_is_refused(client):
    assert client.get(reverse("connectors:manual_task", args=["forged"])).status_code == 404


@pytest.mark.django_db
def test_reminder_before_the_due_date_then_escalation_once_overdue(erp, mailoutbox):
    _plan(erp)
    mailoutbox.clear()
    assert manual_tasks_remind(today=dt.date(2026, 3, 20)) == {"reminded": 0, "escalated": 0}
    assert manual_tasks_remind(today=dt.date(2026, 3, 22)) == {"reminded": 1, "escalated": 0}
    assert manual_tasks_remind(today=dt.date(2026, 3, 23)) == {"reminded": 0, "escalated": 0}
    assert manual_tasks_remind(today=dt.date(2026, 3, 25)) == {"reminded": 0, "escalated": 1}
    assert manual_tasks_remind(today=dt.date(2026, 3, 26)) == {"reminded": 0, "escalated": 0}
    assert [m.subject.split(":")[0] for m in mailoutbox] == ["Reminder", "Overdue"]


@pytest.mark.django_db
def test_an_open_task_blocks_the_case_until_an_officer_waives_it(erp):
    run = _plan(erp, action="erasure")
    assert not case_systems_settled(case_id=5)
    system_run_waive(run_id=run.pk, actor="officer", reason="ERP holds no personal data since 2024.")
    assert case_systems_settled(case_id=5)
    assert SystemRun.objects.get(pk=run.pk).status == "waived"


@pytest.mark.django_db
def test_a_worker_leaves_a_manual_run_to_its_owner(erp, mailoutbox):
    from connectors.services import system_run_execute

    run = _plan(erp, action="erasure")
    returned = system_run_execute(run_id=run.pk)  # a stray task: nothing to run, nothing recorded
    assert returned.pk == run.pk and returned.status == "pending" and returned.attempts == 0
    assert list(run.events.values_list("kind", flat=True)) == ["planned"]


@pytest.mark.parametrize(
    ("case_due_on", "expected"),
    [
        (None, dt.date(2026, 3, 9)),
        (dt.date(2026, 3, 20), dt.date(2026, 3, 13)),
        (dt.date(2026, 3, 5), dt.date(2026, 3, 2)),
    ],
)
def test_manual_task_due_dates_follow_the_business_calendar_when_utc_is_a_day_ahead(
    settings, case_due_on, expected
):
    """19:00 Pacific on 2 March is 3 March in UTC: "today" for a task, as for its case, is 2 March."""
    settings.CONNECTORS_MANUAL_LEAD_DAYS = 7
    with time_machine.travel(dt.datetime(2026, 3, 3, 3, 0, tzinfo=dt.UTC), tick=False):
        assert manual_due_on(case_due_on) == expected
