"""seed_demo: deterministic, realistic demo data in every category, sealed like real data."""

import datetime as dt
import importlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models.functions import Lower

from audit.models import AuditEvent
from inventory import models as inv
from inventory.registry import registry
from inventory.selectors import records_for_subject, subject_find_by_email
from inventory.services import age_on, record_reveal

AS_OF = "2025-06-01T12:00:00+00:00"
SEEDED = ["DataSubject", "DataKey"] + [
    e.model.__name__ for e in registry if e.model._meta.app_label == "inventory" and e.subject
]


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True  # seed_demo refuses to invent people in production mode


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", as_of=dt.datetime.fromisoformat(AS_OF), verbosity=0, stdout=out, **options)
    return out.getvalue()


def _wipe() -> None:
    """Remove seeded rows, children first (deletes are PROTECTed the other way round)."""
    for name in reversed(SEEDED):
        getattr(inv, name).objects.all()._raw_delete(connection.alias)


def snapshot() -> list[tuple]:
    """Everything a person would see, in plaintext (sealed values opened), in generation order."""
    rows = []
    for subject in inv.DataSubject.objects.order_by("pk"):
        opened = record_reveal(subject)["date_of_birth"]
        records = []
        for found in records_for_subject(subject.pk):
            for record in sorted(found.records, key=lambda r: r.pk):
                if found.entry.model is inv.DataSubject:
                    continue
                values = {
                    f.attname: getattr(record, f.attname)
                    for f in record._meta.concrete_fields
                    if f.attname not in {"id", "subject_id"} and f.name not in found.entry.encrypted_fields
                }
                values.update(record_reveal(record, subject_id=subject.pk))
                records.append((found.entry.label, sorted(values.items(), key=lambda kv: kv[0])))
        rows.append(
            (subject.public_id, subject.kind, subject.name, subject.email, subject.email_normalized, subject.phone,
             subject.postal_address, subject.company, subject.role, subject.country, subject.region,
             subject.is_minor, subject.created_at, opened, records)
        )  # fmt: skip
    return rows


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_people_and_another_seed_does_not(debug_on):
    seed(subjects=60, seed=5, batch_size=25)
    first = snapshot()
    _wipe()
    seed(subjects=60, seed=5, batch_size=7)  # batch size must not matter
    assert snapshot() == first
    _wipe()
    seed(subjects=60, seed=6)
    other = snapshot()
    assert [r[0] for r in other] != [r[0] for r in first]
    assert [r[2] for r in other] != [r[2] for r in first]


@pytest.mark.django_db
def test_counts_and_records_in_every_registered_category(debug_on):
    output = seed(subjects=400, seed=1)
    assert "Seeded 400 subjects" in output
    assert inv.DataSubject.objects.count() == 400
    assert inv.DataKey.objects.count() == 400
    assert inv.DataKey.objects.filter(wrapped="").count() == 0
    for entry in registry:
        if entry.model._meta.app_label == "inventory":
            assert entry.all().exists(), f"no {entry.label} rows"
    assert inv.ActivityEvent.objects.count() > inv.DataSubject.objects.count()  # several events each
    assert AuditEvent.objects.filter(action="demo.seeded").count() == 1
    event = AuditEvent.objects.get(action="demo.seeded")
    assert event.details["rows"]["inventory.DataSubject"] == 400


@pytest.mark.django_db
def test_jurisdictions_kinds_and_companies_are_varied(debug_on):
    seed(subjects=400, seed=1)
    places = set(inv.DataSubject.objects.values_list("country", "region").distinct())
    assert ("US", "CA") in places
    assert {r for c, r in places if c == "US"} - {"CA"}, "no other US state"
    assert {"DE", "FR", "IE", "NL", "GB"} <= {c for c, _r in places}
    kinds = set(inv.DataSubject.objects.values_list("kind", flat=True))
    assert kinds == {"person", "entity"}
    california = inv.DataSubject.objects.filter(country="US", region="CA").count()
    assert 0.2 < california / 400 < 0.4
    assert inv.CompanyAffiliation.objects.values("company_name").distinct().count() > 10
    entity = inv.DataSubject.objects.filter(kind="entity").first()
    assert entity.company == entity.name and entity.date_of_birth == ""


