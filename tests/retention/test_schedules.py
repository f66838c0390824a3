"""Schedules: cited company defaults, validation against the registry, audited changes, dry-run previews."""

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from inventory.models import DataCategory, System
from retention.defaults import DEFAULT_SCHEDULES
from retention.models import RetentionSchedule
from retention.selectors import schedule_forecast
from retention.services import retention_schedule_check, retention_schedule_update

from . import factories as f


@pytest.mark.django_db
def test_default_schedules_are_seeded_cited_marked_as_policy_defaults_and_valid():
    seeded = RetentionSchedule.objects.filter(is_default=True).select_related("category")
    assert seeded.count() == len(DEFAULT_SCHEDULES) == 4
    by_category = {s.category.code: s for s in seeded}
    assert (by_category["activity"].period_months, by_category["activity"].anchor) == (24, "collected")
    assert (by_category["account"].period_months, by_category["account"].anchor) == (84, "closed")
    assert by_category["account"].model_label == "inventory.UserAccount"
    assert by_category["marketing"].period_months == 24
    assert by_category["marketing"].model_label == "inventory.MarketingPreference"
    assert (by_category["survey"].period_months, by_category["survey"].action) == (36, "anonymise")
    for schedule in seeded:
        assert "Policy §8" in schedule.citation
        assert "Company policy default" in schedule.legal_basis
        assert schedule.active
        retention_schedule_check(schedule)  # the registry can carry each of them out


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, field, message",
    [
        (
            {"category": "activity", "anchor": "closed"},
            "anchor",
            "No record in this scope records the event 'closed'",
        ),
        ({"category": "contact", "action": "delete"}, "action", "can't be erased that way"),
        ({"category": "activity", "action": "anonymise"}, "action", "can't be erased that way"),
        (
            {"category": "activity", "model_label": "inventory.UserAccount"},
            "model_label",
            "not a kind of record",
        ),
        ({"category": "activity", "months": 0, "days": 0}, "__all__", "needs some months or days"),
    ],
)
def test_a_schedule_the_registry_cannot_carry_out_is_refused_with_a_clear_message(fields, field, message):
    fields = {"months": 12, **fields}
    category = fields.pop("category")
    with pytest.raises(ValidationError) as caught:
        f.schedule(category, **fields)
    assert message in " ".join(caught.value.message_dict[field])


@pytest.mark.django_db
def test_two_active_schedules_with_the_same_scope_are_refused():
    with pytest.raises(ValidationError, match="already covers exactly this scope"):
        f.schedule("activity", months=12)
    system = System.objects.get(code="privacyops")
    f.schedule("activity", months=12, system=system)  # narrower scope: allowed


@pytest.mark.django_db
def test_changes_are_audited_with_before_after_and_what_they_would_erase_now():
    owner = f.subject()
    f.activity(owner, f.ago(days=400))
    f.activity(owner, f.ago(days=10))
    schedule = RetentionSchedule.objects.get(category__code="activity", is_default=True)
    retention_schedule_update(schedule_id=schedule.pk, period_months=12, actor="officer")
    event = AuditEvent.objects.filter(action="retention.schedule.updated").get()
    assert event.details["changes"] == {"period_months": {"from": 24, "to": 12}}
    assert event.details["would_erase_now"] == 1
    assert event.actor_label == "officer"
    retention_schedule_update(schedule_id=schedule.pk, period_months=12)  # no change: nothing recorded
    assert AuditEvent.objects.filter(action="retention.schedule.updated").count() == 1


@pytest.mark.django_db
def test_the_preview_of_an_unsaved_change_counts_what_it_would_erase_and_changes_nothing():
    owner = f.subject()
    for days in (100, 200, 400, 800):
        f.activity(owner, f.ago(days=days))
    schedule = RetentionSchedule.objects.get(category__code="activity", is_default=True)
    assert sum(r.would_erase for r in schedule_forecast(schedule)) == 1
    schedule.period_months = 6  # edited in a form, not saved
    assert sum(r.would_erase for r in schedule_forecast(schedule)) == 3
    assert RetentionSchedule.objects.get(pk=schedule.pk).period_months == 24


@pytest.mark.django_db
def test_a_category_schedule_for_a_new_category_needs_a_registered_record_kind():
    category = DataCategory.objects.create(
        code="biometric", name="Biometric", description="-", sensitivity="high"
    )
    with pytest.raises(ValidationError, match="No record kind holds"):
        f.schedule(category.code, months=1)


def test_period_text_reads_like_a_policy():
    assert str(RetentionSchedule(period_months=84).period) == "7 years"
    assert str(RetentionSchedule(period_months=18, period_days=3).period) == "18 months 3 days"
    assert str(RetentionSchedule(period_days=1).period) == "1 day"
