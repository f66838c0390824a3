"""The retention admin: previews before saving, writes through services, sweep-now, read-only evidence."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from retention.models import ErasureCertificate, ErasureJournal, LegalHold, RetentionSchedule, SweepRun
from retention.services import erase_subject
from tests.factories import make_full_subject

from . import factories as f


def _schedule_form(schedule: RetentionSchedule, **changes) -> dict:
    data = {
        "category": schedule.category_id,
        "model_label": schedule.model_label,
        "system": "",
        "source": "",
        "period_months": schedule.period_months,
        "period_days": schedule.period_days,
        "anchor": schedule.anchor,
        "action": schedule.action,
        "legal_basis": schedule.legal_basis,
        "citation": schedule.citation,
        "is_default": "on" if schedule.is_default else "",
        "active": "on" if schedule.active else "",
        "_save": "Save",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}  # unchecked boxes and empty selects are not posted


@pytest.mark.django_db
def test_editing_a_schedule_first_shows_what_it_would_erase_now_and_saves_nothing(admin_client):
    owner = f.subject()
    for days in (100, 400, 800):
        f.activity(owner, f.ago(days=days))
    schedule = RetentionSchedule.objects.get(category__code="activity", is_default=True)
    url = reverse("admin:retention_retentionschedule_change", args=[schedule.pk])
    response = admin_client.post(url, _schedule_form(schedule, period_months=6))
    assert response.status_code == 200
    assert "This change would erase 2 records now" in response.content.decode()
    assert RetentionSchedule.objects.get(pk=schedule.pk).period_months == 24
    assert not AuditEvent.objects.filter(action="retention.schedule.updated").exists()


@pytest.mark.django_db
def test_confirming_saves_through_the_service_and_audits(admin_client):
    schedule = RetentionSchedule.objects.get(category__code="activity", is_default=True)
    url = reverse("admin:retention_retentionschedule_change", args=[schedule.pk])
    response = admin_client.post(url, _schedule_form(schedule, period_months=18, _confirmed="1"))
    assert response.status_code == 302
    assert RetentionSchedule.objects.get(pk=schedule.pk).period_months == 18
    event = AuditEvent.objects.get(action="retention.schedule.updated")
    assert event.actor_label == "admin" and event.details["changes"]["period_months"] == {
        "from": 24,
        "to": 18,
    }


@pytest.mark.django_db
def test_an_invalid_schedule_shows_the_registry_message_on_the_form(admin_client):
    schedule = RetentionSchedule.objects.get(category__code="activity", is_default=True)
    url = reverse("admin:retention_retentionschedule_change", args=[schedule.pk])
    response = admin_client.post(url, _schedule_form(schedule, anchor="closed"))
    assert response.status_code == 200
    assert "No record in this scope records the event" in response.content.decode()


@pytest.mark.django_db
def test_adding_a_schedule_previews_then_creates_it(admin_client):
    url = reverse("admin:retention_retentionschedule_add")
    category = RetentionSchedule.objects.get(category__code="activity").category
    data = {"category": category.pk, "model_label": "inventory.ActivityEvent", "period_days": 90,
            "period_months": 0, "anchor": "collected", "action": "delete", "legal_basis": "Short-lived logs",
            "citation": "Policy §8", "active": "on", "_save": "Save"}  # fmt: skip
    preview = admin_client.post(url, data)
    assert "This change would erase no records now" in preview.content.decode()
    assert not RetentionSchedule.objects.filter(period_days=90).exists()
    created = admin_client.post(url, {**data, "_confirmed": "1"})
    assert created.status_code == 302
    assert RetentionSchedule.objects.filter(period_days=90, model_label="inventory.ActivityEvent").exists()
    assert AuditEvent.objects.filter(action="retention.schedule.created").exists()


@pytest.mark.django_db
def test_schedules_and_holds_cannot_be_deleted_in_the_admin(admin_client):
    schedule = RetentionSchedule.objects.first()
    response = admin_client.get(reverse("admin:retention_retentionschedule_delete", args=[schedule.pk]))
    assert response.status_code == 403


@pytest.mark.django_db
def test_sweep_now_queues_a_run_through_the_service(admin_client, django_capture_on_commit_callbacks):
    owner = f.subject()
    f.activity(owner, f.ago(days=900))
    url = reverse("admin:retention_sweeprun_sweep_now")
    assert "Yes, erase 1 record now" in admin_client.post(url).content.decode()  # confirmation first
    assert not SweepRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"confirm": "yes", "count": "1"}, follow=True)
    assert "Sweep now" in admin_client.get(reverse("admin:retention_sweeprun_changelist")).content.decode()
    run = SweepRun.objects.get()
    assert run.trigger == SweepRun.Trigger.ADMIN and run.actor_label == "admin"
    assert run.status == SweepRun.Status.DONE and run.erased_count == 1  # eager workers in tests
    assert "queued" in response.content.decode()


@pytest.mark.django_db
def test_sweep_now_needs_the_run_sweep_permission(client, django_user_model):
    user = django_user_model.objects.create_user(username="analyst", password="x" * 12, is_staff=True)
    client.force_login(user)
    response = client.post(reverse("admin:retention_sweeprun_sweep_now"))
    assert response.status_code == 403
    assert not SweepRun.objects.exists()


@pytest.mark.django_db
def test_the_schedule_action_sweeps_only_the_selected_schedules(
    admin_client, django_capture_on_commit_callbacks
):
    owner = f.subject()
    f.activity(owner, f.ago(days=900))
    f.marketing(owner, f.ago(days=900))
    activity = RetentionSchedule.objects.get(category__code="activity", is_default=True)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:retention_retentionschedule_changelist"),
            {"action": "sweep_selected_now", "_selected_action": [activity.pk]},
        )
    run = SweepRun.objects.get()
    assert run.schedule_ids == [activity.pk]
    assert set(run.summary) == {"activity"}


@pytest.mark.django_db
def test_the_dry_run_page_counts_and_changes_nothing(admin_client):
    owner = f.subject()
    f.activity(owner, f.ago(days=900))
    response = admin_client.get(reverse("admin:retention_sweeprun_preview"))
    assert "A sweep now would erase 1 record" in response.content.decode()
    assert not SweepRun.objects.exists()


@pytest.mark.django_db
def test_placing_and_releasing_a_hold_in_the_admin_goes_through_the_services(admin_client):
    owner = f.subject()
    response = admin_client.post(
        reverse("admin:retention_legalhold_add"),
        {"subject": owner.pk, "case_reference": "case-7", "exception_code": "art17_3_e", "reason": "Lawsuit"},
    )
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    assert hold.owner_label == "admin" and hold.placed_at is not None
    assert AuditEvent.objects.filter(action="retention.hold.placed", subject_id=owner.pk).exists()
    changelist = reverse("admin:retention_legalhold_changelist")
    ask = admin_client.post(changelist, {"action": "release_selected", "_selected_action": [hold.pk]})
    assert "Why does the hold end?" in ask.content.decode()
    admin_client.post(
        changelist,
        {"action": "release_selected", "_selected_action": [hold.pk], "release_reason": "Case closed"},
    )
    hold.refresh_from_db()
    assert hold.released_at is not None and hold.release_reason == "Case closed"


@pytest.mark.django_db
def test_a_hold_without_subject_or_category_is_refused_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:retention_legalhold_add"), {"exception_code": "art17_3_e", "reason": "Lawsuit"}
    )
    assert response.status_code == 200
    assert "A legal hold needs a data subject, a data category, or both." in response.content.decode()
    assert not LegalHold.objects.exists()


@pytest.mark.django_db
def test_evidence_is_read_only(admin_client):
    subject = make_full_subject()
    certificate = erase_subject(subject_id=subject.pk, reason="Request")
    for name, obj in (
        ("erasurecertificate", certificate),
        ("erasurejournal", ErasureJournal.objects.first()),
    ):
        assert admin_client.get(reverse(f"admin:retention_{name}_change", args=[obj.pk])).status_code == 200
        assert admin_client.get(reverse(f"admin:retention_{name}_add")).status_code == 403
        assert admin_client.get(reverse(f"admin:retention_{name}_delete", args=[obj.pk])).status_code == 403
    page = admin_client.get(reverse("admin:retention_erasurecertificate_change", args=[certificate.pk]))
    assert "Purge" in page.content.decode()


@pytest.mark.django_db
def test_run_page_shows_batches_and_certificate(admin_client):
    f.subject()
    run = f.sweep()
    page = admin_client.get(reverse("admin:retention_sweeprun_change", args=[run.pk]))
    assert page.status_code == 200
    assert str(run.certificate.public_id)[:8] in page.content.decode()
    assert ErasureCertificate.objects.filter(pk=run.certificate_id).exists()


@pytest.mark.django_db
def test_the_admin_index_shows_the_retention_cards(admin_client):
    f.sweep()
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Last retention sweep" in page and "Legal holds in force" in page
