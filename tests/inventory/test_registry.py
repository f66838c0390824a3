"""The registry knows every model that holds personal data, and discovery finds exactly a subject's records."""

import pytest
from django.apps import apps
from django.core import checks
from django.core.management import call_command
from django.utils import timezone

from inventory.models import ActivityEvent, DataCategory, DataSubject
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


def _rows_no_factory_writes(subject, case) -> None:
    """A row of each registered model no shared test factory writes, so the subject has them all."""
    from consent.web_models import WebDevice
    from disclosures.models import DisclosureNoticeRequest
    from privacycenter.models import CenterLink
    from requests_app.models import Rectification

    now = timezone.now()
    WebDevice.objects.create(subject=subject, person=subject)
    DisclosureNoticeRequest.objects.create(subject=subject, year=2025, delivered_at=now, statement={})
    CenterLink.objects.create(subject=subject, nonce="n" * 64, created_at=now, expires_at=now)
    Rectification.objects.create(case=case, subject=subject, model_label="inventory.DataSubject",
                                 field_name="name", new_value="New Name", created_at=now)  # fmt: skip


def _as_values(records) -> list[tuple]:
    return [
        (type(r), tuple(getattr(r, f.attname) for f in r._meta.concrete_fields), r._state.db, r._state.adding)
        for r in records
    ]


@pytest.mark.django_db
def test_records_for_subject_is_one_statement_with_the_rows_and_order_of_one_query_per_model(
    django_assert_num_queries,
):
    """Issue 19: discovery is one UNION ALL generated from the registry, one round trip whatever the
    number of registered models, returning exactly what each model's own query returns, in its order."""
    from tests.consent.factories import add_consent_records
    from tests.disclosures.factories import MarketingPartnerFactory, log
    from tests.requests_app.factories import make_case

    subject = make_full_subject()
    add_consent_records(subject)
    case = make_case(subject_email=subject.email, subject_name=subject.name)  # case, its events, its notice
    log(subject, MarketingPartnerFactory(), "email")
    _rows_no_factory_writes(subject, case)
    call_command("seed_demo", subjects=20, seed=3, append=True, force=True, verbosity=0)
    extra = ActivityEvent.objects.filter(subject=subject).first()
    for n in range(3):  # several rows of one model: their order must survive the union
        ActivityEvent.objects.create(
            subject=subject,
            system=extra.system,
            collected_at=extra.collected_at,
            kind="page_view",
            target=f"/p{n}",
        )
    assert [e.label for e in registry if not e.for_subject(subject.pk).exists()] == []
    assert len(registry) > 5
    for subject_id in [subject.pk, *DataSubject.objects.exclude(pk=subject.pk).values_list("pk", flat=True)]:
        with django_assert_num_queries(1):
            found = records_for_subject(subject_id)
        by_model = {f.entry.model: f.records for f in found}
        for entry in registry:
            expected = list(entry.for_subject(subject_id))  # the per-model path: the model's own queryset
            assert _as_values(by_model[entry.model]) == _as_values(expected), entry.label
    assert len(records_for_subject(subject.pk)[0].records) >= 1


@pytest.mark.django_db
def test_per_category_querysets_cover_the_categories_models():
    make_full_subject()
    contact_models = {qs.model._meta.label for qs in records_in_category("contact")}
    assert contact_models == {e.label for e in registry if e.category == "contact"}
    assert {"inventory.DataSubject", "inventory.ContactPoint"} <= contact_models
    assert all(qs.exists() for qs in records_in_category("activity"))
