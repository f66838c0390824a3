"""The breach register: clocks from docs/regulations.md (breaches), the selection of affected subjects, batched and
resumable notification through the outbox, California residents and the Attorney General sample."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from inventory.models import ActivityEvent, DataSubject, System
from inventory.services import record_create
from notices import rules
from notices.models import BreachStatus, Notice, NoticeKind, NoticeStatus
from notices.selectors import (
    breach_affected_counts,
    breach_affected_subjects,
    breach_clocks,
    breach_delivery_counts,
    breach_notice_context,
    breach_sample_notice,
)
from notices.services import (
    breach_clock_reminders,
    breach_close,
    breach_notify_batch,
    breach_notify_start,
    breach_record_ag_sample,
    breach_record_authority_notification,
    breach_resume_stalled,
    breach_save,
)
from notices.tasks import notify_breach_batch
from tests.factories import DataSubjectFactory

from .factories import make_breach

pytestmark = pytest.mark.django_db


def _bulk_subjects(n: int, *, region: str = "CA", country: str = "US", email: bool = True) -> list[int]:
    """Plain subject rows (no keys needed: breach notices use only name and address)."""
    start = DataSubject.objects.count()
    rows = [
        DataSubject(name=f"Person {start + i}", email=f"p{start + i}@example.com" if email else "", country=country,
                    region=region)
        for i in range(n)
    ]  # fmt: skip
    return [s.pk for s in DataSubject.objects.bulk_create(rows)]


# --- Clocks (docs/regulations.md: GDPR Art. 33(1) 72 h; Cal. Civ. Code §1798.82 30 days; AG sample) --------
def test_rule_table_matches_the_regulations():
    assert (
        rules.EU_AUTHORITY.period == dt.timedelta(hours=72) and rules.EU_AUTHORITY.starts_from == "aware_at"
    )
    assert "Art. 33(1)" in rules.EU_AUTHORITY.source
    assert (
        rules.CA_CONSUMERS.period == dt.timedelta(days=30)
        and rules.CA_CONSUMERS.starts_from == "discovered_at"
    )
    assert "1798.82" in rules.CA_CONSUMERS.source
    assert rules.CA_AG_SAMPLE_THRESHOLD == 500 and dt.timedelta(days=15) == rules.CA_AG_SAMPLE_PERIOD


def test_clocks_run_from_awareness_and_discovery_and_turn_overdue():
    discovered = timezone.now()
    breach = make_breach(discovered_at=discovered, aware_at=discovered + dt.timedelta(hours=3))
    assert breach.eu_authority_due == discovered + dt.timedelta(hours=75)
    assert breach.ca_consumers_due == discovered + dt.timedelta(days=30)
    at = {c.code: c for c in breach_clocks(breach, now=discovered + dt.timedelta(hours=76))}
    assert at["eu_authority"].overdue and not at["ca_consumers"].overdue
    assert at["ca_consumers"].needs_reminder is False


def test_authority_notified_after_72_hours_needs_the_reasons_for_the_delay():
    breach = make_breach()
    late = breach.aware_at + dt.timedelta(hours=80)
    with pytest.raises(ValidationError) as excinfo:
        breach_record_authority_notification(breach_id=breach.pk, notified_at=late)
    assert "reasons for the delay" in excinfo.value.message_dict["delay_reason"][0]
    breach_record_authority_notification(
        breach_id=breach.pk,
        notified_at=late,
        delay_reason="Forensic scope unknown until day 3.",
        reference="DPA-1",
    )
    breach.refresh_from_db()
    eu = next(c for c in breach_clocks(breach) if c.code == "eu_authority")
    assert eu.done_at == late and not eu.overdue
    assert AuditEvent.objects.get(action="breach.authority_notified").details == {"late": True}


def test_awareness_before_discovery_is_refused():
    now = timezone.now()
    with pytest.raises(ValidationError, match="Awareness"):
        make_breach(discovered_at=now, aware_at=now - dt.timedelta(days=1))


# --- Selection ----------------------------------------------------------------------------------------
def test_selection_by_region_country_dates_and_list():
    ca = _bulk_subjects(2, region="CA")
    ny = _bulk_subjects(1, region="NY")
    de = _bulk_subjects(1, country="DE", region="")
    assert set(breach_affected_subjects({"regions": ["CA"]}).values_list("pk", flat=True)) == set(ca)
    assert set(breach_affected_subjects({"countries": ["DE"]}).values_list("pk", flat=True)) == set(de)
    both = breach_affected_subjects({"regions": ["CA"], "subject_ids": ny})
    assert set(both.values_list("pk", flat=True)) == {*ca, *ny}
    today = timezone.localdate().isoformat()
    assert breach_affected_subjects({"created_from": today, "regions": ["NY"]}).count() == 1
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert breach_affected_subjects({"created_from": tomorrow}).count() == 0
    assert breach_affected_subjects({}).count() == 0  # an empty selection selects nobody


def test_selection_by_category_uses_the_registry():
    holder = DataSubjectFactory()
    DataSubjectFactory()  # no activity records
    system = System.objects.get(code="privacyops")
    record_create(model=ActivityEvent, subject=holder, values={"kind": "page_view", "system": system})
    assert list(breach_affected_subjects({"categories": ["activity"]}).values_list("pk", flat=True)) == [
        holder.pk
    ]
    assert breach_affected_subjects({"categories": ["contact"]}).count() == 2  # every subject's own row


def test_erased_subjects_are_never_selected():
    ids = _bulk_subjects(2)
    DataSubject.objects.filter(pk=ids[0]).update(erased_at=timezone.now())
    assert list(breach_affected_subjects({"regions": ["CA"]}).values_list("pk", flat=True)) == [ids[1]]


def test_selection_is_validated_when_saved():
    with pytest.raises(ValidationError, match="Unknown data categories"):
        make_breach(selection={"categories": ["nope"]})
    with pytest.raises(ValidationError, match="Unknown selection keys"):
        make_breach(selection={"postcode": ["94105"]})


# --- Notification -------------------------------------------------------------------------------------
def test_subjects_are_notified_in_batches_through_the_outbox_with_progress(
    django_capture_on_commit_callbacks,
):
    ids = _bulk_subjects(7)
    no_email = _bulk_subjects(1, email=False)
    _bulk_subjects(2, region="NY")  # not affected
    breach = make_breach(selection={"regions": ["CA"]})
    with django_capture_on_commit_callbacks(execute=False):
        breach_notify_start(breach_id=breach.pk)
    breach.refresh_from_db()
    assert (breach.status, breach.notify_total, breach.ca_residents_count) == (BreachStatus.NOTIFYING, 8, 8)

    with django_capture_on_commit_callbacks(execute=True):
        first = breach_notify_batch(breach_id=breach.pk, batch_size=3)
    breach.refresh_from_db()
    assert (first.processed, first.done) == (3, False)
    assert (breach.notify_processed, breach.notify_cursor) == (3, ids[2])
    assert breach_delivery_counts(breach_id=breach.pk)[NoticeStatus.SENT] == 3

    with django_capture_on_commit_callbacks(execute=True):
        notify_breach_batch.delay(breach.pk, batch_size=3).get()
    breach.refresh_from_db()
    assert breach.status == BreachStatus.NOTIFIED and breach.notify_finished_at is not None
    assert (breach.notify_processed, breach.notify_enqueued, breach.notify_skipped) == (8, 7, 1)
    keys = set(Notice.objects.filter(breach=breach).values_list("idempotency_key", flat=True))
    assert keys == {f"breach:{breach.pk}:subject:{pk}" for pk in ids}
    assert no_email[0] not in Notice.objects.filter(breach=breach).values_list("subject_id", flat=True)
    assert len(mail.outbox) == 7 and {m.subject for m in mail.outbox} == {"Notice of Data Breach"}
    assert "Dear Person" in mail.outbox[0].body and "WHAT HAPPENED" in mail.outbox[0].body


def test_notifying_again_never_notifies_a_subject_twice(django_capture_on_commit_callbacks):
    _bulk_subjects(3)
    breach = make_breach()
    with django_capture_on_commit_callbacks(execute=True):
        breach_notify_start(breach_id=breach.pk)
    with pytest.raises(ValidationError, match="already started"):
        breach_notify_start(breach_id=breach.pk)
    # A lost batch replayed from an old cursor (crash between send and progress) re-uses the keys.
    breach.refresh_from_db()
    type(breach).objects.filter(pk=breach.pk).update(status=BreachStatus.NOTIFYING, notify_cursor=0)
    with django_capture_on_commit_callbacks(execute=True):
        breach_notify_batch(breach_id=breach.pk)
    assert Notice.objects.filter(breach=breach).count() == 3
    assert len(mail.outbox) == 3


def test_notification_needs_every_heading_and_a_non_empty_selection():
    _bulk_subjects(1)
    breach = make_breach(what_you_can_do="", for_more_information="")
    with pytest.raises(ValidationError, match="What You Can Do, For More Information"):
        breach_notify_start(breach_id=breach.pk)
    empty = make_breach(selection={"regions": ["TX"]})
    with pytest.raises(ValidationError, match="matches no subject"):
        breach_notify_start(breach_id=empty.pk)


def test_wording_and_selection_are_frozen_once_notifying_started(django_capture_on_commit_callbacks):
    _bulk_subjects(1)
    breach = make_breach()
    with django_capture_on_commit_callbacks(execute=False):
        breach_notify_start(breach_id=breach.pk)
    breach.refresh_from_db()
    breach.what_happened = "Something else"
    with pytest.raises(ValidationError, match="can't change"):
        breach_save(breach=breach)
    breach.refresh_from_db()
    breach.authority_reference = "DPA-7"  # facts outside the notice may still be recorded
    breach_save(breach=breach)


@pytest.mark.parametrize("ca_residents, required", [(500, False), (501, True)])
def test_more_than_500_california_residents_require_the_attorney_general_sample(
    ca_residents, required, django_capture_on_commit_callbacks
):
    _bulk_subjects(ca_residents)
    _bulk_subjects(5, region="NY")
    breach = make_breach(selection={"countries": ["US"]})
    assert breach_affected_counts(breach.selection).ca_residents == ca_residents
    with django_capture_on_commit_callbacks(execute=False):  # counting is the point, not sending 500 mails
        breach_notify_start(breach_id=breach.pk)
    breach.refresh_from_db()
    assert breach.ca_residents_count == ca_residents and breach.notify_total == ca_residents + 5
    assert breach.ag_sample_required is required
    ag = [c for c in breach_clocks(breach) if c.code == "ca_ag_sample"]
    if required:
        assert ag[0].due == breach.notify_started_at + dt.timedelta(days=15)
        breach_record_ag_sample(breach_id=breach.pk, submitted_at=timezone.now())
        breach.refresh_from_db()
        assert next(c for c in breach_clocks(breach) if c.code == "ca_ag_sample").done_at is not None
    else:
        assert ag == []


def test_the_sample_notice_carries_no_personal_information():
    ids = _bulk_subjects(1)
    breach = make_breach()
    sample = breach_sample_notice(breach)
    person = DataSubject.objects.get(pk=ids[0])
    assert "Notice of Data Breach" in sample.html and sample.text.startswith("NOTICE OF DATA BREACH")
    assert person.name not in sample.text and person.email not in sample.text
    assert "Hello," in sample.text and "SAMPLE" in sample.text


def test_a_stalled_notification_is_resumed(django_capture_on_commit_callbacks):
    _bulk_subjects(2)
    breach = make_breach()
    with django_capture_on_commit_callbacks(execute=False):
        breach_notify_start(breach_id=breach.pk)  # its first batch task is lost
    assert breach_resume_stalled() == []  # not stalled yet
    later = timezone.now() + rules.sending_lease() + dt.timedelta(minutes=1)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert breach_resume_stalled() == [breach.pk]
    breach.refresh_from_db()
    assert breach.status == BreachStatus.NOTIFIED and len(mail.outbox) == 2


def test_clock_reminders_go_to_the_privacy_office_once_a_day(settings, django_capture_on_commit_callbacks):
    settings.PRIVACY_OFFICE_EMAIL = "dpo@example.com"
    aware = timezone.now() - dt.timedelta(hours=60)  # 12 h left on the 72 h clock
    breach = make_breach(discovered_at=aware, aware_at=aware)
    with django_capture_on_commit_callbacks(execute=True):
        assert breach_clock_reminders() == 1
        assert breach_clock_reminders() == 0  # same day: already reminded
    (message,) = mail.outbox
    assert message.to == ["dpo@example.com"]
    assert "EU supervisory authority due soon" in message.subject
    reminder = Notice.objects.get(kind=NoticeKind.OPERATIONS_REPORT)
    assert reminder.idempotency_key.startswith(f"breach:{breach.pk}:eu_authority:reminder:")


def test_a_documented_exemption_stops_a_clock_and_its_reminders(settings, django_capture_on_commit_callbacks):
    settings.PRIVACY_OFFICE_EMAIL = "dpo@example.com"
    aware = timezone.now() - dt.timedelta(hours=100)  # the 72 h clock is overdue
    breach = make_breach(discovered_at=aware, aware_at=aware)
    assert next(c for c in breach_clocks(breach) if c.code == "eu_authority").overdue
    breach.authority_exempt_reason = "Encrypted laptop, key not compromised: unlikely to result in a risk."
    breach_save(breach=breach)
    eu = next(c for c in breach_clocks(breach) if c.code == "eu_authority")
    assert not eu.overdue and not eu.needs_reminder and eu.exempt_reason.startswith("Encrypted")
    with django_capture_on_commit_callbacks(execute=True):
        breach_clock_reminders()
    assert not any("EU supervisory authority" in m.subject for m in mail.outbox)


def test_a_breach_closes_only_when_every_clock_is_met_or_exempt(django_capture_on_commit_callbacks):
    _bulk_subjects(1)
    breach = make_breach()
    with pytest.raises(ValidationError, match="EU supervisory authority, California residents not done"):
        breach_close(breach_id=breach.pk)
    breach_record_authority_notification(breach_id=breach.pk, notified_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        breach_notify_start(breach_id=breach.pk)
    assert breach_close(breach_id=breach.pk).status == BreachStatus.CLOSED
    assert AuditEvent.objects.filter(action="breach.closed", target_id=str(breach.pk)).exists()


def test_saving_a_stale_copy_of_a_breach_never_rewinds_the_notification_progress(
    django_capture_on_commit_callbacks,
):
    _bulk_subjects(4)
    breach = make_breach()
    with django_capture_on_commit_callbacks(execute=False):
        breach_notify_start(breach_id=breach.pk)
    stale = type(breach).objects.get(pk=breach.pk)  # an officer opens the change page
    with django_capture_on_commit_callbacks(execute=True):
        breach_notify_batch(breach_id=breach.pk, batch_size=2)  # the task moves on meanwhile
    stale.authority_reference = "DPA-2026-7"
    breach_save(breach=stale)
    breach.refresh_from_db()
    assert (breach.notify_processed, breach.authority_reference) == (2, "DPA-2026-7")


def test_the_breach_letter_is_dated_in_the_business_calendar_when_utc_is_a_day_ahead():
    """22:30 Pacific on 31 December is 1 January in UTC; a breach found at 20:00 Pacific on 30 December
    was found on the 30th, whatever UTC says."""
    with time_machine.travel(dt.datetime(2027, 1, 1, 6, 30, tzinfo=dt.UTC), tick=False):
        breach = make_breach(
            discovered_at=dt.datetime(2026, 12, 31, 4, 0, tzinfo=dt.UTC),
            aware_at=dt.datetime(2026, 12, 31, 5, 0, tzinfo=dt.UTC),
        )
        context = breach_notice_context(breach)
    assert (context["notice_date"], context["discovered_on"]) == (
        dt.date(2026, 12, 31),
        dt.date(2026, 12, 30),
    )
