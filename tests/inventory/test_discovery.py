"""Issue 19: discovery (`records_for_subject`) is one statement for every registered model on PostgreSQL,
and gives exactly the instances, field values and per-model order of each model's own queryset."""

import dataclasses

import pytest
from django.db import DatabaseError, connection, transaction

import core.prepared
from consent.models import Channel
from consent.services import consent_grant
from inventory import models as inv
from inventory import selectors
from inventory.registry import registry
from inventory.services import record_reveal
from tests.factories import DataSubjectFactory
from tests.requests_app.factories import make_case

from .factories import full_subject_with_records

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _typed_values(record) -> list[tuple]:
    """Every column's value and its Python type (a date is not a datetime, a Decimal not a float)."""
    return [
        (f.attname, type(getattr(record, f.attname)), getattr(record, f.attname))
        for f in record._meta.concrete_fields
    ]


def _subject_in_many_models() -> inv.DataSubject:
    """Three records in every inventory model, consent events and state, a case with its timeline."""
    subject = full_subject_with_records(3, email="many@example.com", name="Many Models")
    for purpose in ("marketing_email", "marketing_phone", "marketing_email"):
        consent_grant(
            subject_id=subject.pk, purpose=purpose, channel=Channel.WEB_FORM, evidence={"ip": "203.0.113.9"}
        )
    make_case(subject_email="many@example.com", subject_name="Many Models")
    return subject


