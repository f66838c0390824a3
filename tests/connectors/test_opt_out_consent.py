"""A withdrawal or unsubscribe outside a case reaches every system with an unsubscribe operation."""

import hashlib
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from connectors import http
from connectors.models import RunEvent, SystemRun
from connectors.services import connection_save
from connectors.tasks import opt_out_run  # noqa: F401  (registered before the real worker starts)
from consent.services import consent_withdraw_purposes
from consent.tokens import make_token
from inventory.models import System
from tests.consent.factories import grant
from tests.factories import DataSubjectFactory

from . import fake_apis

SHIPPED = Path(http.__file__).parent / "shipped"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def api():
    server, state, base = fake_apis.start()
    yield state, base
    server.shutdown()
    server.server_close()


def _mailchimp(base, extra=""):
    system = System.objects.create(code="mailchimp", name="Mailchimp", kind="external", owner="Marketing")
    secrets = {
        "api_key": fake_apis.MAILCHIMP_KEY,
        "list_id": "L1",
        "data_center": "us1",
        "base_url": f"{base}/3.0",
    }
    config = (SHIPPED / "mailchimp.yml").read_text() + extra
    connection_save(system=system, kind="http", config=config, secrets=secrets, actor="test")
    return system


def _subscribed(email="jane@example.com"):
    subject = DataSubjectFactory(email=email)
    grant(subject, "marketing_email")
    return subject


def _md5(value):
    return hashlib.md5(value.encode()).hexdigest()


def _settled(run_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = SystemRun.objects.get(pk=run_id)
        if run.status == "done":
            return run
        time.sleep(0.2)
    return SystemRun.objects.get(pk=run_id)


# The worker thread writes the run while the test reads it: SQLite's shared-cache test database locks
# the table (`database table is locked`), so this real-worker test runs on PostgreSQL.
@pytest.mark.postgres
def test_an_unsubscribe_link_reaches_the_system_and_a_500_is_retried_and_recorded(celery_worker, api):
    state, base = api
    # No in-request retries: the 500 fails the first attempt, which the task retries (PrivacyTask policy).
    mailchimp = _mailchimp(base, "\nretries: 0\nretry_base_seconds: 0\n")
    state.add_member("jane@example.com", FNAME="Jane")
    state.fault("/3.0/lists", 500)
    jane = _subscribed()
    token = make_token(subject_public_id=jane.public_id, purpose="marketing_email")

    response = Client(enforce_csrf_checks=True).post(reverse("consent:unsubscribe", args=[token]), ONE_CLICK)

    assert response.status_code == 200
    run = SystemRun.objects.get(system=mailchimp, subject=jane, action="opt_out", case_id=None)
    run = _settled(run.pk)
    assert run.status == "done" and run.attempts == 2 and run.error == "" and run.identities == ""
    kinds = list(RunEvent.objects.filter(run=run).values_list("kind", "note"))
    assert ("failed", "HttpError: unsubscribe list_members: HTTP 500 after 1 attempt(s)") in kinds
    assert kinds[-1][0] == "done"
    assert state.members[_md5("jane@example.com")]["status"] == "unsubscribed"
    assert [c for c in state.calls if c[0] == "PATCH"] == [
        ("PATCH", f"/3.0/lists/L1/members/{_md5('jane@example.com')}")
    ] * 2


@pytest.mark.django_db
def test_a_withdrawal_outside_a_case_reaches_the_system_once_committed(
    api, django_capture_on_commit_callbacks
):
    state, base = api
    mailchimp = _mailchimp(base)
    state.add_member("jane@example.com", FNAME="Jane")
    jane = _subscribed()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        consent_withdraw_purposes(subject_id=jane.pk, purposes=["marketing_email"], channel="email_link")
    run = SystemRun.objects.get(system=mailchimp, subject=jane, action="opt_out", case_id=None)
    assert run.status == "pending" and "jane" not in run.identities  # sealed; the task is given the id
    assert not state.calls  # nothing is sent before the withdrawal commits
    for callback in callbacks:
        callback()
    run.refresh_from_db()
    assert run.status == "done" and run.counts
    assert state.members[_md5("jane@example.com")]["status"] == "unsubscribed"


@pytest.mark.django_db
def test_withdrawing_a_purpose_that_is_not_marketing_tells_no_system(api):
    from consent.models import Purpose

    _, base = api
    _mailchimp(base)
    jane = _subscribed()
    purpose = Purpose.objects.filter(is_marketing=False, required=False).first()
    if purpose is None:
        pytest.skip("no non-marketing optional purpose seeded")
    grant(jane, purpose.code)
    consent_withdraw_purposes(subject_id=jane.pk, purposes=[purpose.code], channel="email_link")
    assert not SystemRun.objects.filter(subject=jane).exists()


@pytest.mark.django_db
def test_a_repeated_withdrawal_or_a_case_withdrawal_adds_no_run(api):
    _, base = api
    _mailchimp(base)
    jane = _subscribed()
    consent_withdraw_purposes(subject_id=jane.pk, purposes=["marketing_email"], channel="email_link")
    consent_withdraw_purposes(subject_id=jane.pk, purposes=["marketing_email"], channel="email_link")
    assert SystemRun.objects.filter(subject=jane).count() == 1  # already withdrawn: nothing new to tell
    john = _subscribed("john@example.com")
    consent_withdraw_purposes(subject_id=john.pk, purposes=["marketing_email"], channel="email_link",
                              propagate=False)  # fmt: skip
    assert not SystemRun.objects.filter(subject=john).exists()  # a case plans its own per-case runs


@pytest.mark.django_db
def test_an_opt_out_in_a_csv_import_reaches_the_system(api, django_capture_on_commit_callbacks):
    """Imports write through the same ledger service as the link: their withdrawals are told too, once
    per subject, and an import's grants are not."""
    from consent.services import consent_import_csv

    state, base = api
    mailchimp = _mailchimp(base)
    state.add_member("jane@example.com", FNAME="Jane")
    jane = _subscribed()
    john = _subscribed("john@example.com")
    content = (
        b"email,purpose,action,at\n"
        b"jane@example.com,marketing_email,withdraw,2026-01-02T10:00:00Z\n"
        b"john@example.com,marketing_email,grant,2026-01-02T10:00:00Z\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        consent_import_csv(content=content, file_name="crm-export.csv", actor="test")
    run = SystemRun.objects.get(system=mailchimp, subject=jane, action="opt_out", case_id=None)
    assert run.status == "done"
    assert state.members[_md5("jane@example.com")]["status"] == "unsubscribed"
    assert not SystemRun.objects.filter(subject=john).exists()
