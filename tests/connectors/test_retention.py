"""Retention across systems: an external collection's expired rows (and their dependants) erased in batches."""

import pytest
import time_machine

from connectors.models import ErasureJournal
from connectors.services import external_retention_sweep
from retention.tasks import sweep  # registered before the real worker starts

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


# --- the retention app's schedules and sweeps reach external collections ------------------------------


def _external_schedule(system, collection, field, *, days, category="activity"):
    from inventory.models import DataCategory
    from retention.services import retention_schedule_create

    return retention_schedule_create(
        category=DataCategory.objects.get(code=category), system=system, period_days=days,
        external_collection=collection, external_timestamp_field=field, legal_basis="Orders: 30 days",
        citation="Policy §8", actor="test",
    )  # fmt: skip


def _sweep(trigger="command"):
    from retention.services import sweep_execute, sweep_request

    return sweep_execute(run_id=sweep_request(dispatch=False, trigger=trigger).pk)


@pytest.mark.django_db
def test_the_regular_sweep_erases_an_external_collection_and_certifies_it(crm_system, crm_url):
    from retention.models import RetentionSchedule

    RetentionSchedule.objects.update(active=False)  # only the external schedule runs
    schedule = _external_schedule(crm_system, "orders", "placed_at", days=30)
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        run = _sweep()
    assert run.status == "done"
    assert count(crm_url, "orders", "shipping_address IS NOT NULL") == 0
    assert count(crm_url, "order_lines", "gift_message IS NOT NULL") == 0
    [line] = run.certificate.summary["systems"]
    assert line["system"] == "crm" and line["collection"] == "orders" and line["schedule"] == schedule.pk
    assert line["counts"] == {"orders": 16, "order_lines": 32} and line["erased"] == 48
    assert run.certificate.erased_count == 48 and run.erased_count == 48
    journaled = ErasureJournal.objects.filter(system=crm_system)
    assert {j.sweep_reference for j in journaled} == {f"retention:{schedule.pk}:sweep:{run.pk}"}
    # A second sweep finds the rows already erased: nothing more is claimed or journaled.
    with time_machine.travel("2026-03-02 12:00Z", tick=False):
        again = _sweep()
    assert again.certificate.summary["systems"][0]["counts"] == {} and again.erased_count == 0
    assert ErasureJournal.objects.filter(system=crm_system).count() == journaled.count()


@pytest.mark.django_db
def test_the_dry_run_forecasts_the_external_rows_the_sweep_then_erases(crm_system, crm_url):
    from retention.dry_run import sweep_dry_run
    from retention.models import RetentionSchedule

    RetentionSchedule.objects.update(active=False)
    _external_schedule(crm_system, "orders", "placed_at", days=30)
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        dry = sweep_dry_run(include_minors=False)
        [row] = [r for r in dry.rows if r.model_label == "crm:orders"]
        assert (row.would_erase, row.held, row.error) == (48, 0, "")
        assert count(crm_url, "orders", "shipping_address IS NOT NULL") == 16  # the dry run wrote nothing
        assert _sweep().erased_count == dry.would_erase
    with time_machine.travel("2026-01-10 12:00Z", tick=False):
        assert [r.would_erase for r in sweep_dry_run(include_minors=False).rows] == [0]


@pytest.mark.django_db
def test_a_legal_hold_keeps_the_held_subjects_rows_in_the_other_system(crm_system, crm_url):
    from retention.models import RetentionSchedule
    from retention.services import legal_hold_place
    from tests.retention import factories as f

    RetentionSchedule.objects.update(active=False)
    _external_schedule(crm_system, "newsletter_subscriptions", "subscribed_at", days=30, category="marketing")
    jane = f.subject(email="Jane@example.com")
    legal_hold_place(subject_id=jane.pk, reason="Litigation", owner="Legal", actor="test")
    with time_machine.travel("2026-12-01 12:00Z", tick=False):
        run = _sweep(trigger="admin")
    assert count(crm_url, "newsletter_subscriptions") == 1
    [line] = run.certificate.summary["systems"]
    assert line["counts"] == {"newsletter_subscriptions": 7} and line["kept"] == 1
    assert run.kept_count == 1