def _lose_discovery_statements() -> None:
    """The session loses discovery's prepared statements (a pooler's other session, or DISCARD ALL).

    Only discovery's: other modules' statements on this connection (the retention sweep's window) stay,
    as their own bookkeeping expects for the tests that run after this one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'privacyops_discovery_%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f"DEALLOCATE {name}")


def _new_session() -> None:
    """What a new database session has: no prepared statement (and discovery knows it)."""
    _lose_discovery_statements()
    held = core.prepared.names(connection.connection)
    core.prepared.forget(connection.connection, *[n for n in held if n.startswith("privacyops_discovery_")])


def _per_model_orm(entry, subject_id: int, limit: int | None = None) -> list:
    qs = entry.for_subject(subject_id)
    if limit is not None:
        qs = qs.order_by(f"-{entry.collected_at}", "-pk")[: limit + 1]
    return list(qs)


def _comparable(entry, records: list, ordered: bool) -> list:
    values = [_typed_values(r) for r in records]
    return values if ordered else sorted(values, key=lambda v: v[0][2])  # by pk where no order is defined


def test_discovery_gives_the_per_model_querysets_instances_values_and_order():
    subject = _subject_in_many_models()
    other = full_subject_with_records(2)
    found = selectors.records_for_subject(subject.pk)
    assert [f.entry for f in found] == list(registry)
    with_records = {f.entry.label for f in found if f.records}
    assert len(with_records) >= 11, with_records  # inventory's 7, consent's event and state, the case's
    for f in found:
        expected = _per_model_orm(f.entry, subject.pk)
        ordered = bool(f.entry.model._meta.ordering)  # without Meta.ordering neither path promises one
        assert _comparable(f.entry, f.records, ordered) == _comparable(f.entry, expected, ordered), (
            f.entry.label
        )
        assert all(
            type(r) is f.entry.model and not r._state.adding and r._state.db == "default" for r in f.records
        )
    by_model = {f.entry.model: f.records for f in found}
    assert all(isinstance(p.topics, list) for p in by_model[inv.MarketingPreference])  # from_db_value: JSON
    assert len(by_model[inv.ActivityEvent]) == 3 and by_model[inv.DataSubject] == [subject]
    # Sealed fields come back as the stored ciphertext, and open with the subject's key.
    answers = [record_reveal(r, subject_id=subject.pk)["answer"] for r in by_model[inv.SurveyResponse]]
    assert any(a.startswith("Inventory counts, says Many Models") for a in answers)
    assert other.pk not in {getattr(r, "subject_id", r.pk) for f in found for r in f.records}


def test_discovery_with_a_limit_gives_the_newest_records_of_each_model_and_says_when_it_cut():
    subject = _subject_in_many_models()
    found = selectors.records_for_subject(subject.pk, limit=2)
    assert [f.entry for f in found] == list(registry)
    for f in found:
        expected = _per_model_orm(f.entry, subject.pk, limit=2)
        assert [_typed_values(r) for r in f.records] == [_typed_values(r) for r in expected[:2]], (
            f.entry.label
        )
        assert f.truncated is (len(expected) > 2), f.entry.label
    assert {f.entry.model: f.truncated for f in found}[inv.ActivityEvent] is True


@pytest.mark.parametrize("limit", [None, 2])
def test_discovery_is_one_query_whatever_the_number_of_registered_models(
    limit, monkeypatch, django_assert_num_queries
):
    subject = _subject_in_many_models()
    selectors.records_for_subject(subject.pk, limit=limit)  # compiles and prepares
    with django_assert_num_queries(1):
        found = selectors.records_for_subject(subject.pk, limit=limit)
    assert sum(len(f.records) for f in found) > 20
    for keep in (1, 4):
        monkeypatch.setattr(registry, "_entries", dict(list(registry._entries.items())[:keep]))
        with django_assert_num_queries(1):
            assert len(selectors.records_for_subject(subject.pk, limit=limit)) == keep
        monkeypatch.undo()


@pytest.mark.parametrize("prepared", [True, False])
def test_the_first_discovery_on_a_session_is_one_query_too(prepared, settings, django_assert_num_queries):
    settings.DISCOVERY_PREPARED_STATEMENTS = prepared
    subject = _subject_in_many_models()
    selectors.records_for_subject(subject.pk)  # the registry is compiled (no query of its own)
    _new_session()
    with django_assert_num_queries(1) as captured:
        first = selectors.records_for_subject(subject.pk)
    assert captured.captured_queries[0]["sql"].startswith(
        "PREPARE " if prepared else "SELECT * FROM ((SELECT "
    )
    with django_assert_num_queries(1) as captured:
        again = selectors.records_for_subject(subject.pk)
    assert captured.captured_queries[0]["sql"].startswith(
        "EXECUTE " if prepared else "SELECT * FROM ((SELECT "
    )
    assert [[r.pk for r in f.records] for f in first] == [[r.pk for r in f.records] for f in again]


def test_a_statement_the_session_lost_fails_inside_a_transaction_and_is_prepared_again_after():
    subject = _subject_in_many_models()
    selectors.records_for_subject(subject.pk)
    _lose_discovery_statements()
    with pytest.raises(DatabaseError), transaction.atomic():
        selectors.records_for_subject(subject.pk)
    assert len(selectors.records_for_subject(subject.pk)[0].records) == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_lost_statement_is_prepared_again_at_once(django_assert_num_queries):
    subject = DataSubjectFactory()
    selectors.records_for_subject(subject.pk)
    _lose_discovery_statements()
    with django_assert_num_queries(2):  # the failed EXECUTE, then PREPARE + EXECUTE
        found = selectors.records_for_subject(subject.pk)
    assert {f.entry.model: f.records for f in found}[inv.DataSubject] == [subject]


def test_a_failing_discovery_statement_raises_a_django_error_and_the_connection_recovers():
    subject = full_subject_with_records(1)
    selectors.records_for_subject(subject.pk)  # compiles and caches the plan
    plan = selectors._discovery_plan(None)
    working = plan.unions[0]
    plan.unions[0] = dataclasses.replace(working, sql="(SELECT * FROM no_such_table WHERE id = %s)")
    try:
        with pytest.raises(DatabaseError), transaction.atomic():
            selectors.records_for_subject(subject.pk)
    finally:
        plan.unions[0] = working
    found = {f.entry.label: f.records for f in selectors.records_for_subject(subject.pk)}
    assert len(found["inventory.ActivityEvent"]) == 1


def test_text_that_needs_quoting_in_a_record_comes_back_unchanged():
    """Each row travels as a ROW(): quotes, backslashes, commas, brackets, new lines, empty vs NULL."""
    subject = full_subject_with_records(1)
    awkward = 'a "quoted", (bracketed) \\ back\\\\slash\nline {brace} é ✓ NULL '
    inv.ActivityEvent.objects.filter(subject=subject).update(
        target=awkward, device_id="", ip_address="2001:db8::1"
    )
    inv.MarketingPreference.objects.filter(subject=subject).update(topics=[awkward, {"k": '"\\'}, None, 1.5])
    inv.CompanyAffiliation.objects.filter(subject=subject).update(company_name=" ", job_title="NULL")
    found = {f.entry.model: f.records for f in selectors.records_for_subject(subject.pk)}
    for model in (inv.ActivityEvent, inv.MarketingPreference, inv.CompanyAffiliation):
        expected = list(model.objects.filter(subject=subject))
        assert [_typed_values(r) for r in found[model]] == [_typed_values(r) for r in expected], model
    event = found[inv.ActivityEvent][0]
    assert (event.target, event.device_id, event.ip_address) == (awkward, "", "2001:db8::1")
    assert found[inv.MarketingPreference][0].topics == [awkward, {"k": '"\\'}, None, 1.5]
    assert (found[inv.CompanyAffiliation][0].company_name, found[inv.CompanyAffiliation][0].job_title) == (
        " ",
        "NULL",
    )
