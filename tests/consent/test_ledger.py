"""The ledger is append-only in the database, its evidence is minimised and sealed, erasure shreds it."""

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from consent.models import ConsentEvent, ConsentState
from consent.selectors import event_evidence
from inventory import crypto
from inventory.registry import SHRED, registry
from inventory.services import subject_destroy_data_key
from tests.consent.factories import grant
from tests.factories import DataSubjectFactory


def _try(sql: str, params) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_ledger_rows_cannot_be_updated_or_deleted_at_the_database():
    event = grant(DataSubjectFactory())
    with pytest.raises(DatabaseError):
        _try("UPDATE consent_consentevent SET action = 'withdraw' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError):
        _try("DELETE FROM consent_consentevent WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).update(evidence="")
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.action == "grant" and event.evidence


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_trigger_refuses_changes_with_insufficient_privilege():
    event = grant(DataSubjectFactory())
    with pytest.raises(DatabaseError) as caught:
        _try("UPDATE consent_consentevent SET at = at WHERE id = %s", [event.pk])
    assert "append-only table consent_consentevent" in str(caught.value)
    assert caught.value.__cause__.sqlstate == "42501"


def test_ledger_is_registered_append_only_and_erased_only_by_shredding_its_evidence():
    entry = registry.get(ConsentEvent)
    assert entry.append_only
    assert entry.field_strategies == {"evidence": SHRED}
    assert entry.encrypted_fields == ("evidence",)


@pytest.mark.django_db
def test_evidence_is_minimised_then_sealed_under_the_subjects_key():
    subject = DataSubjectFactory()
    event = grant(
        subject, evidence={"banner_id": "cookie-v3", "ip": "198.51.100.23", "user_agent": "x" * 500}
    )
    assert "198.51.100" not in event.evidence  # ciphertext at rest
    assert event.collection_point == "cookie-v3"  # not personal: kept in clear for reporting
    revealed = event_evidence(event)
    assert revealed["ip_network"] == "198.51.100.0/24"
    assert len(revealed["user_agent"]) == 200


@pytest.mark.django_db
def test_ipv6_addresses_keep_only_the_48_bit_network():
    event = grant(DataSubjectFactory(), evidence={"ip": "2001:db8:abcd:12::7"})
    assert event_evidence(event)["ip_network"] == "2001:db8:abcd::/48"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("192.0.2.201", "192.0.2.0/24"),
        ("::ffff:192.0.2.201", "192.0.2.0/24"),
        ("2001:db8::1", "2001:db8::/48"),
    ],
)
def test_ip_minimisation_keeps_only_the_network(given, kept):
    from consent.evidence import minimise_ip

    assert minimise_ip(given) == kept


@pytest.mark.parametrize("bad", ["1.2.3", "300.1.1.1", "not-an-ip", ""])
def test_invalid_ip_evidence_is_refused(bad):
    from django.core.exceptions import ValidationError

    from consent.evidence import minimise_ip

    with pytest.raises(ValidationError):
        minimise_ip(bad)


@pytest.mark.django_db
def test_unknown_evidence_keys_are_refused_and_nothing_is_written():
    from django.core.exceptions import ValidationError

    subject = DataSubjectFactory()
    with pytest.raises(ValidationError, match="unknown keys"):
        grant(subject, evidence={"email": "leak@example.com"})
    assert not ConsentEvent.objects.filter(subject=subject).exists()
    assert not ConsentState.objects.filter(subject=subject).exists()


@pytest.mark.django_db
def test_destroying_the_key_shreds_the_evidence_but_keeps_the_proof_of_consent():
    subject = DataSubjectFactory()
    event = grant(subject)
    subject_destroy_data_key(subject_id=subject.pk, reason="erasure test")
    event.refresh_from_db()
    assert (event.action, event.purpose.code, event.channel) == ("grant", "marketing_email", "web_form")
    with pytest.raises(crypto.KeyDestroyed):
        event_evidence(event)


@pytest.mark.django_db
def test_recording_is_audited_with_ids_only():
    from audit.models import AuditEvent

    subject = DataSubjectFactory(email="audit.me@example.com")
    event = grant(subject)
    audit = AuditEvent.objects.get(action="consent.events_recorded")
    assert audit.subject_id == subject.pk and audit.target_id == str(event.pk)
    assert "audit.me" not in str(audit.details) and "203.0.113" not in str(audit.details)


