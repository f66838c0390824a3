"""Policy versions: hashed, frozen once published, 'policy changed' notices in resumable batches."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError

from consent import outbox
from consent.models import PolicyVersion
from consent.services import (
    policy_change_notices_enqueue_batch,
    policy_text_sha256,
    policy_version_create,
    policy_version_publish,
    policy_version_update,
)
from consent.web_selectors import web_config_changed
from tests.consent.factories import grant, published_policy, withdraw
from tests.factories import DataSubjectFactory


@pytest.mark.django_db
def test_a_version_stores_the_sha256_of_its_text_with_normalised_line_endings():
    policy = policy_version_create(
        version="2026-02", effective_on=dt.date(2026, 2, 1), text="Line one\r\nLine two\n"
    )
    assert policy.sha256 == policy_text_sha256("Line one\nLine two")
    assert len(policy.sha256) == 64
    with pytest.raises(ValidationError, match="exactly this text"):
        policy_version_create(version="2026-03", effective_on=dt.date(2026, 3, 1), text="Line one\nLine two")


@pytest.mark.django_db
def test_a_published_version_is_frozen():
    policy = published_policy()
    with pytest.raises(ValidationError, match="published"):
        policy_version_update(policy_version=policy, changes={"text": "rewritten history"})
    with pytest.raises(ValidationError, match="already published"):
        policy_version_publish(policy_version_id=policy.pk)


@pytest.mark.django_db
def test_consent_events_point_at_the_published_version_shown():
    policy = published_policy(version="2026-05")
    event = grant(DataSubjectFactory(), policy_version="2026-05")
    assert event.policy_version_id == policy.pk
    draft = policy_version_create(version="draft", effective_on=dt.date(2026, 6, 1), text="Draft text")
    with pytest.raises(ValidationError, match="never published"):
        grant(DataSubjectFactory(), policy_version=draft.version)


@pytest.mark.django_db
def test_policy_change_notices_go_to_consenting_subjects_in_resumable_batches(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        outbox, "policy_changed_enqueue_many", lambda **kw: sent.extend(s.pk for s in kw["subjects"])
    )
    consenting = [DataSubjectFactory() for _ in range(5)]
    for s in consenting:
        grant(s)
    withdrawn = DataSubjectFactory()
    grant(withdrawn)
    withdraw(withdrawn)
    DataSubjectFactory()  # never consented
    policy = policy_version_create(version="2026-07", effective_on=dt.date(2026, 7, 1), text="New text")
    policy_version_publish(policy_version_id=policy.pk, notify_audience="")  # no notice wanted
    assert policy_change_notices_enqueue_batch(policy_version_id=policy.pk) is False and sent == []

    policy = policy_version_create(version="2026-08", effective_on=dt.date(2026, 8, 1), text="Newer text")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        policy_version_publish(policy_version_id=policy.pk, notify_audience="consenting")
    # the first batch is queued only once the publication commits (next to the web config's refresh)
    assert len([c for c in callbacks if c is not web_config_changed]) == 1
    assert policy_change_notices_enqueue_batch(policy_version_id=policy.pk, batch_size=2) is True
    assert policy_change_notices_enqueue_batch(policy_version_id=policy.pk, batch_size=2) is True
    assert policy_change_notices_enqueue_batch(policy_version_id=policy.pk, batch_size=2) is False
    assert sorted(sent) == sorted(s.pk for s in consenting)
    policy.refresh_from_db()
    assert policy.notified_count == 5 and policy.notify_completed_at is not None
    assert policy_change_notices_enqueue_batch(policy_version_id=policy.pk, batch_size=2) is False
    assert len(sent) == 5


@pytest.mark.django_db
def test_the_notify_task_requeues_itself_until_every_subject_is_done(
    monkeypatch, django_capture_on_commit_callbacks
):
    from consent.tasks import policy_change_notify

    sent = []
    monkeypatch.setattr(
        outbox, "policy_changed_enqueue_many", lambda **kw: sent.extend(s.pk for s in kw["subjects"])
    )
    subjects = [DataSubjectFactory() for _ in range(5)]
    policy = policy_version_create(version="2026-09", effective_on=dt.date(2026, 9, 1), text="Text nine")
    with django_capture_on_commit_callbacks(execute=False):
        policy_version_publish(policy_version_id=policy.pk, notify_audience="all")
    policy_change_notify.delay(policy.pk, 2)  # eager: 3 batches, chained
    assert sorted(sent) == sorted(s.pk for s in subjects)
    assert PolicyVersion.objects.get(pk=policy.pk).notify_completed_at is not None


@pytest.mark.django_db
def test_policy_change_notices_are_bulk_enqueued_one_audit_event_per_batch_in_constant_statements(
    django_capture_on_commit_callbacks,
):
    """Issue 19: each batch goes through notices' bulk enqueue; N and 3N subjects cost the same statements,
    and running a finished notification again writes nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit.models import AuditEvent
    from notices.models import Notice, NoticeKind

    counts = []
    for n, version in ((4, "2026-10"), (12, "2026-11")):
        subjects = [DataSubjectFactory() for _ in range(n)]
        policy = policy_version_create(
            version=version, effective_on=dt.date(2026, 10, 1), text=f"Text {version}"
        )
        with django_capture_on_commit_callbacks(execute=False):
            policy_version_publish(policy_version_id=policy.pk, notify_audience="all")
        before = AuditEvent.objects.filter(action="notice.enqueued_batch").count()
        with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks(execute=False):
            assert policy_change_notices_enqueue_batch(policy_version_id=policy.pk, batch_size=100) is False
        counts.append(len(ctx.captured_queries))
        notices = Notice.objects.filter(kind=NoticeKind.POLICY_CHANGED)
        assert {s.pk for s in subjects} <= set(notices.values_list("subject_id", flat=True))
        assert AuditEvent.objects.filter(action="notice.enqueued_batch").count() == before + 1
    assert counts[0] == counts[1], counts
    PolicyVersion.objects.filter(pk=policy.pk).update(
        notify_cursor=0, notify_completed_at=None, notified_count=0
    )
    total = Notice.objects.count()
    with django_capture_on_commit_callbacks(execute=False):
        policy_change_notices_enqueue_batch(policy_version_id=policy.pk, batch_size=100)
    assert Notice.objects.count() == total  # a rerun of the same version writes nothing new


@pytest.mark.django_db
def test_the_version_in_force_changes_at_midnight_in_the_business_calendar_not_utcs():
    """22:30 Pacific on 31 December is 1 January in UTC: the banner still links the old version."""
    from consent.web_selectors import current_policy_version

    old = published_policy(version="2026-12")
    new = policy_version_create(version="2027-01", effective_on=dt.date(2027, 1, 1), text="The 2027 policy")
    policy_version_publish(policy_version_id=new.pk)
    with time_machine.travel(dt.datetime(2027, 1, 1, 6, 30, tzinfo=dt.UTC), tick=False):
        assert current_policy_version().pk == old.pk
    with time_machine.travel(dt.datetime(2027, 1, 1, 8, 30, tzinfo=dt.UTC), tick=False):
        assert current_policy_version().pk == new.pk
