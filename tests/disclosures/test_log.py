"""The disclosure log: bulk batches, append-only in the database, idempotent, the opt-out route."""

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from disclosures import integrations, services
from disclosures.models import DisclosureBatch, DisclosureEvent, Purpose
from disclosures.selectors import disclosure_settings
from disclosures.statutory import codes_of
from inventory.registry import registry

from .factories import MarketingPartnerFactory, ServiceProviderFactory, at, bulk_subjects, customers, log

pytestmark = pytest.mark.django_db


def _record(ids, tp, **kwargs):
    return services.disclosure_batch_record(
        third_party_id=tp.pk,
        purpose=kwargs.pop("purpose", Purpose.DIRECT_MARKETING),
        subject_ids=ids,
        statutory_categories=kwargs.pop("categories", ["email", "name_and_address"]),
        disclosed_at=at(2025),
        actor="test",
        **kwargs,
    )


def test_a_batch_records_one_event_per_subject_with_the_batch_details():
    tp = MarketingPartnerFactory()
    ids = bulk_subjects(25)
    batch = _record(ids, tp, agreement_reference="MSA-2025-7").batch
    events = DisclosureEvent.objects.filter(batch=batch)
    assert batch.member_count == 25
    assert sorted(events.values_list("subject_id", flat=True)) == sorted(ids)
    assert set(
        events.values_list("third_party_id", "purpose", "categories", "agreement_reference", "at")
    ) == {(tp.pk, "direct_marketing", batch.categories, "MSA-2025-7", at(2025))}
    assert codes_of(batch.categories) == ["name_and_address", "email"]
    assert (
        AuditEvent.objects.filter(action="disclosures.batch_recorded", target_id=str(batch.pk)).count() == 1
    )


def test_a_batch_of_many_subjects_is_recorded_in_one_bulk_operation():
    """The number of queries does not grow with the batch; on PostgreSQL the members go in ONE COPY."""
    tp = MarketingPartnerFactory()
    small, large = bulk_subjects(5), bulk_subjects(3000)
    disclosure_settings()  # the singleton exists before counting
    with CaptureQueriesContext(connection) as few:
        _record(small, tp)
    with CaptureQueriesContext(connection) as many:
        _record(large, tp)

    def other(queries):
        return [q["sql"] for q in queries if "disclosures_disclosureevent" not in q["sql"]]

    assert len(other(many.captured_queries)) == len(other(few.captured_queries))
    assert DisclosureEvent.objects.count() == 3005
    event_writes = [q["sql"] for q in many.captured_queries if "disclosures_disclosureevent" in q["sql"]]
    if connection.vendor == "postgresql":
        assert len(many) == len(few)
        assert event_writes == [  # inventory.bulk's COPY (issue 13)
            'COPY "disclosures_disclosureevent" ("subject_id", "third_party_id", "purpose", "categories", '
            '"at", "agreement_reference", "batch_id") FROM STDIN'
        ]
    else:  # inventory.bulk's executemany: one call for all the rows (the captured "3000 times: INSERT")
        assert len(event_writes) == 1 and event_writes[0].startswith("3000 times: INSERT INTO")


def _refused(sql: str, params=()) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        return True
    return False


