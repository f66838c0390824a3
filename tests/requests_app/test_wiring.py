"""The app plugs into the project by convention: registry, schedules, roles, OpenAPI, public URLs."""

import pytest
from celery import current_app

from inventory.registry import registry
from privacyops.roles import permission_matrix
from privacyops.schedules import default_schedules
from requests_app.models import CaseEvent, PrivacyRequest, Rectification


def test_cases_personal_data_is_registered_and_the_timeline_is_a_shredded_ledger():
    assert registry.get(PrivacyRequest).field_strategies["requester_email"] == "hash"
    event = registry.get(CaseEvent)
    assert event.append_only and dict(event.field_strategies) == {"note": "crypto_shred"}
    assert registry.get(Rectification).deletes_rows


def test_beat_schedules_name_registered_tasks():
    ours = [s for s in default_schedules() if s.task.startswith("requests_app.")]
    assert {s.task for s in ours} == {
        "requests_app.send_reminders",
        "requests_app.fulfilment_watchdog",
        "requests_app.purge_expired_packages",
        "requests_app.requeue_public_intake",
    }
    current_app.loader.import_default_modules()
    assert all(s.task in current_app.tasks for s in ours)


def test_roles_officers_act_analysts_and_auditors_only_read():
    matrix = permission_matrix()
    assert {"requests_app.fulfil_privacyrequest", "requests_app.deny_privacyrequest"} <= matrix[
        "Privacy officer"
    ]
    for role in ("Analyst", "Auditor"):
        ours = {p for p in matrix[role] if p.startswith("requests_app.")}
        assert ours and all(p.split(".")[1].startswith("view_") for p in ours)


@pytest.mark.django_db
def test_the_intake_api_is_documented_in_openapi(admin_client):
    schema = admin_client.get("/api/schema/").content.decode()
    assert "/api/requests/cases/" in schema
    assert "CaseIntake" in schema
