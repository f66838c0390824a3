"""Backups and erasure: a backup taken before an erasure, restored after it, brings the subject's data
back; `manage.py replay_erasures --since <backup time>` erases it again and destroys the data key again.

The restore replaces the test database's contents (pg_restore --clean), so the test is transactional:
it ends with the usual flush and the serialized reference rows are put back for the tests after it.
Erasures made after the backup live on in the journal's mirror outside the database, which the
restore does not roll back (RETENTION_JOURNAL_MIRROR).
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory import models as inv
from inventory.services import record_reveal
from privacyops.backup import backup_create, backup_restore
from retention.models import ErasureJournal
from retention.services import erase_subject
from tests.factories import make_full_subject

from .dumps import pg_dump_tables
from .scan import find, needles

BOB = {
    "name": "Bartholomew Quillfeather",
    "email": "bartholomew.quillfeather@example.org",
    "phone": "+1 212 555 0199",
    "postal_address": "9 Orchard Street, New York, NY 10002",
}
HELD_MODELS = [inv.ContactPoint, inv.UserAccount, inv.CompanyAffiliation, inv.MarketingPreference,
               inv.SurveyResponse, inv.ActivityEvent]  # fmt: skip


def _records(subject_id: int) -> int:
    return sum(model.objects.filter(subject_id=subject_id).count() for model in HELD_MODELS)


def _rows(subject_id: int) -> dict[str, list[tuple]]:
    """Every column of the subject's held records, and the subject's own fields (what erasure changes)."""
    rows = {m.__name__: sorted(m.objects.filter(subject_id=subject_id).values_list()) for m in HELD_MODELS}
    rows["DataSubject"] = list(
        inv.DataSubject.objects.filter(pk=subject_id).values_list(
            "name", "email", "phone", "postal_address", "company", "date_of_birth"
        )
    )
    return rows


def _plaintext_tables(wanted) -> set[str]:
    return {table for table, data in pg_dump_tables().items() if find([data], wanted)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_restored_backup_is_erased_again_by_replaying_the_journal(settings, tmp_path):
    settings.RETENTION_JOURNAL_MIRROR = str(tmp_path / "journal-mirror")
    bob = make_full_subject(**BOB)
    records = _records(bob.pk)
    survey = inv.SurveyResponse.objects.get(subject=bob)
    assert records >= 6

    taken_at = timezone.now()
    backup = backup_create(output=tmp_path / "before-erasure.dump")
    assert backup.stat().st_size > 0

    certificate = erase_subject(subject_id=bob.pk, reason="Erasure request (backup test)")
    assert certificate.key_destroyed and _records(bob.pk) < records
    erased_once = _rows(bob.pk)
    wanted = needles(BOB)
    assert not _plaintext_tables(wanted)

    backup_restore(source=backup)
    # Everything the backup held is back: the subject, their records and their live data key.
    bob.refresh_from_db()
    assert bob.erased_at is None and bob.email == BOB["email"]
    assert _records(bob.pk) == records
    assert inv.DataKey.objects.get(subject=bob).wrapped
    assert record_reveal(inv.SurveyResponse.objects.get(pk=survey.pk))["answer"].startswith(
        "Inventory counts"
    )
    assert not ErasureJournal.objects.filter(at__gte=taken_at).exists()  # the journal table went back too
    assert {"inventory_datasubject", "inventory_contactpoint"} <= _plaintext_tables(wanted)

    out = StringIO()
    call_command("replay_erasures", "--since", taken_at.isoformat(), stdout=out, verbosity=0)
    assert "found only in the mirror" in out.getvalue()

    bob.refresh_from_db()
    assert bob.erased_at is not None and not bob.name and bob.email != BOB["email"]
    assert _rows(bob.pk) == erased_once  # deleted or anonymised again, exactly as the first time
    key = inv.DataKey.objects.get(subject=bob)
    assert key.destroyed_at is not None and key.wrapped == ""
    assert not _plaintext_tables(wanted)
