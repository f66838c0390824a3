"""Selectors and services added for the admin, API, dashboard and bulk loading."""

import datetime as dt
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from audit.models import AuditEvent
from inventory import models as inv
from inventory import selectors
from inventory.bulk import insert_column, insert_rows, reserve_ids
from inventory.pagination import EstimatedCountPaginator
from inventory.registry import registry
from inventory.services import (
    record_update,
    records_reveal,
    subject_create,
    subject_destroy_data_key,
    subject_update,
)
from tests.factories import DataSubjectFactory, make_full_subject, years_ago

from .factories import full_subject_with_records, make_user


def _values(record) -> dict:
    return {f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields}


@pytest.mark.django_db
def test_records_for_subject_returns_the_same_instances_as_the_querysets():
    subject = full_subject_with_records(2)
    for found in selectors.records_for_subject(subject.pk):
        expected = sorted(found.entry.for_subject(subject.pk), key=lambda r: r.pk)
        got = sorted(found.records, key=lambda r: r.pk)
        assert [_values(r) for r in got] == [_values(r) for r in expected], found.entry.label
        assert all(type(r) is found.entry.model and not r._state.adding for r in got)
    prefs = next(
        f for f in selectors.records_for_subject(subject.pk) if f.entry.model is inv.MarketingPreference
    )
    assert all(isinstance(r.topics, list) for r in prefs.records)  # JSON converted, not text


@pytest.mark.django_db
def test_records_for_subject_reads_fresh_rows_on_every_call():
    subject = make_full_subject()
    inv.ActivityEvent.objects.filter(subject=subject).update(target="/changed")
    events = next(f for f in selectors.records_for_subject(subject) if f.entry.model is inv.ActivityEvent)
    assert [e.target for e in events.records] == ["/changed"]


@pytest.mark.django_db
def test_records_for_subject_with_a_limit_says_when_it_cut_the_list():
    subject = full_subject_with_records(3)
    found = {f.entry.label: f for f in selectors.records_for_subject(subject, limit=2)}
    assert len(found["inventory.ActivityEvent"].records) == 2 and found["inventory.ActivityEvent"].truncated
    assert found["inventory.DataSubject"].truncated is False
    grouped = selectors.records_for_subject_by_category(subject, limit=2)
    assert set(grouped) == {e.category for e in registry}


@pytest.mark.django_db
def test_subject_search_by_email_name_and_public_id():
    jane = DataSubjectFactory(name="Jane Doe", email="jane@example.com")
    DataSubjectFactory(name="John Roe", email="john@example.com")
    assert list(selectors.subject_search(" JANE@example.com")) == [jane]
    assert list(selectors.subject_search("doe")) == [jane]
    assert list(selectors.subject_search(str(jane.public_id))) == [jane]
    assert selectors.subject_ids_by_email("") == []


@pytest.mark.django_db
def test_subject_summary_and_record_counts():
    make_full_subject()
    DataSubjectFactory(date_of_birth=years_ago(10))
    DataSubjectFactory(kind="entity", country="DE", region="", date_of_birth=None)
    erased = DataSubjectFactory()
    inv.DataSubject.objects.filter(pk=erased.pk).update(erased_at=dt.datetime.now(dt.UTC))
    summary = selectors.subject_summary()
    assert (summary.total, summary.persons, summary.entities, summary.minors, summary.erased) == (
        4,
        2,
        1,
        1,
        1,
    )
    assert summary.california == 2
    counts = selectors.record_counts_by_category()
    assert counts["activity"].value == 1 and counts["contact"].value == 1  # the subject rows are not records
    assert not any(c.estimated for c in counts.values())


@pytest.mark.postgres
@pytest.mark.django_db
def test_large_tables_are_counted_from_the_planner_estimate(monkeypatch):
    for _ in range(3):
        make_full_subject()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_activityevent")
    monkeypatch.setattr(selectors, "EXACT_COUNT_BELOW", 1)
    found = selectors.table_row_count(inv.ActivityEvent)
    assert found.estimated and found.value == 3
    assert EstimatedCountPaginator(inv.ActivityEvent.objects.order_by("pk"), 10).count == 3
    # A filtered list is counted exactly, through its index.
    assert (
        EstimatedCountPaginator(inv.ActivityEvent.objects.filter(kind="download").order_by("pk"), 10).count
        == 0
    )


