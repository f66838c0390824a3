"""CSV import of historic lists: every bad row reported with its line, nothing written when any is bad."""

import pytest

from consent.models import ConsentEvent, ConsentImport, ConsentState
from consent.services import ImportRejected, consent_import_csv, suppression_add
from inventory.models import DataSubject
from tests.consent.factories import withdraw
from tests.factories import DataSubjectFactory

HEADER = "email,purpose,action,at,channel,name\n"


def _import(text: str, **kw):
    return consent_import_csv(content=text.encode(), file_name="legacy.csv", actor="test", **kw)


@pytest.mark.django_db
def test_a_file_with_one_bad_row_is_rejected_and_nothing_is_written():
    existing = DataSubjectFactory(email="known@example.com")
    subjects_before = DataSubject.objects.count()
    text = (
        HEADER
        + "known@example.com,marketing_email,grant,2021-03-04,web_form,\n"
        + "new.person@example.com,marketing_email,opt_in,2021-03-05T10:00:00Z,,New Person\n"
        + "third@example.com,marketing_email,maybe,2021-03-06,,\n"
        + "fourth@example.com,marketing_phone,withdraw,2021-03-07,,\n"
    )
    with pytest.raises(ImportRejected) as caught:
        _import(text)
    assert [e.line for e in caught.value.row_errors] == [4]
    assert "'maybe' is not an action" in caught.value.row_errors[0].message
    assert ConsentEvent.objects.count() == 0
    assert ConsentState.objects.count() == 0
    assert ConsentImport.objects.count() == 0
    assert DataSubject.objects.count() == subjects_before  # no subject created for the good rows either
    assert existing.consent_events.count() == 0


@pytest.mark.django_db
def test_every_bad_row_is_reported_with_its_line_number_and_without_the_address():
    text = (
        HEADER
        + "not-an-email,marketing_email,grant,2021-03-04,,\n"  # line 2
        + "ok@example.com,marketing_email,grant,2021-03-04,,\n"  # line 3 (fine)
        + "ok2@example.com,no_such_purpose,grant,2021-03-04,,\n"  # line 4
        + "ok3@example.com,marketing_email,grant,04/03/2021,,\n"  # line 5
        + "ok4@example.com,marketing_email,grant,2999-01-01,,\n"  # line 6
        + "ok5@example.com,transactional,grant,2021-03-04,,\n"  # line 7
        + "ok6@example.com,marketing_email,grant,2021-03-04,pigeon,\n"  # line 8
        + "ok@example.com,marketing_email,grant,2021-03-04,,\n"  # line 9: same as line 3
        + "too,few\n"  # line 10
    )
    with pytest.raises(ImportRejected) as caught:
        _import(text)
    lines = [e.line for e in caught.value.row_errors]
    assert lines == [2, 4, 5, 6, 7, 8, 9, 10]
    assert all("@" not in str(e) for e in caught.value.row_errors)
    assert "line 3" in caught.value.row_errors[6].message


@pytest.mark.django_db
def test_a_missing_column_is_reported_on_the_header_line():
    with pytest.raises(ImportRejected) as caught:
        _import("email,purpose,at\nx@example.com,marketing_email,2021-01-01\n")
    assert [(e.line, e.message) for e in caught.value.row_errors] == [(1, "Missing column(s): action.")]


@pytest.mark.django_db
def test_a_good_file_records_history_creates_missing_subjects_and_is_idempotent():
    known = DataSubjectFactory(email="Known@Example.com")
    text = (
        HEADER
        + "known@example.com,marketing_email,grant,2021-03-04,web_form,\n"
        + "known@example.com,marketing_email,withdraw,2022-01-01,,\n"
        + " NEW@example.com ,surveys,grant,2021-03-05T10:00:00+02:00,,New Person\n"
    )
    report = _import(text)
    assert (report.events_created, report.subjects_created, report.duplicates) == (3, 1, 0)
    assert ConsentState.objects.get(subject=known, purpose__code="marketing_email").action == "withdraw"
    created = DataSubject.objects.get(email_normalized="new@example.com")
    event = ConsentEvent.objects.get(subject=created)
    assert (event.channel, event.source, event.import_batch_id) == (
        "import",
        "import",
        report.import_batch.pk,
    )
    assert event.client_event_id.endswith(":4")
    again = _import(text)
    assert (again.events_created, again.duplicates, again.subjects_created) == (0, 3, 0)
    assert ConsentEvent.objects.count() == 3


@pytest.mark.django_db
def test_dry_run_checks_and_writes_nothing():
    report = _import(HEADER + "a@example.com,marketing_email,grant,2021-03-04,,\n", dry_run=True)
    assert report.events_created == 1 and report.dry_run
    assert (
        ConsentEvent.objects.count() == 0
        and not DataSubject.objects.filter(email_normalized="a@example.com").exists()
    )


@pytest.mark.django_db
def test_a_list_can_never_resubscribe_an_opted_out_or_suppressed_address():
    opted_out = DataSubjectFactory(email="out@example.com")
    withdraw(opted_out)
    suppression_add(email="Gone@Example.com", actor="test")
    report = _import(
        HEADER
        + "out@example.com,marketing_email,grant,2025-01-01,,\n"
        + "gone@example.com,marketing_email,grant,2025-01-01,,\n"
        + "fresh@example.com,marketing_email,grant,2025-01-01,,\n"
    )
    assert (report.skipped_opted_out, report.skipped_suppressed, report.events_created) == (1, 1, 1)
    assert ConsentState.objects.get(subject=opted_out).action == "withdraw"
    assert not DataSubject.objects.filter(email_normalized="gone@example.com").exists()


@pytest.mark.django_db
def test_unknown_addresses_are_errors_when_subjects_may_not_be_created():
    with pytest.raises(ImportRejected) as caught:
        _import(
            HEADER + "stranger@example.com,marketing_email,grant,2021-03-04,,\n",
            create_missing_subjects=False,
        )
    assert caught.value.row_errors[0].line == 2


@pytest.mark.django_db
def test_non_utf8_files_are_rejected_with_advice():
    with pytest.raises(ImportRejected) as caught:
        consent_import_csv(content="email\n\xe9".encode("latin-1"), file_name="x.csv")
    assert "UTF-8" in caught.value.row_errors[0].message


def test_row_errors_keep_their_proper_case():
    """Issue 16: 'Use ISO 8601 … 2021-03-04T10:00:00Z', not 'use iso 8601 … 2021-03-04t10:00:00z'."""
    from consent.csv_import import parse

    _, errors = parse("email,purpose,action,at\na@example.com,marketing_email,grant,yesterday\n")
    (error,) = errors
    assert error.line == 2
    assert not any(c.isalpha() and c.islower() for c in error.message[:1])
    assert "ISO 8601" in error.message and "2021-03-04T10:00:00Z" in error.message
