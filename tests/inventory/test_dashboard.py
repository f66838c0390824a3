"""The admin index shows each app's dashboard cards; the inventory's come from aggregate queries."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory import dashboard as inventory_dashboard
from inventory.models import DataSubject
from privacyops.dashboard import Card, collect_cards
from tests.factories import DataSubjectFactory, make_full_subject, years_ago

from .factories import PASSWORD, make_user


def _cards(response) -> dict[str, str]:
    """Card title -> value, parsed from the rendered index."""
    html = response.content.decode()
    assert 'id="dashboard"' in html
    sections = {s.app_label: s for s in collect_cards(response.wsgi_request)}
    return {c.title: str(c.value) for c in sections["inventory"].cards}


@pytest.mark.django_db
def test_admin_index_renders_the_inventory_cards(client):
    make_full_subject()
    DataSubjectFactory(date_of_birth=years_ago(15))  # a minor, in California
    DataSubjectFactory(kind="entity", country="DE", region="BY", date_of_birth=None)
    make_user("officer", role="Privacy officer")
    client.login(username="officer", password=PASSWORD)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-app="inventory"' in html
    for title in ["Data subjects", "California residents", "Minors", "Erased subjects"]:
        assert title in html
    assert "Policy §9: minors are not eligible" in html
    cards = _cards(response)
    assert cards["Data subjects"] == "3"
    assert cards["California residents"] == "2"
    assert cards["Minors"] == "1"
    assert cards["Website and email activity data"] == "1"  # records per category
    assert cards["User account information"] == "1"
    assert "?is_minor__exact=1" in html  # cards link to the filtered changelist


@pytest.mark.django_db
def test_inventory_cards_need_the_view_permission(client):
    make_full_subject()
    make_user("clerk")  # staff, no role
    client.login(username="clerk", password=PASSWORD)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert 'data-app="inventory"' not in response.content.decode()


@pytest.mark.django_db
def test_a_failing_dashboard_shows_an_error_card_and_the_index_still_renders(client, monkeypatch):
    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(inventory_dashboard, "dashboard_cards", broken)
    make_user("root", superuser=True)
    client.login(username="root", password=PASSWORD)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "Dashboard unavailable" in response.content.decode()


@pytest.mark.django_db
def test_dashboard_query_count_does_not_grow_with_subjects(rf):
    from django.contrib.auth import get_user_model

    make_user("root", superuser=True)
    request = rf.get("/admin/")
    request.user = get_user_model().objects.get(username="root")
    make_full_subject()
    with CaptureQueriesContext(connection) as few:
        cards = inventory_dashboard.dashboard_cards(request)
    assert all(isinstance(c, Card) for c in cards)
    from django.core.cache import cache

    cache.clear()
    for _ in range(5):
        make_full_subject()
    with CaptureQueriesContext(connection) as many:
        inventory_dashboard.dashboard_cards(request)
    assert len(many) == len(few)
    with CaptureQueriesContext(connection) as cached:
        inventory_dashboard.dashboard_cards(request)
    assert len(cached) == 0  # cached for a minute


@pytest.mark.django_db
def test_bootstrap_loads_demo_data_and_the_admin_lists_the_apps(client, settings, tmp_path):
    """What `make run` does before runserver: schedules, demo data, an admin login that works."""
    settings.BASE_DIR = tmp_path  # the generated password file goes here, not into the work tree
    settings.DEBUG = True  # as `make run` sets it; seed_demo refuses to invent people otherwise
    call_command("bootstrap", demo_subjects=150, stdout=io.StringIO())
    password = (tmp_path / ".admin-password").read_text().strip()
    assert client.login(username="admin", password=password)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    app_labels = {app["app_label"] for app in response.context["app_list"]}
    assert {"inventory", "audit", "auth"} <= app_labels
    for link in ["inventory/datasubject/", "inventory/thirdparty/", "audit/auditevent/"]:
        assert link in html
    # 150 demo subjects, plus the demo cases' requesters, less those the demo sweep and erasure case erased
    live = DataSubject.objects.filter(erased_at__isnull=True).count()
    assert live >= 150 and _cards(response)["Data subjects"] == f"{live:,}"
