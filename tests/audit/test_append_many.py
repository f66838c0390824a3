"""audit_record_many: several events chained in one statement, hashed exactly as compute_hash does."""

import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from audit.selectors import verify_chain
from audit.services import audit_record, audit_record_many

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_events_appended_together_continue_the_chain_and_verify():
    user = get_user_model().objects.create_user("officer-many", password="x" * 16)
    audit_record(action="first.single", actor="job")
    audit_record_many(
        [
            {"action": "subject.created", "actor": "website", "target_type": "inventory.datasubject",
             "target_id": 7, "subject_id": 7},
            {"action": "consent.events_recorded", "actor": user, "subject_id": 7,
             "details": {"z": 1, "a": ["é", None, 2.5], "nested": {"b": True}}},
        ]
    )  # fmt: skip
    audit_record(action="last.single")
    events = list(AuditEvent.objects.order_by("id"))
    assert [e.action for e in events][-4:] == [
        "first.single",
        "subject.created",
        "consent.events_recorded",
        "last.single",
    ]
    assert events[-2].actor_id == user.pk and events[-2].details["a"] == ["é", None, 2.5]
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert verify_chain() == (len(events), None)


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_one_statement_commits_by_itself():
    from django.db import connection

    assert connection.get_autocommit()
    audit_record(action="before.single", actor="job")
    audit_record_many([{"action": "alone.one", "actor": "job"}, {"action": "alone.two", "actor": "job"}])
    assert not connection.in_atomic_block
    assert [e.action for e in AuditEvent.objects.order_by("id")][-3:] == [
        "before.single",
        "alone.one",
        "alone.two",
    ]
    assert verify_chain()[1] is None