@pytest.mark.django_db
def test_an_external_schedule_must_name_a_described_collection_and_field(crm_system):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="not in the datasets"):
        _external_schedule(crm_system, "nope", "placed_at", days=30)
    with pytest.raises(ValidationError, match="orders.nope is not in the dataset"):
        _external_schedule(crm_system, "orders", "nope", days=30)


@pytest.mark.django_db
def test_the_admin_adds_an_external_schedule_after_previewing_its_rows(crm_system, crm_url, admin_client):
    from django.urls import reverse

    from inventory.models import DataCategory
    from retention.models import RetentionSchedule

    url = reverse("admin:retention_retentionschedule_add")
    data = {"category": DataCategory.objects.get(code="activity").pk, "model_label": "", "system": crm_system.pk,
            "period_days": 30, "period_months": 0, "anchor": "collected", "action": "delete",
            "external_collection": "orders", "external_timestamp_field": "placed_at",
            "legal_basis": "Orders: 30 days", "citation": "Policy §8", "active": "on", "_save": "Save"}  # fmt: skip
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        preview = admin_client.post(url, data).content.decode()
        assert "This change would erase 48 records now" in preview and "crm:orders" in preview
        assert count(crm_url, "orders", "shipping_address IS NOT NULL") == 16  # a preview erases nothing
        assert admin_client.post(url, {**data, "_confirmed": "1"}).status_code == 302
    schedule = RetentionSchedule.objects.get(external_collection="orders")
    assert (schedule.system, schedule.external_timestamp_field, schedule.period_days) == (
        crm_system,
        "placed_at",
        30,
    )
    bad = admin_client.post(url, {**data, "external_collection": "invoices_typo"}).content.decode()
    assert "is not in the datasets of" in bad


@pytest.mark.redis
def test_the_daily_sweep_task_reaches_the_external_collection_on_a_real_worker(
    celery_worker, crm_system, crm_url
):
    import time

    from retention.models import RetentionSchedule, SweepRun

    RetentionSchedule.objects.update(active=False)
    schedule = _external_schedule(crm_system, "orders", "placed_at", days=30)  # orders are from 2026-01-01
    sweep.delay()  # what django-celery-beat sends every day
    deadline = time.monotonic() + 90
    while not SweepRun.objects.exclude(status="running").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    run = SweepRun.objects.get()
    assert run.status == "done", run.status
    [line] = run.certificate.summary["systems"]
    assert line["counts"] == {"orders": 16, "order_lines": 32} and line["schedule"] == schedule.pk
    assert count(crm_url, "orders", "shipping_address IS NOT NULL") == 0


@pytest.mark.django_db
def test_a_held_subjects_orders_are_kept_though_orders_have_no_identity_field(crm_system, crm_url):
    from retention.models import RetentionSchedule
    from retention.services import legal_hold_place
    from tests.retention import factories as f

    RetentionSchedule.objects.update(active=False)
    _external_schedule(crm_system, "orders", "placed_at", days=30)
    jane = f.subject(email="jane@example.com")
    legal_hold_place(subject_id=jane.pk, reason="Litigation", owner="Legal", actor="test")
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        run = _sweep()
    # Jane's 2 orders are reached from her customer row (orders.customer_id -> customers.id) and kept,
    # with their 4 lines; everyone else's 14 orders and 28 lines are erased.
    [line] = run.certificate.summary["systems"]
    assert line["counts"] == {"orders": 14, "order_lines": 28} and line["kept"] == 2
    janes = "customer_id IN (SELECT id FROM customers WHERE email = 'jane@example.com')"
    assert count(crm_url, "orders", f"shipping_address IS NOT NULL AND {janes}") == 2
    assert count(crm_url, "orders", "shipping_address IS NOT NULL") == 2