def test_the_disclosure_log_cannot_be_updated_or_deleted_in_the_database():
    batch = log(customers(1), MarketingPartnerFactory(), "email")
    event = DisclosureEvent.objects.get(batch=batch)
    assert _refused("UPDATE disclosures_disclosureevent SET categories = 0 WHERE id = %s", [event.pk])
    assert _refused("DELETE FROM disclosures_disclosureevent WHERE id = %s", [event.pk])
    assert _refused("UPDATE disclosures_disclosurebatch SET member_count = 0 WHERE id = %s", [batch.pk])
    assert _refused("DELETE FROM disclosures_disclosurebatch WHERE id = %s", [batch.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        DisclosureEvent.objects.filter(pk=event.pk).update(purpose=Purpose.SERVICE_PROVISION)
    with pytest.raises(DatabaseError), transaction.atomic():
        DisclosureEvent.objects.filter(pk=event.pk)._raw_delete(connection.alias)
    event.refresh_from_db()
    assert event.purpose == Purpose.DIRECT_MARKETING


def test_the_log_is_registered_as_an_append_only_ledger_without_personal_data_in_clear():
    entry = registry.get(DisclosureEvent)
    assert entry.append_only and entry.subject == "subject"
    assert entry.encrypted_fields == ()
    columns = {f.name for f in DisclosureEvent._meta.concrete_fields}
    assert columns == {
        "id",
        "subject",
        "third_party",
        "purpose",
        "categories",
        "at",
        "agreement_reference",
        "batch",
    }


def test_the_same_external_id_logs_once_and_a_different_payload_is_refused():
    tp = MarketingPartnerFactory()
    ids = bulk_subjects(3)
    first = _record(ids, tp, external_id="crm-42", payload_sha256="a" * 64)
    again = _record(ids, tp, external_id="crm-42", payload_sha256="a" * 64)
    assert first.created and not again.created and again.batch.pk == first.batch.pk
    assert DisclosureEvent.objects.count() == 3
    with pytest.raises(services.BatchConflict):
        _record(ids[:1], tp, external_id="crm-42", payload_sha256="b" * 64)


def test_unknown_or_erased_subjects_refuse_the_whole_batch_and_nothing_is_written():
    from django.utils import timezone

    from inventory.models import DataSubject

    tp = MarketingPartnerFactory()
    ids = bulk_subjects(3)
    with pytest.raises(ValidationError, match="1 unknown and 0 erased"):
        _record([*ids, 999_999_999], tp)
    DataSubject.objects.filter(pk=ids[0]).update(erased_at=timezone.now())
    with pytest.raises(ValidationError, match="0 unknown and 1 erased"):
        _record(ids, tp)
    assert not DisclosureBatch.objects.exists() and not DisclosureEvent.objects.exists()


def test_future_dates_empty_batches_unknown_purposes_and_inactive_recipients_are_refused():
    from django.utils import timezone

    tp = MarketingPartnerFactory()
    (subject,) = customers(1)
    with pytest.raises(ValidationError, match="future"):
        services.disclosure_record(
            subject_id=subject.pk,
            third_party_id=tp.pk,
            purpose="direct_marketing",
            statutory_categories=["email"],
            disclosed_at=timezone.now() + timezone.timedelta(days=2),
        )
    with pytest.raises(ValidationError, match="at least one subject"):
        _record([], tp)
    with pytest.raises(ValidationError, match="Unknown purpose"):
        _record([subject.pk], tp, purpose="resale")
    tp.active = False
    tp.save()
    with pytest.raises(ValidationError, match="inactive"):
        _record([subject.pk], tp)


def test_a_single_disclosure_is_a_batch_of_one_logged_through_the_mapping():
    (subject,) = customers(1)
    event = services.disclosure_record(
        subject_id=subject.pk,
        third_party_id=MarketingPartnerFactory().pk,
        purpose="direct_marketing",
        data_categories={"contact": ["email", "phone"]},
        disclosed_at=at(2025),
    )
    assert event.batch.member_count == 1
    assert codes_of(event.categories) == ["email", "telephone_number"]
    assert event.batch.data_categories == {"contact": ["email", "phone"]}


# --- §1798.83(c)(2) opt-out route ------------------------------------------------------------------


@pytest.fixture
def route_on():
    services.disclosure_settings_update(opt_out_route_enabled=True, actor="test")


def test_the_opt_out_route_refuses_marketing_disclosures_for_subjects_who_opted_out(route_on, monkeypatch):
    keep, opted_out = customers(2)
    asked = []

    def fake(subject_ids, at=None):
        asked.append(sorted(subject_ids))
        return {opted_out.pk}

    monkeypatch.setattr(integrations, "subjects_opted_out_of_partner_sharing", fake)
    tp = MarketingPartnerFactory()
    with pytest.raises(services.OptedOutSubjects) as refused:
        _record([keep.pk, opted_out.pk], tp)
    assert refused.value.subject_ids == [opted_out.pk]
    assert refused.value.code == "opted_out"
    assert asked == [sorted([keep.pk, opted_out.pk])]  # one bulk question for the whole batch
    assert not DisclosureEvent.objects.exists()

    result = _record([keep.pk, opted_out.pk], tp, exclude_opted_out=True)
    assert result.excluded_subject_ids == [opted_out.pk]
    assert list(DisclosureEvent.objects.values_list("subject_id", flat=True)) == [keep.pk]
    assert result.batch.excluded_count == 1 and result.batch.member_count == 1


def test_a_batch_where_everyone_opted_out_is_refused_even_when_excluding(route_on, monkeypatch):
    (subject,) = customers(1)
    monkeypatch.setattr(integrations, "subjects_opted_out_of_partner_sharing", lambda ids, at=None: set(ids))
    with pytest.raises(services.OptedOutSubjects):
        _record([subject.pk], MarketingPartnerFactory(), exclude_opted_out=True)


def test_the_opt_out_route_only_concerns_direct_marketing(route_on, monkeypatch):
    def boom(subject_ids, at=None):
        raise AssertionError("consent must not be consulted for service provision")

    monkeypatch.setattr(integrations, "subjects_opted_out_of_partner_sharing", boom)
    (subject,) = customers(1)
    assert _record([subject.pk], ServiceProviderFactory(), purpose=Purpose.SERVICE_PROVISION).created


def test_without_the_route_marketing_disclosures_are_logged_without_asking_consent(monkeypatch):
    monkeypatch.setattr(
        integrations,
        "subjects_opted_out_of_partner_sharing",
        lambda ids, at=None: pytest.fail("route is off"),
    )
    (subject,) = customers(1)
    assert _record([subject.pk], MarketingPartnerFactory()).created


def test_the_opt_out_route_uses_the_consent_ledger(route_on, django_capture_on_commit_callbacks):
    """End to end with the consent app: granted passes, withdrawn `share_marketing_partners` is refused."""
    from consent import services as consent_services

    keep, opted_out = customers(2)
    # Both consented in 2024; one withdrew the partner sharing before the 2025 disclosure (issue 14: consent
    # is judged at the time of the disclosure, so the ledger must say what held then).
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(at(2024), tick=False):
        for person in (keep, opted_out):
            consent_services.consent_grant(
                subject_id=person.pk, purpose="share_marketing_partners", channel="web_form"
            )
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(at(2025, 1), tick=False):
        consent_services.consent_withdraw(
            subject_id=opted_out.pk, purpose="share_marketing_partners", channel="web_form"
        )
    partner = MarketingPartnerFactory()
    with pytest.raises(services.OptedOutSubjects) as refused:
        _record([keep.pk, opted_out.pk], partner)
    assert refused.value.subject_ids == [opted_out.pk]
    assert _record([keep.pk], partner).created


def test_erasing_a_customer_keeps_the_log_as_evidence_without_identifying_them(outbox):
    """The retention engine erases the subject; the ledgers stay (append-only), ids and codes only."""
    from disclosures.models import DisclosureNoticeRequest
    from retention.services import erase_subject

    (alice,) = customers(1)
    log(alice, MarketingPartnerFactory(), "email")
    services.notice_1798_83_deliver(subject_id=alice.pk, year=2025)
    certificate = erase_subject(subject_id=alice.pk, reason="Customer asked to be forgotten")
    assert certificate is not None
    alice.refresh_from_db()
    assert alice.erased_at is not None and alice.name == "" and alice.email == ""
    assert DisclosureEvent.objects.filter(subject=alice).count() == 1
    assert DisclosureNoticeRequest.objects.filter(subject=alice).count() == 1
    with pytest.raises(ValidationError, match="erased"):
        _record([alice.pk], MarketingPartnerFactory())
