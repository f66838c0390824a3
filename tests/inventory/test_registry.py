"""The registry knows every model that holds personal data, and discovery finds exactly a subject's records."""

import pytest
from django.apps import apps
from django.core import checks
from django.db import connection

from inventory.models import DataCategory, DataSubject
from inventory.registry import registry
from inventory.selectors import records_for_subject, records_in_category
from tests.factories import make_full_subject


def _links_to_subject(model) -> bool:
    return any(
        getattr(f, "related_model", None) is DataSubject and (f.many_to_one or f.one_to_one)
        for f in model._meta.concrete_fields
    )


def test_every_model_with_a_foreign_key_to_data_subject_is_registered_or_exempted():
    missing = [
        m._meta.label for m in apps.get_models() if _links_to_subject(m) and not registry.is_covered(m)
    ]
    assert missing == [], f"Register these in the personal-data registry: {missing}"


def test_exemptions_give_a_reason():
    assert all(reason.strip() for reason in registry.exemptions.values())


@pytest.mark.django_db
def test_every_registered_category_is_a_seeded_data_category():
    seeded = set(DataCategory.objects.values_list("code", flat=True))
    assert {e.category for e in registry} <= seeded


def test_registry_system_check_passes_for_the_shipped_registrations():
    errors = [m for m in checks.run_checks() if m.id and m.id.startswith("registry.")]
    assert errors == []


@pytest.mark.django_db
def test_records_for_subject_finds_every_record_of_the_subject_and_none_of_another():
    alice = make_full_subject(email="alice@example.com")
    bob = make_full_subject(email="bob@example.com")
    found = records_for_subject(alice)
    assert {f.entry.label for f in found} == {e.label for e in registry}
    for f in found:
        for record in f.records:
            owner = record.pk if not f.entry.subject else getattr(record, f"{f.entry.subject}_id")
            assert owner == alice.pk, f"{f.entry.label} #{record.pk} belongs to another subject"
    inventory_found = {f.entry.label: len(f.records) for f in found if f.entry.label.startswith("inventory.")}
    # make_full_subject writes one record per inventory model (plus the subject row itself).
    assert inventory_found == dict.fromkeys(inventory_found, 1)
    assert {f.entry.category for f in found if f.records} >= {
        c for c in DataCategory.objects.values_list("code", flat=True)
    }
    assert sum(len(f.records) for f in found) == sum(len(f.records) for f in records_for_subject(bob))


@pytest.mark.django_db
def test_records_for_subject_is_one_query_for_every_registered_model(django_assert_num_queries):
    subject = make_full_subject()
    # Issue 19 (tests/inventory/test_discovery.py); elsewhere one query per model, as before.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else len(registry)):
        records_for_subject(subject.pk)


@pytest.mark.django_db
def test_per_category_querysets_cover_the_categories_models():
    make_full_subject()
    contact_models = {qs.model._meta.label for qs in records_in_category("contact")}
    assert contact_models == {e.label for e in registry if e.category == "contact"}
    assert {"inventory.DataSubject", "inventory.ContactPoint"} <= contact_models
    assert all(qs.exists() for qs in records_in_category("activity"))