@pytest.mark.django_db
def test_subject_update_audits_field_names_and_refuses_unknown_fields_and_erased_subjects():
    subject = DataSubjectFactory(name="Old", country="US", region="CA")
    subject_update(subject=subject, changes={"name": " New ", "region": "ny"})
    subject.refresh_from_db()
    assert (subject.name, subject.region) == ("New", "NY")
    event = AuditEvent.objects.get(action="subject.updated", subject_id=subject.pk)
    assert event.details == {"fields": ["name", "region"]}
    with pytest.raises(ValidationError, match="can't be changed here"):
        subject_update(subject=subject, changes={"date_of_birth": "x"})
    subject.erased_at = dt.datetime.now(dt.UTC)
    with pytest.raises(ValidationError, match="erased"):
        subject_update(subject=subject, changes={"name": "Again"})


@pytest.mark.django_db
def test_record_update_refuses_to_write_sealed_fields():
    subject = make_full_subject()
    account = inv.UserAccount.objects.get(subject=subject)
    with pytest.raises(ValidationError, match="Encrypted fields"):
        record_update(record=account, changes={"payment_method_reference": "tok_plain"})
    record_update(record=account, changes={"payment_brand": "amex"})
    assert AuditEvent.objects.get(action="record.updated").details == {"fields": ["payment_brand"]}


@pytest.mark.django_db
def test_records_reveal_checks_permission_ownership_and_shredding():
    subject, other = make_full_subject(), make_full_subject()
    analyst = make_user("analyst", role="Analyst")
    account = inv.UserAccount.objects.get(subject=subject)
    with pytest.raises(PermissionDenied):
        records_reveal(subject_id=subject.pk, records=[account], actor=analyst, channel="test")
    officer = make_user("officer", role="Privacy officer")
    with pytest.raises(ValueError):
        records_reveal(
            subject_id=subject.pk,
            records=[inv.UserAccount.objects.get(subject=other)],
            actor=officer,
            channel="test",
        )
    revealed = records_reveal(subject_id=subject.pk, records=[account], actor=officer, channel="test")
    assert revealed.values[("inventory.UserAccount", account.pk)]["payment_method_reference"].startswith(
        "tok_"
    )
    subject_destroy_data_key(subject_id=subject.pk, reason="test")
    assert records_reveal(subject_id=subject.pk, records=[account], actor=officer, channel="test").shredded


@pytest.mark.django_db
def test_bulk_rows_take_ids_that_later_inserts_do_not_reuse():
    ids = reserve_ids(inv.DataSubject, 3)
    assert len(set(ids)) == 3
    now = dt.datetime.now(dt.UTC)
    insert_rows(
        inv.DataSubject,
        ["id", "public_id", "kind", "email", "email_normalized", "country", "created_at", "updated_at"],
        [(pk, uuid.uuid4(), "person", f"b{pk}@x.example", f"b{pk}@x.example", "US", now, now)
         for pk in ids],
    )  # fmt: skip
    insert_rows(
        inv.MarketingPreference,
        ["subject", "collected_at", "channel", "topics"],
        [(ids[0], now, "email", ["erp", "events"])],
    )
    assert inv.MarketingPreference.objects.get(subject_id=ids[0]).topics == ["erp", "events"]
    created = subject_create(name="After bulk", email="after@example.com")
    assert created.pk not in ids


@pytest.mark.django_db
def test_insert_column_writes_one_row_per_value_with_the_constants_exactly_as_given():
    subjects = [subject_create(name=f"Column {i}", email=f"column{i}@example.com").pk for i in range(3)]
    now = dt.datetime.now(dt.UTC)
    text, topics = "e\\mail\tpost\r\nx", ["erp", 'say "hi"\t\\']  # COPY's special characters
    written = insert_column(
        inv.MarketingPreference,
        "subject_id",
        subjects,
        constants={"collected_at": now, "channel": text, "topics": topics},
    )
    rows = inv.MarketingPreference.objects.filter(subject_id__in=subjects)
    assert written == 3 and sorted(r.subject_id for r in rows) == sorted(subjects)
    assert {(r.channel, tuple(r.topics), r.collected_at, r.frequency, r.system_id) for r in rows} == {
        (text, tuple(topics), now, "", None)  # fields not named: their defaults
    }
    # A field left out whose default is computed per row (topics=list) goes through insert_rows.
    insert_column(
        inv.MarketingPreference, "subject_id", subjects[:1], constants={"collected_at": now, "channel": "sms"}
    )
    assert inv.MarketingPreference.objects.get(subject_id=subjects[0], channel="sms").topics == []
