"""After each sweep the privacy office gets a report through the notices outbox (operations_report)."""

import pytest

from notices.models import Notice
from retention import services
from retention.services import legal_hold_place

from . import factories as f


@pytest.mark.django_db
def test_a_finished_sweep_sends_one_report_to_the_privacy_office(
    settings, django_capture_on_commit_callbacks
):
    settings.PRIVACY_OFFICE_EMAIL = "dpo@example.com"
    owner = f.subject(name="Grace Hopper", email="grace@example.com")
    held = f.subject()
    f.activity(owner, f.ago(days=900))
    f.activity(held, f.ago(days=900))
    legal_hold_place(subject_id=held.pk, reason="Dispute", owner="Legal")
    with django_capture_on_commit_callbacks(execute=True):
        run = f.sweep()
    notice = Notice.objects.get(kind="operations_report")
    assert notice.to_email == "dpo@example.com" and notice.subject_id is None
    assert notice.idempotency_key == f"retention.sweep-report:{run.public_id}"
    assert "Retention sweep done: 1 records erased" in notice.email_subject
    assert "1 records erased, 1 kept under legal hold, 0 failed batches" in notice.body_text
    assert "activity: 1 erased, 1 kept under legal hold" in notice.body_text
    assert str(run.certificate.public_id) in notice.body_text
    assert f"/admin/retention/sweeprun/{run.pk}/" in notice.body_text
    assert "Grace" not in notice.body_text and "grace@example.com" not in notice.body_text


@pytest.mark.django_db
def test_the_report_is_sent_once_per_run(settings):
    run = f.sweep()
    from retention.reports import sweep_report_send

    assert sweep_report_send(run=run).pk == Notice.objects.get(kind="operations_report").pk
    services.sweep_finish(run_id=run.pk)  # finishing again changes nothing
    assert Notice.objects.filter(kind="operations_report").count() == 1


@pytest.mark.django_db
def test_reports_can_be_switched_off(settings):
    settings.RETENTION_SWEEP_REPORT = False
    f.sweep()
    assert not Notice.objects.filter(kind="operations_report").exists()