@pytest.mark.django_db
def test_a_bulk_batch_written_with_copy_seals_each_events_evidence_under_its_own_subjects_key():
    from consent.services import COPY_THRESHOLD, ConsentEventInput, consent_events_record_bulk

    subjects = [DataSubjectFactory() for _ in range(5)]
    events = [
        ConsentEventInput(
            subject_id=subjects[i % 5].pk,
            purpose="marketing_email",
            action="grant",
            channel="web_form",
            client_event_id=f"bulk-{i}",
            evidence={"ip": f"198.51.{i % 250}.7", "user_agent": f"agent {i}"},
        )
        for i in range(COPY_THRESHOLD + 50)
    ]
    result = consent_events_record_bulk(events=events, source="bulk-test")
    assert result.created == len(events)
    receipts = [uuid.UUID(item.receipt_id) for item in result.items]
    assert len(set(receipts)) == len(events) and {r.version for r in receipts} == {4}
    by_pk = ConsentEvent.objects.in_bulk([item.event_id for item in result.items])
    for i, item in enumerate(result.items):
        event = by_pk[item.event_id]
        assert event.subject_id == subjects[i % 5].pk and "198.51." not in event.evidence
        assert event_evidence(event) == {"ip_network": f"198.51.{i % 250}.0/24", "user_agent": f"agent {i}"}
        other = subjects[(i + 1) % 5]
        with pytest.raises(crypto.UndecryptableValue):  # sealed for its own subject only
            crypto.open_field(crypto.key_for_subject(other.pk), event, "evidence")
    shredded = subjects[0]
    subject_destroy_data_key(subject_id=shredded.pk, reason="erasure test")
    for event in by_pk.values():
        if event.subject_id == shredded.pk:
            with pytest.raises(crypto.KeyDestroyed):
                event_evidence(event)
        else:
            assert event_evidence(event)["user_agent"].startswith("agent ")


@pytest.mark.parametrize(
    "sealed",
    [
        {"ip_network": "198.51.100.0/24", "user_agent": 'Mozilla/5.0 "quoted" \\ back\nslash é ✓ 😀 \x00'},
        {"note": "x"},
        {"reference": 1, "note": None},  # not text: json.dumps itself
    ],
)
def test_evidence_json_is_exactly_what_json_dumps_writes(sealed):
    import json

    from consent.evidence import dumps, loads

    assert dumps(sealed) == json.dumps(sealed, separators=(",", ":"))
    assert loads(dumps(sealed)) == sealed
    assert dumps({}) == ""


@pytest.mark.django_db
def test_a_big_batch_sent_again_comes_back_as_duplicates_and_a_reused_id_is_refused():
    from consent.services import (
        COPY_THRESHOLD,
        BulkRecordRejected,
        ConsentEventInput,
        consent_events_record_bulk,
    )

    subject = DataSubjectFactory()

    def batch(action_of_last: str) -> list[ConsentEventInput]:
        return [
            ConsentEventInput(
                subject_id=subject.pk,
                purpose="marketing_email",
                action="grant" if i < COPY_THRESHOLD else action_of_last,
                channel="web_form",
                client_event_id=f"again-{i}",
            )
            for i in range(COPY_THRESHOLD + 1)
        ]

    first = consent_events_record_bulk(events=batch("grant"), source="again")
    again = consent_events_record_bulk(events=batch("grant"), source="again")
    assert again.created == 0 and again.duplicates == len(first.items)
    assert [i.event_id for i in again.items] == [i.event_id for i in first.items]
    assert [i.receipt_id for i in again.items] == [i.receipt_id for i in first.items]
    with pytest.raises(BulkRecordRejected) as rejected:
        consent_events_record_bulk(events=batch("withdraw"), source="again")
    assert list(rejected.value.item_errors) == [COPY_THRESHOLD]
    assert ConsentEvent.objects.filter(source="again").count() == COPY_THRESHOLD + 1
    other_source = consent_events_record_bulk(events=batch("grant"), source="elsewhere")
    assert other_source.created == COPY_THRESHOLD + 1  # ids are unique per source only


@pytest.mark.django_db
def test_evidence_for_a_subject_whose_key_was_destroyed_is_refused_and_nothing_is_written():
    from consent.services import (
        COPY_THRESHOLD,
        BulkRecordRejected,
        ConsentEventInput,
        consent_events_record_bulk,
    )

    kept, shredded = DataSubjectFactory(), DataSubjectFactory()
    subject_destroy_data_key(subject_id=shredded.pk, reason="erasure test")
    events = [
        ConsentEventInput(
            subject_id=(shredded if i in (3, 7) else kept).pk,
            purpose="marketing_email",
            action="grant",
            channel="web_form",
            evidence={"ip": "203.0.113.9"} if i != 7 else None,
        )
        for i in range(COPY_THRESHOLD + 10)
    ]
    before = ConsentEvent.objects.count()
    with pytest.raises(BulkRecordRejected) as rejected:
        consent_events_record_bulk(events=events, source="shred-test")
    assert rejected.value.item_errors == {
        3: ["The data subject's key was destroyed; evidence can't be stored."]
    }
    assert ConsentEvent.objects.count() == before
