"""replay_erasures: after a backup restore brings erased data back, the journal erases it again."""

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from audit.models import AuditEvent
from inventory import crypto
from inventory import models as inv
from inventory.services import record_reveal
from retention.models import ErasureJournal
from retention.services import erase_subject
from tests.factories import make_full_subject

from . import factories as f

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def _snapshot(model, **lookup) -> list[dict]:
    """Rows as a backup holds them (every concrete column)."""
    return [
        {field.attname: getattr(row, field.attname) for field in model._meta.concrete_fields}
        for row in model.objects.filter(**lookup)
    ]


def _restore(model, rows: list[dict]) -> None:
    """Put rows back exactly as they were (same primary keys), as restoring a backup does."""
    pk_name = model._meta.pk.attname
    for values in rows:
        existing = model.objects.filter(pk=values[pk_name])
        if existing.exists():  # anonymised or emptied row: the old values come back
            existing.update(**{k: v for k, v in values.items() if k != pk_name})
        else:  # deleted row: it comes back with its old primary key
            model(**values).save_base(raw=True, force_insert=True)


@pytest.mark.django_db
def test_rows_and_keys_that_a_restore_brings_back_are_erased_again():
    with time_machine.travel(NOW, tick=False):
        subject = make_full_subject(email="restored@example.com")
        f.activity(subject, NOW - dt.timedelta(days=10))
        backup = {
            model: _snapshot(
                model, **({"pk": subject.pk} if model is inv.DataSubject else {"subject": subject})
            )
            for model in (
                inv.DataSubject,
                inv.DataKey,
                inv.ActivityEvent,
                inv.ContactPoint,
                inv.SurveyResponse,
            )
        }
        erase_subject(subject_id=subject.pk, reason="Erasure request")
    # The backup is restored: the erased rows, the subject's fields and its wrapped key come back.
    for model, rows in backup.items():
        _restore(model, rows)
    assert inv.ActivityEvent.objects.filter(subject=subject).count() == 2
    assert record_reveal(inv.SurveyResponse.objects.get(subject=subject))["answer"].startswith("Inventory")
    assert inv.DataSubject.objects.get(pk=subject.pk).email == "restored@example.com"

    out = StringIO()
    call_command("replay_erasures", "--since", "2026-06-15", stdout=out)

    assert not inv.ActivityEvent.objects.filter(subject=subject).exists()
    assert not inv.ContactPoint.objects.filter(subject=subject).exists()
    restored = inv.DataSubject.objects.get(pk=subject.pk)
    assert restored.email == "" and restored.erased_at == NOW
    assert inv.DataKey.objects.get(subject=subject).wrapped == ""
    with pytest.raises(crypto.KeyDestroyed):
        record_reveal(inv.SurveyResponse.objects.get(subject=subject))
    assert "Row deleted: 3 erased again" in out.getvalue()
    assert "Subject data key destroyed (cryptographic erase): 1 erased again" in out.getvalue()
    assert AuditEvent.objects.filter(action="retention.erasures.replayed").count() == 1

    again = StringIO()
    call_command("replay_erasures", "--since", "2026-06-15", stdout=again)
    assert "Nothing had come back." in again.getvalue()


@pytest.mark.django_db
def test_replay_re_erases_sweep_deletions_and_dry_run_only_counts():
    f.only_these_schedules()
    f.schedule("activity", months=24)
    f.schedule("survey", months=36, action="anonymise")
    owner = f.subject()
    old = f.activity(owner, NOW - dt.timedelta(days=800))
    old_survey = f.survey(owner, NOW - dt.timedelta(days=4 * 365))
    backup = _snapshot(inv.ActivityEvent, pk=old.pk)
    survey_backup = _snapshot(inv.SurveyResponse, pk=old_survey.pk)
    with time_machine.travel(NOW, tick=False):
        f.sweep()
    assert not inv.ActivityEvent.objects.filter(pk=old.pk).exists()
    _restore(inv.ActivityEvent, backup)
    _restore(inv.SurveyResponse, survey_backup)
    before = list(ErasureJournal.objects.values_list("pk", flat=True))

    dry = StringIO()
    call_command("replay_erasures", "--since", "2026-01-01", "--dry-run", stdout=dry)
    assert inv.ActivityEvent.objects.filter(pk=old.pk).exists()
    assert "Row deleted: 1 would be erased again" in dry.getvalue()
    assert "Fields anonymised (registry strategies): 1 would be erased again" in dry.getvalue()

    call_command("replay_erasures", "--since", "2026-01-01", stdout=StringIO())
    assert not inv.ActivityEvent.objects.filter(pk=old.pk).exists()
    assert inv.SurveyResponse.objects.get(pk=old_survey.pk).answer == ""
    # Replays are audited, not journaled again.
    assert list(ErasureJournal.objects.values_list("pk", flat=True)) == before


