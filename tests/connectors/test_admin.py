"""The connectors in the admin: write-only credentials, datasets with errors by line, read-only runs."""

import pytest
from django.urls import reverse

from connectors import demo
from connectors.models import Connection, Dataset, SystemRun
from connectors.secrets import open_sealed
from inventory.models import System
from tests.inventory.factories import PASSWORD, make_user


@pytest.fixture
def root_client(client):
    make_user("root", superuser=True)
    client.login(username="root", password=PASSWORD)
    return client


@pytest.fixture
def system(db):
    return System.objects.create(code="crm", name="CRM", kind="external", owner="Sales")


@pytest.mark.django_db
def test_credentials_are_saved_sealed_and_never_shown_again(root_client, system):
    url = "postgresql://crm:VerySecret@db.example/crm"
    response = root_client.post(
        reverse("admin:connectors_connection_add"),
        {"system": system.pk, "kind": "sql", "url": url, "config": "", "owner_email": "",
         "rate_limit_per_second": "0", "row_cap": "10000", "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    conn = Connection.objects.get()
    assert open_sealed(conn.secret) == url and "VerySecret" not in conn.secret
    page = root_client.get(reverse("admin:connectors_connection_change", args=[conn.pk]))
    assert page.status_code == 200 and b"VerySecret" not in page.content
    # saving again with the password field empty keeps the saved credentials
    root_client.post(
        reverse("admin:connectors_connection_change", args=[conn.pk]),
        {"system": system.pk, "kind": "sql", "url": "", "config": "", "owner_email": "",
         "rate_limit_per_second": "0", "row_cap": "500", "enabled": "on"},
    )  # fmt: skip
    conn.refresh_from_db()
    assert open_sealed(conn.secret) == url and conn.row_cap == 500


@pytest.mark.django_db
def test_a_dataset_with_a_bad_reference_is_refused_with_its_line(root_client, system):
    text = demo.dataset_text().replace("field: orders.id", "field: orders.nope")
    response = root_client.post(
        reverse("admin:connectors_dataset_add"),
        {"system": system.pk, "text": text, "category_map": "{}", "erase_json": "{}"},
    )
    assert response.status_code == 200
    assert b"order_lines.order_id references unknown field orders.nope" in response.content
    assert b"line 78: order_lines.order_id" in response.content
    assert not Dataset.objects.exists()


@pytest.mark.django_db
def test_a_good_dataset_is_saved_through_the_service(root_client, system):
    response = root_client.post(
        reverse("admin:connectors_dataset_add"),
        {"system": system.pk, "text": demo.dataset_text(), "category_map": "{}",
         "erase_json": '{"tickets": "delete"}'},
    )  # fmt: skip
    assert response.status_code == 302
    assert Dataset.objects.get().erase == {"tickets": "delete"}


@pytest.mark.django_db
def test_runs_are_read_only_evidence(root_client, system):
    run = SystemRun.objects.create(case_id=1, system=system, action="access", status="failed", error="X: y")
    assert root_client.get(reverse("admin:connectors_systemrun_changelist")).status_code == 200
    page = root_client.get(reverse("admin:connectors_systemrun_change", args=[run.pk]))
    assert page.status_code == 200 and b'name="status"' not in page.content
    assert root_client.get(reverse("admin:connectors_systemrun_add")).status_code == 403
