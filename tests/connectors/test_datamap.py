"""The data map / Art. 30 record: generated from the registry, systems and datasets; what changed since."""

import pytest
from django.urls import reverse

from connectors import demo
from connectors.datamap import as_csv, as_pdf, datamap_generate
from connectors.services import connection_save, dataset_import
from inventory.models import DataSubject, System, ThirdParty

from .test_admin import root_client  # noqa: F401 (fixture)


@pytest.fixture
def crm(db):
    provider = ThirdParty.objects.create(
        legal_name="CRM Hosting Inc.", kind="service_provider", street_address="1 Cloud Way", city="Austin",
        country="US", nature_of_business="CRM hosting",
    )  # fmt: skip
    system = System.objects.create(code="crm", name="CRM", kind="external", owner="Sales", location="US",
                                   provider=provider)  # fmt: skip
    connection_save(system=system, kind="sql", url="sqlite:///unused.db", actor="test")
    dataset_import(system=system, text=demo.dataset_text(), actor="test")
    return system


@pytest.mark.django_db
def test_rows_come_from_the_registry_and_the_datasets_with_transfers(crm):
    DataSubject.objects.create(name="Hans", email="hans@example.de", country="DE")
    System.objects.get_or_create(code="privacyops", defaults={"name": "privacyops database", "kind": "internal",
                                                              "owner": "Privacy"})  # fmt: skip
    snapshot, changes = datamap_generate(actor="officer")
    rows = {(r["system"], r["category"]): r for r in snapshot.rows}
    contact = rows[("crm", "contact")]
    assert contact["recipient"] == "CRM Hosting Inc." and contact["connection"] == "sql"
    assert "customers" in contact["collections"] and "email" in contact["identities"]
    assert contact["transfer"].startswith("EEA subjects' data hosted in US")
    assert ("crm", "company") in rows and ("crm", "activity") not in rows
    assert any(s == "privacyops" for s, _ in rows)  # this database, from the registry
    assert changes.added and not changes.removed


@pytest.mark.django_db
def test_the_next_generation_says_what_changed(crm):
    datamap_generate(actor="officer")
    crm.location = "DE"
    crm.save()
    _, changes = datamap_generate(actor="officer")
    assert (
        "crm / contact: location, transfer" in changes.changed or "crm / contact: location" in changes.changed
    )
    assert not changes.added and not changes.removed


@pytest.mark.django_db
def test_csv_and_pdf_downloads(crm, root_client):  # noqa: F811
    snapshot, _ = datamap_generate(actor="officer")
    assert as_csv(snapshot).splitlines()[0].startswith("system,system_name,kind,connection")
    assert as_pdf(snapshot).startswith(b"%PDF")
    assert root_client.get(reverse("admin:connectors_datamap_csv", args=[snapshot.pk])).status_code == 200
    page = root_client.get(reverse("admin:connectors_datamapsnapshot_changelist"))
    assert b"Generate the data map now" in page.content
    assert root_client.post(reverse("admin:connectors_datamap_generate")).status_code == 302


def _pdf_text(data: bytes) -> str:
    """The page streams of a reportlab PDF, decoded (ASCII85 then Flate), as text."""
    import base64
    import re
    import zlib

    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        chunk = raw.strip()
        for decode in (lambda b: zlib.decompress(base64.a85decode(b, adobe=True)), zlib.decompress):
            try:
                out.append(decode(chunk).decode("latin-1"))
                break
            except Exception:  # noqa: BLE001, S112 (not this encoding: try the next)
                continue
    # Paragraphs wrap: join the shown strings ("(...) Tj") with spaces to read the cells' words in order.
    return " ".join(re.findall(r"\((.*?)\) Tj", "\n".join(out)))


@pytest.mark.django_db
def test_purposes_and_retention_periods_appear_in_the_map_csv_and_pdf(crm):
    from consent.models import Purpose
    from inventory.models import DataCategory
    from retention.models import RetentionSchedule
    from retention.services import retention_schedule_create

    System.objects.get_or_create(code="privacyops", defaults={"name": "privacyops database", "kind": "internal",
                                                              "owner": "Privacy"})  # fmt: skip
    RetentionSchedule.objects.filter(category__code="activity").update(active=False)
    retention_schedule_create(
        category=DataCategory.objects.get(code="activity"), period_months=13, legal_basis="Web analytics: 13 months",
        citation="Policy §8.2", actor="test",
    )  # fmt: skip
    # Stored directly: the service's "would erase now" would open this fixture's placeholder database.
    RetentionSchedule.objects.create(
        category=DataCategory.objects.get(code="contact"), system=crm, period_days=45,
        external_collection="customers", external_timestamp_field="created_at", legal_basis="CRM leads: 45 days",
        citation="Policy §8.4",
    )  # fmt: skip
    purpose = Purpose.objects.get(code="marketing_email")
    snapshot, _ = datamap_generate(actor="officer")
    rows = {(r["system"], r["category"]): r for r in snapshot.rows}

    ours = rows[("privacyops", "activity")]
    assert (
        "13 months after collected" in ours["retention"]
        and ours["retention_basis"] == "Web analytics: 13 months"
    )
    crm_contact = rows[("crm", "contact")]
    assert crm_contact["retention"] == "crm:customers: 45 days after created_at"
    assert crm_contact["retention_basis"] == "CRM leads: 45 days"
    assert rows[("crm", "company")]["retention"] == ""  # no schedule sweeps the CRM's company data
    marketing = rows[("privacyops", "marketing")]
    assert f"{purpose.name} ({purpose.get_legal_basis_display()})" in marketing["purposes"]
    assert ours["purposes"] == ""  # the consent purposes are not claimed for unrelated categories

    header, *lines = as_csv(snapshot).splitlines()
    assert {"purposes", "retention", "retention_basis"} <= set(header.split(","))
    assert any("crm:customers: 45 days after created_at" in line for line in lines)
    text = _pdf_text(as_pdf(snapshot))
    assert "Purposes" in text and "Retention" in text
    assert "45 days after created_at" in text and purpose.name in text
