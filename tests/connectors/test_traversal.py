"""Access traversal on PostgreSQL, MariaDB and SQLite: the rows an identity reaches, by collection."""

import pytest

from connectors import demo
from connectors.services import dataset_import, system_access

from .conftest import JANE


@pytest.mark.django_db
def test_email_reaches_every_collection_two_reference_levels_deep(crm_system):
    found = system_access(system=crm_system, identities={"email": [JANE["email"]]})
    assert found.counts() == {
        "customers": 1,
        "contacts": 1,
        "orders": 2,
        "order_lines": 4,
        "invoices": 1,
        "tickets": 1,
        "ticket_messages": 2,
        "newsletter_subscriptions": 1,
    }
    rows = found.as_json()
    assert rows["customers"][0]["name"] == "Jane Roe"
    assert {r["order_id"] for r in rows["order_lines"]} == {r["id"] for r in rows["orders"]}


@pytest.mark.django_db
def test_traversal_is_one_statement_when_references_point_one_way(crm_system):
    found = system_access(system=crm_system, identities={"email": [JANE["email"]]})
    assert found.queries == 1


@pytest.mark.django_db
def test_undirected_references_traverse_step_by_step_with_the_same_rows(crm_system):
    one_way = system_access(system=crm_system, identities={"email": [JANE["email"]]})
    text = demo.dataset_text().replace("                  direction: from\n", "")
    dataset_import(system=crm_system, text=text, erase=demo.DEMO_ERASE, actor="test")
    both_ways = system_access(system=crm_system, identities={"email": [JANE["email"]]})
    assert both_ways.queries > 1  # one per collection and step; the cycles end when no value is new
    assert both_ways.counts() == one_way.counts()
    ids = {c: sorted(r["id"] for r in rows) for c, rows in both_ways.as_json().items()}
    assert ids == {c: sorted(r["id"] for r in rows) for c, rows in one_way.as_json().items()}


@pytest.mark.django_db
def test_email_matches_whatever_its_case(crm_system):
    found = system_access(system=crm_system, identities={"email": ["  JANE@Example.com"]})
    assert found.counts()["customers"] == 1


@pytest.mark.django_db
def test_customer_reference_and_phone_are_identities_too(crm_system):
    by_ref = system_access(system=crm_system, identities={"customer_reference": ["C-0001"]})
    by_phone = system_access(system=crm_system, identities={"phone_number": ["+15550001"]})
    assert by_ref.counts() == by_phone.counts()
    assert by_ref.counts()["order_lines"] == 4
    assert "newsletter_subscriptions" not in by_ref.counts()  # reached by email only


@pytest.mark.django_db
def test_unknown_identity_returns_nothing(crm_system):
    assert system_access(system=crm_system, identities={"email": ["nobody@example.com"]}).counts() == {}


@pytest.mark.django_db
def test_row_cap_marks_the_collection_truncated_instead_of_failing(crm_system):
    crm_system.connection.row_cap = 3
    crm_system.connection.save()
    found = system_access(system=crm_system, identities={"email": [JANE["email"]]})
    assert found.counts()["order_lines"] == 3
    assert found.truncated == ["order_lines"]


@pytest.mark.django_db
def test_identities_with_quotes_percent_signs_and_backslashes_are_looked_up_as_written(crm_system):
    """On PostgreSQL the statement goes to psycopg itself (its placeholders are '%s'): values stay values."""
    for odd in ["o'brien@example.com", "100%@example.com", "%(p0)s@example.com", "back\\slash@example.com"]:
        assert system_access(system=crm_system, identities={"email": [odd]}).counts() == {}
    found = system_access(system=crm_system, identities={"email": ["x') OR ('1'='1", JANE["email"]]})
    assert found.counts()["customers"] == 1 and found.queries == 1
