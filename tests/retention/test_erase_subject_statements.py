"""erase_subject's round trips on PostgreSQL: a fixed number, whatever the subject holds per model.

Every delete and anonymisation, with its journal entry, is in one statement (after one that locks
the values to hash); each audit
append is one statement (audit_chain_append); the key destruction takes no savepoint.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.selectors import verify_chain
from inventory import models as inv
from inventory.services import record_create
from retention.models import ErasureJournal
from retention.services import erase_subject
from tests.factories import make_full_subject

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# SAVEPOINT/RELEASE (the test's transaction), subject, holds, the before-erasure hooks (consent: addresses
# (2), purposes, pairs already listed, insert, audit; access packages), the two erase statements (lock the values to hash;
# erase and journal every model), key + audit, ledger counts, erased_at with the key and subject journal
# entries, certificate, audit.
STATEMENTS = 19


def _more_records(subject: inv.DataSubject, count: int) -> None:
    system = inv.System.objects.get(code="privacyops")
    for k in range(count):
        record_create(
            model=inv.ActivityEvent,
            subject=subject,
            values={"system": system, "kind": "page_view", "target": f"/{k}"},
        )
        record_create(
            model=inv.ContactPoint,
            subject=subject,
            values={"system": system, "kind": "phone", "value": f"+1 {k}"},
        )
        record_create(
            model=inv.SurveyResponse,
            subject=subject,
            values={"system": system, "survey": "s", "answer": f"a{k}"},
        )


def _statements(subject: inv.DataSubject) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        erase_subject(subject_id=subject.pk, actor="test", reason="test", case_reference="c")
    return [q["sql"] for q in captured.captured_queries]


def test_the_statement_count_does_not_grow_with_the_records_per_model():
    small, big = make_full_subject(), make_full_subject()
    _more_records(big, 6)

    assert len(_statements(small)) == STATEMENTS
    statements = _statements(big)

    assert len(statements) == STATEMENTS
    assert sum("audit_chain_append" in s for s in statements) == 3
    assert not any("SAVEPOINT" in s for s in statements[1:-1])
    for model in (inv.ActivityEvent, inv.ContactPoint):
        assert not model.objects.filter(subject=big).exists()
    assert set(inv.SurveyResponse.objects.filter(subject=big).values_list("answer", flat=True)) == {""}
    journaled = ErasureJournal.objects.filter(subject_id=big.pk, model_label="inventory.ActivityEvent").get()
    assert journaled.record_count == 7 and len(journaled.record_pks) == 7
    assert verify_chain()[1] is None
