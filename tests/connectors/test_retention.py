"""Retention across systems: an external collection's expired rows (and their dependants) erased in batches."""

import pytest
import time_machine

from connectors.models import ErasureJournal
from connectors.services import external_retention_sweep

from .conftest import count


@pytest.mark.django_db
def test_orders_older_than_the_period_are_erased_with_their_lines(crm_system, crm_url):
    # placed_at is 2026-01-01 12:00 for every order: on 2026-03-01 a 30-day period expires them all.
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        counts = external_retention_sweep(
            system=crm_system, collection="orders", timestamp_field="placed_at", period_days=30,
            sweep_reference="orders-30d", batch_rows=5,
        )  # fmt: skip
    assert counts == {"orders": 16, "order_lines": 32}
    assert count(crm_url, "orders", "shipping_address IS NOT NULL") == 0
    assert count(crm_url, "order_lines", "gift_message IS NOT NULL") == 0
    assert count(crm_url, "customers", "email LIKE '%@%'") == 8  # parents are never reached
    assert ErasureJournal.objects.filter(sweep_reference="orders-30d").count() >= 4  # batches of 5


@pytest.mark.django_db
def test_nothing_expires_within_the_period(crm_system, crm_url):
    with time_machine.travel("2026-01-10 12:00Z", tick=False):
        counts = external_retention_sweep(
            system=crm_system, collection="orders", timestamp_field="placed_at", period_days=30,
            sweep_reference="orders-30d",
        )  # fmt: skip
    assert counts == {}
    assert count(crm_url, "orders", "shipping_address IS NOT NULL") == 16


@pytest.mark.django_db
def test_held_identities_keep_their_rows(crm_system, crm_url):
    with time_machine.travel("2026-12-01 12:00Z", tick=False):
        counts = external_retention_sweep(
            system=crm_system, collection="newsletter_subscriptions", timestamp_field="subscribed_at",
            period_days=30, sweep_reference="news", held_identities={"email": {"Jane@example.com"}},
        )  # fmt: skip
    assert counts == {"newsletter_subscriptions": 7}
    assert count(crm_url, "newsletter_subscriptions") == 1