@pytest.mark.django_db
def test_minors_are_flagged_from_their_date_of_birth(debug_on):
    seed(subjects=400, seed=1)
    as_of = dt.datetime.fromisoformat(AS_OF).date()
    minors = 0
    for subject in inv.DataSubject.objects.exclude(date_of_birth=""):
        born = dt.date.fromisoformat(record_reveal(subject)["date_of_birth"])
        assert subject.is_minor == (age_on(born, as_of) < 18), subject.pk
        minors += subject.is_minor
    assert minors >= 3
    assert not inv.DataSubject.objects.filter(is_minor=True, date_of_birth="").exists()


@pytest.mark.django_db
def test_sealed_fields_are_ciphertext_and_open_with_the_subjects_key(debug_on):
    seed(subjects=200, seed=1)
    account = inv.UserAccount.objects.exclude(payment_method_reference="").first()
    assert not account.payment_method_reference.startswith("pm_")
    assert record_reveal(account)["payment_method_reference"].startswith("pm_")
    survey = inv.SurveyResponse.objects.first()
    assert record_reveal(survey)["answer"]
    subject = inv.DataSubject.objects.exclude(date_of_birth="").first()
    dt.date.fromisoformat(record_reveal(subject)["date_of_birth"])  # a real date


@pytest.mark.django_db
def test_messy_emails_are_found_by_normalized_lookup(debug_on):
    seed(subjects=400, seed=1)
    messy = inv.DataSubject.objects.exclude(email=Lower("email")).first()
    assert messy is not None, "the demo should include mixed-case or padded addresses"
    assert subject_find_by_email(messy.email.strip().swapcase()) == messy


@pytest.mark.django_db
def test_third_parties_and_external_systems_are_created_once(debug_on):
    seed(subjects=50, seed=1)
    seed(subjects=10, seed=1, append=True)
    kinds = set(inv.ThirdParty.objects.values_list("kind", flat=True))
    assert {"service_provider", "affiliate", "marketing_partner"} <= kinds
    assert inv.ThirdParty.objects.filter(kind="affiliate", same_brand_affiliate=True).exists()
    assert inv.ThirdParty.objects.filter(kind="affiliate", same_brand_affiliate=False).exists()
    assert all(p.nature_of_business and p.postal_address for p in inv.ThirdParty.objects.all())
    external = inv.System.objects.filter(kind="external")
    assert external.count() >= 2 and all(s.provider_id for s in external)
    assert inv.ActivityEvent.objects.filter(system__kind="external").exists()


@pytest.mark.django_db
def test_refuses_a_non_empty_database_unless_appending(debug_on):
    seed(subjects=20, seed=1)
    with pytest.raises(CommandError, match="already holds 20 subjects"):
        seed(subjects=20, seed=1)
    seed(subjects=20, seed=1, append=True)  # continues with new people, no public id collision
    assert inv.DataSubject.objects.count() == 40
    assert inv.DataSubject.objects.values("public_id").distinct().count() == 40


@pytest.mark.django_db
def test_refuses_to_run_in_production_mode(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        seed(subjects=5, seed=1)
    assert not inv.DataSubject.objects.exists()


@pytest.fixture
def reference_rows():
    """The migration's sources and systems, which an earlier transactional test's flush may have removed."""
    from django.apps import apps

    importlib.import_module("inventory.migrations.0002_reference_data").seed(apps, None)


# Transactional: the workers are forked processes and the parent closes its connection first.
# PostgreSQL only: on SQLite the flush after a transactional test is a DELETE, which the audit
# table's append-only trigger refuses once seed_demo has written its audit event.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_processes_produce_the_same_data_as_one_process(debug_on, reference_rows):
    seed(subjects=40, seed=9, batch_size=10, workers=2)
    with_workers = snapshot()
    _wipe()
    seed(subjects=40, seed=9, batch_size=40, workers=0)
    assert snapshot() == with_workers
