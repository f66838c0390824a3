"""Demo data shows every screen (issue 16): `seed_demo` then `seed_activity` (what `make run` does on an empty
database) leave cases in each status and regime with timelines, consent withdrawals, last year's disclosures
with their notice requests, a finished sweep with its certificate, an outbox with sent and failed notices and
a breach, the same for a seed."""

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from consent.models import ConsentEvent
from disclosures.models import DisclosureEvent, DisclosureNoticeRequest
from notices.models import Breach, Notice, NoticeStatus
from privacyops.demo_activity import CASES
from requests_app.models import CaseEvent, PrivacyRequest, Regime, Status
from retention.models import SweepRun


@pytest.mark.django_db
def test_seed_activity_fills_every_screen_deterministically(django_capture_on_commit_callbacks):
    call_command("seed_demo", subjects=80, seed=3, force=True, verbosity=0)
    with django_capture_on_commit_callbacks(execute=True):  # as in `make run`: queued work runs on commit
        call_command("seed_activity", seed=3, verbosity=0)
    statuses = set(PrivacyRequest.objects.values_list("status", flat=True))
    # (RECEIVED lasts only until intake sends the verification link: no case stays in it)
    assert {Status.VERIFYING, Status.IDENTITY_IN_DOUBT, Status.IN_PROGRESS, Status.COMPLETED,
            Status.DENIED, Status.WITHDRAWN} <= statuses  # fmt: skip
    assert set(Regime.values) <= set(PrivacyRequest.objects.values_list("regime", flat=True))
    assert CaseEvent.objects.count() > PrivacyRequest.objects.count()  # timelines
    assert ConsentEvent.objects.filter(action="withdraw").exists()
    assert DisclosureEvent.objects.exists() and DisclosureNoticeRequest.objects.exists()
    run = SweepRun.objects.get()
    assert run.finished_at is not None and run.certificate_id is not None
    assert Notice.objects.filter(status=NoticeStatus.SENT).exists() and Breach.objects.exists()
    # the failed notice is the delivery service's own record of a permanent refusal, audited, no address kept
    failed = Notice.objects.get(status=NoticeStatus.FAILED)
    assert failed.failed_at is not None and failed.attempts == 1 and failed.sent_at is None
    assert (
        failed.last_error.startswith("permanent failure: SMTPRecipientsRefused")
        and "550" in failed.last_error
    )
    assert "@" not in failed.last_error
    assert AuditEvent.objects.filter(action="notice.failed", target_id=str(failed.pk)).exists()
    # the cases are the table's, whatever the subjects: one per (type, regime, stage)
    assert sorted(PrivacyRequest.objects.values_list("type", "regime")) == sorted((t, r) for t, r, _ in CASES)
