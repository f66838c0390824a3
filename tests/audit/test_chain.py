"""The audit chain: append-only at the database, and tampering is detected by verify_audit."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from audit.selectors import verify_chain
from audit.services import GENESIS, audit_record


@pytest.mark.django_db
def test_events_are_chained_by_hash():
    first = audit_record(action="test.one", details={"n": 1})
    second = audit_record(action="test.two", details={"n": 2})
    assert first.prev_hash == GENESIS or AuditEvent.objects.filter(pk__lt=first.pk).exists()
    assert second.prev_hash == first.hash
    assert verify_chain() == (AuditEvent.objects.count(), None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement", ["UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent"]
)
def test_database_refuses_update_and_delete(statement):
    audit_record(action="test.protected")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.filter(action="test.protected").exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_verify_audit_reports_the_first_tampered_row():
    audit_record(action="test.a")
    tampered = audit_record(action="test.b", details={"count": 1})
    audit_record(action="test.c")
    call_command("verify_audit")  # intact
    with connection.cursor() as cursor:
        # An attacker with table-owner rights disables the trigger and edits a row.
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        cursor.execute("UPDATE audit_auditevent SET details = '{\"count\": 99}' WHERE id = %s", [tampered.pk])
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")
    with pytest.raises(CommandError, match=f"broken at event #{tampered.pk}"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_audit_details_keep_ids_not_objects():
    event = audit_record(
        action="test.ids", target_type="x", target_id=5, subject_id=7, details={"ids": [1, 2]}
    )
    event.refresh_from_db()
    assert (event.target_id, event.subject_id, event.details) == ("5", 7, {"ids": [1, 2]})
