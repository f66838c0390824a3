"""Notices are personal data in the registry; roles; schedules point at real tasks."""

import pytest
from django.contrib.auth.models import Group

from inventory.registry import HASH, NULL, registry
from notices.models import Notice, NoticeStatus
from notices.services import notice_deliver
from privacyops.celery import app
from privacyops.schedules import default_schedules

from .factories import enqueue_ack


def test_notice_is_registered_as_contact_data_with_address_hashed_and_text_emptied():
    entry = registry.get(Notice)
    assert entry.category == "contact" and entry.subject == "subject" and not entry.append_only
    assert entry.field_strategies == {
        "to_email": HASH, "email_subject": NULL, "body_text": NULL, "body_html": NULL, "headers": NULL,
        "last_error": NULL,
    }  # fmt: skip


@pytest.mark.django_db
def test_erasing_by_the_registry_strategies_works_and_the_notice_is_then_never_sent(subject):
    notice = enqueue_ack(subject)
    entry = registry.get(Notice)
    values = {
        name: ("e" * 64 if strategy == HASH else None) for name, strategy in entry.field_strategies.items()
    }
    assert entry.for_subject(subject.pk).update(**values) == 1  # every field accepts its erased value
    assert notice_deliver(notice_id=notice.pk).result == "cancelled"
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.CANCELLED and notice.body_text is None


@pytest.mark.django_db
def test_officers_manage_analysts_and_auditors_only_view():
    def perms(role):
        group = Group.objects.get(name=role)
        return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
                if p.content_type.app_label == "notices"}  # fmt: skip

    officer = perms("Privacy officer")
    assert {"notices.change_noticetemplate", "notices.retry_notice", "notices.notify_breach",
            "notices.change_breach"} <= officer  # fmt: skip
    assert not {"notices.change_notice", "notices.delete_notice", "notices.add_notice"} & officer
    for role in ("Analyst", "Auditor"):
        assert perms(role) == {"notices.view_noticetemplate", "notices.view_notice", "notices.view_breach"}


def test_default_schedules_name_registered_tasks():
    ours = [s for s in default_schedules() if s.task.startswith("notices.")]
    assert {s.task for s in ours} == {
        "notices.sweep_outbox", "notices.resume_breach_notifications", "notices.breach_clock_reminders",
    }  # fmt: skip
    app.loader.import_default_modules()
    assert all(s.task in app.tasks for s in ours)