@pytest.mark.django_db
def test_replay_only_looks_at_erasures_since_the_given_date():
    with time_machine.travel(NOW, tick=False):
        subject = make_full_subject()
        rows = _snapshot(inv.ContactPoint, subject=subject)
        erase_subject(subject_id=subject.pk, reason="Erasure request")
    _restore(inv.ContactPoint, rows)
    call_command("replay_erasures", "--since", "2026-06-16", stdout=StringIO())
    assert inv.ContactPoint.objects.filter(subject=subject).exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_full_restore_that_also_rolls_back_the_journal_is_replayed_from_the_mirror(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    """`manage.py restore` replaces the journal table too; its mirror outside the database survives."""
    from django.db import connection

    settings.RETENTION_JOURNAL_MIRROR = str(tmp_path / "mirror")
    f.only_these_schedules()
    f.schedule("activity", months=24)
    with time_machine.travel(NOW, tick=False):
        subject = make_full_subject()
        old = f.activity(f.subject(), NOW - dt.timedelta(days=800))
        backup = {
            inv.DataSubject: _snapshot(inv.DataSubject, pk=subject.pk),
            inv.DataKey: _snapshot(inv.DataKey, subject=subject),
            inv.ContactPoint: _snapshot(inv.ContactPoint, subject=subject),
            inv.ActivityEvent: _snapshot(inv.ActivityEvent, subject=subject)
            + _snapshot(inv.ActivityEvent, pk=old.pk),
        }
        with django_capture_on_commit_callbacks(execute=True):
            erase_subject(subject_id=subject.pk, reason="Erasure request")
            f.sweep()
    assert list((tmp_path / "mirror").glob("erasures-*.jsonl"))
    # The restore: the journal table goes back to the backup's (empty) state, the rows and key come back.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE retention_erasurejournal")
    for model, rows in backup.items():
        _restore(model, rows)

    out = StringIO()
    call_command("replay_erasures", "--since", "2026-06-15", stdout=out)

    assert not inv.ContactPoint.objects.filter(subject=subject).exists()
    assert not inv.ActivityEvent.objects.filter(pk=old.pk).exists()  # the sweep's erasure, too
    assert inv.DataKey.objects.get(subject=subject).wrapped == ""
    assert inv.DataSubject.objects.get(pk=subject.pk).name == ""
    assert "found only in the mirror" in out.getvalue()


@pytest.mark.django_db
def test_mirror_sync_appends_what_the_mirror_lacks(settings, tmp_path):
    from retention import mirror
    from retention.services import erasure_mirror_sync

    with time_machine.travel(NOW, tick=False):
        subject = make_full_subject()
        erase_subject(subject_id=subject.pk, reason="Erasure request")  # no mirror configured yet
    settings.RETENTION_JOURNAL_MIRROR = str(tmp_path)
    since = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    added = erasure_mirror_sync(since=since)
    assert added == ErasureJournal.objects.count() > 0
    assert erasure_mirror_sync(since=since) == 0
    lines = list(mirror.read(since=since))
    assert {line["method"] for line in lines} >= {"delete", "key_destroyed"}
    assert all(set(line) >= {"model_label", "record_pks", "at"} for line in lines)
    assert "@" not in (tmp_path / "erasures-2026-06-15.jsonl").read_text()  # ids only, no addresses
