"""erase_subject: every registered record through the registry's strategies, holds respected, certified."""

import dataclasses
import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from inventory import crypto
from inventory import models as inv
from inventory.hooks import register_before_subject_erasure, unregister_before_subject_erasure
from inventory.registry import registry
from inventory.services import record_reveal
from retention.erasure import JournalContext, erase_rows, keyed_hash, plan_for
from retention.models import ErasureCertificate, ErasureJournal, ExceptionCode
from retention.selectors import holds_for_subject, schedule_entries
from retention.services import erase_subject, legal_hold_place
from tests.factories import make_full_subject, years_ago

from . import factories as f


@pytest.mark.django_db
def test_every_registered_record_is_erased_by_its_registry_strategy():
    subject = make_full_subject(email="Jane.Doe@Example.com")
    other = make_full_subject()
    survey_ciphertext = inv.SurveyResponse.objects.get(subject=subject).answer  # as a backup would hold it
    dob_ciphertext = subject.date_of_birth

    certificate = erase_subject(subject_id=subject.pk, reason="GDPR Art. 17 request", case_reference="case-1")

    for model in (
        inv.ContactPoint,
        inv.UserAccount,
        inv.CompanyAffiliation,
        inv.MarketingPreference,
        inv.ActivityEvent,
    ):
        assert not model.objects.filter(subject=subject).exists(), model
        assert model.objects.filter(subject=other).exists(), model
    subject.refresh_from_db()
    assert (subject.name, subject.email, subject.phone, subject.postal_address, subject.company) == (
        "",
        "",
        "",
        "",
        "",
    )
    assert subject.email_normalized == keyed_hash("jane.doe@example.com")  # recognisable, not readable
    assert subject.date_of_birth == "" and subject.erased_at is not None
    survey = inv.SurveyResponse.objects.get(subject=subject)
    assert survey.answer == "" and survey.question == ""
    # Crypto-shredded: copies of the ciphertext (backups) no longer open.
    with pytest.raises(crypto.KeyDestroyed):
        crypto.key_for_subject(subject.pk)
    assert inv.DataKey.objects.get(subject=subject).wrapped == ""
    assert survey_ciphertext and dob_ciphertext
    assert record_reveal(inv.SurveyResponse.objects.get(subject=other))["answer"].startswith(
        "Inventory counts"
    )

    assert certificate.kind == ErasureCertificate.Kind.SUBJECT and certificate.key_destroyed
    assert certificate.case_reference == "case-1" and certificate.kept_count == 0
    erased = {row["model"]: row for row in certificate.summary["erased"]}
    assert erased["inventory.ActivityEvent"]["method"] == "delete"
    assert erased["inventory.DataSubject"]["fields"]["email_normalized"] == "hash"
    assert erased["inventory.DataSubject"]["ids"] == [subject.pk]
    assert "Purge" in certificate.summary["key_destruction"]["standard"]
    assert "Jane" not in str(certificate.summary)
    methods = set(
        ErasureJournal.objects.filter(certificate_ref=certificate.public_id).values_list("method", flat=True)
    )
    assert methods == {"delete", "anonymise", "key_destroyed", "subject_erased"}
    event = AuditEvent.objects.get(action="retention.subject.erased")
    assert event.subject_id == subject.pk and event.details["certificate"] == str(certificate.public_id)


@pytest.mark.django_db
def test_a_legal_hold_keeps_the_held_records_and_the_certificate_lists_them_with_the_code():
    subject = make_full_subject()
    user = f.officer()
    hold = legal_hold_place(
        subject_id=subject.pk,
        category="account",
        case_reference="3f2c-case",
        reason="Billing dispute",
        owner=user,
    )
    account = inv.UserAccount.objects.get(subject=subject)

    certificate = erase_subject(subject_id=subject.pk, reason="Erasure request", case_reference="case-2")

    assert inv.UserAccount.objects.filter(pk=account.pk).exists()
    assert not inv.ActivityEvent.objects.filter(subject=subject).exists()
    assert certificate.kept_count == 1
    assert certificate.summary["kept"] == [
        {"model": "inventory.UserAccount", "pk": account.pk, "hold": str(hold.public_id),
         "code": ExceptionCode.LEGAL_CLAIMS, "case_reference": "3f2c-case"}
    ]  # fmt: skip
    # A held record keeps its sealed values readable: the key is kept while anything is held.
    assert certificate.key_destroyed is False
    assert record_reveal(inv.UserAccount.objects.get(pk=account.pk))["payment_method_reference"].startswith(
        "tok_"
    )
    assert certificate.summary["key_destruction"]["retained_because_of_holds"] is True


@pytest.mark.django_db
def test_a_category_wide_hold_protects_that_category_of_every_subject():
    subject = make_full_subject()
    legal_hold_place(category="activity", reason="Regulator inquiry", owner="Legal team",
                     exception_code=ExceptionCode.LEGAL_OBLIGATION)  # fmt: skip
    certificate = erase_subject(subject_id=subject.pk, reason="Erasure request")
    assert inv.ActivityEvent.objects.filter(subject=subject).count() == 1
    assert not inv.ContactPoint.objects.filter(subject=subject).exists()
    assert {k["code"] for k in certificate.summary["kept"]} == {"art17_3_b"}


@pytest.mark.django_db
def test_a_released_or_ended_hold_no_longer_protects():
    from retention.services import legal_hold_release

    subject = make_full_subject()
    hold = legal_hold_place(subject_id=subject.pk, reason="Dispute", owner="Legal")
    assert list(holds_for_subject(subject_id=subject.pk)) == [hold]
    legal_hold_release(hold_id=hold.pk, reason="Dispute settled", actor="Legal")
    assert list(holds_for_subject(subject_id=subject.pk)) == []
    certificate = erase_subject(subject_id=subject.pk, reason="Erasure request")
    assert certificate.kept_count == 0 and certificate.key_destroyed


@pytest.mark.django_db
def test_erasing_twice_returns_the_same_certificate_and_writes_nothing_more():
    subject = make_full_subject()
    first = erase_subject(subject_id=subject.pk, reason="Erasure request", case_reference="c-1")
    journal, audit = ErasureJournal.objects.count(), AuditEvent.objects.count()
    again = erase_subject(subject_id=subject.pk, reason="Erasure request", case_reference="c-1")
    assert again.pk == first.pk
    assert (ErasureJournal.objects.count(), AuditEvent.objects.count()) == (journal, audit)


@pytest.mark.django_db
def test_records_released_from_a_hold_are_erased_by_a_later_request():
    from retention.services import legal_hold_release

    subject = make_full_subject()
    hold = legal_hold_place(subject_id=subject.pk, category="account", reason="Dispute", owner="Legal")
    first = erase_subject(subject_id=subject.pk, reason="Erasure request")
    assert inv.UserAccount.objects.filter(subject=subject).exists() and not first.key_destroyed
    legal_hold_release(hold_id=hold.pk, reason="Settled")
    second = erase_subject(subject_id=subject.pk, reason="Erasure request")
    assert second.pk != first.pk
    assert not inv.UserAccount.objects.filter(subject=subject).exists()
    assert second.key_destroyed and second.kept_count == 0


@pytest.mark.django_db
def test_before_erasure_hooks_run_first_and_see_the_data():
    seen = []

    def hook(*, subject_id: int) -> None:
        seen.append(inv.DataSubject.objects.get(pk=subject_id).email)

    register_before_subject_erasure(hook)
    try:
        subject = make_full_subject(email="hook@example.com")
        erase_subject(subject_id=subject.pk, reason="Erasure request")
    finally:
        unregister_before_subject_erasure(hook)
    assert seen == ["hook@example.com"]


@pytest.mark.django_db
def test_a_failing_hook_leaves_nothing_half_erased():
    def broken(*, subject_id: int) -> None:
        raise RuntimeError("suppression list unavailable")

    subject = make_full_subject()
    register_before_subject_erasure(broken)
    try:
        with pytest.raises(RuntimeError):
            erase_subject(subject_id=subject.pk, reason="Erasure request")
    finally:
        unregister_before_subject_erasure(broken)
    subject.refresh_from_db()
    assert subject.erased_at is None and subject.email
    assert inv.ActivityEvent.objects.filter(subject=subject).exists()
    assert not ErasureJournal.objects.exists() and not ErasureCertificate.objects.exists()


@pytest.mark.django_db
def test_a_minor_erasure_is_marked_on_the_certificate():
    child = make_full_subject(date_of_birth=years_ago(10))
    certificate = erase_subject(subject_id=child.pk, reason="Parent's request", minor=True)
    assert certificate.minor is True and "§9" in certificate.summary["minor_policy"]


@pytest.mark.django_db
def test_erasure_needs_a_reason_and_an_existing_subject():
    subject = f.subject()
    with pytest.raises(ValidationError):
        erase_subject(subject_id=subject.pk, reason="  ")
    with pytest.raises(ValidationError):
        erase_subject(subject_id=subject.pk + 1000, reason="Request")


def test_append_only_ledgers_are_never_written_only_shredded_by_key():
    entry = dataclasses.replace(registry.get(inv.SurveyResponse), append_only=True)
    with pytest.raises(ValueError, match="append-only"):
        erase_rows(
            entry=entry,
            queryset=inv.SurveyResponse.objects.none(),
            plan=plan_for(entry),
            journal=JournalContext(at=dt.datetime.now(dt.UTC)),
        )


@pytest.mark.django_db
def test_sweeps_skip_append_only_ledgers(monkeypatch):
    from retention.models import RetentionSchedule

    survey = RetentionSchedule.objects.get(category__code="survey", is_default=True)
    assert [e.label for e in schedule_entries(survey)] == ["inventory.SurveyResponse"]
    ledger = dataclasses.replace(registry.get(inv.SurveyResponse), append_only=True)
    monkeypatch.setitem(registry._entries, inv.SurveyResponse, ledger)
    assert schedule_entries(survey) == []


@pytest.mark.django_db
def test_holds_need_a_scope_a_reason_and_a_future_end():
    subject = f.subject()
    with pytest.raises(ValidationError):
        legal_hold_place(reason="x", owner="Legal")
    with pytest.raises(ValidationError):
        legal_hold_place(subject_id=subject.pk, reason=" ", owner="Legal")
    with pytest.raises(ValidationError):
        legal_hold_place(subject_id=subject.pk, reason="x", owner="Legal", ends_on=dt.date(2000, 1, 1))
    with pytest.raises(ValidationError):
        legal_hold_place(category="nope", reason="x", owner="Legal")
    hold = legal_hold_place(subject_id=subject.pk, reason="Dispute", owner="Legal", case_reference="abc")
    assert AuditEvent.objects.filter(action="retention.hold.placed", subject_id=subject.pk).exists()
    assert hold.owner_label == "Legal"


@pytest.mark.django_db
def test_an_append_only_ledger_is_left_untouched_and_made_unreadable_by_key_destruction():
    from consent.models import Channel, ConsentEvent, ConsentState
    from consent.services import consent_grant

    subject = make_full_subject()
    consent_grant(subject_id=subject.pk, purpose="marketing_email", channel=Channel.WEB_FORM,
                  evidence={"ip": "203.0.113.77", "form_id": "footer"})  # fmt: skip
    before = list(ConsentEvent.objects.filter(subject=subject).values())
    assert before and before[0]["evidence"]  # sealed evidence
    certificate = erase_subject(subject_id=subject.pk, reason="Erasure request")
    assert list(ConsentEvent.objects.filter(subject=subject).values()) == before  # never written
    with pytest.raises(crypto.KeyDestroyed):
        crypto.key_for_subject(subject.pk)
    assert not ConsentState.objects.filter(subject=subject).exists()  # the registry says DELETE
    ledgers = {row["model"]: row["count"] for row in certificate.summary["ledgers_erased_by_key_destruction"]}
    assert ledgers["consent.ConsentEvent"] == len(before)
    assert not ErasureJournal.objects.filter(model_label="consent.ConsentEvent").exists()


@pytest.mark.django_db
def test_with_a_hold_the_ledger_stays_readable_and_is_listed_as_kept():
    from consent.models import Channel, ConsentEvent
    from consent.services import consent_grant

    subject = make_full_subject()
    event = consent_grant(subject_id=subject.pk, purpose="marketing_email", channel=Channel.WEB_FORM,
                          evidence={"ip": "203.0.113.77"})  # fmt: skip
    legal_hold_place(subject_id=subject.pk, category="survey", reason="Dispute", owner="Legal")
    certificate = erase_subject(subject_id=subject.pk, reason="Erasure request")
    assert not certificate.key_destroyed
    kept = {(row["model"], row["pk"]) for row in certificate.summary["kept"]}
    assert ("consent.ConsentEvent", event.pk) in kept
    assert ConsentEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_a_hold_without_a_named_owner_is_owned_by_whoever_placed_it():
    subject = f.subject()
    assert (
        legal_hold_place(subject_id=subject.pk, reason="Dispute", owner=None, actor="dsar-bot").owner_label
        == "dsar-bot"
    )
    user = f.officer()
    hold = legal_hold_place(subject_id=subject.pk, reason="Dispute", owner=user)
    assert hold.owner == user and hold.owner_label == "officer"


@pytest.mark.django_db
def test_a_first_erasure_counts_nothing_but_the_ledgers_and_those_in_one_statement():
    """Issue 19: no per-model COUNT before erasing (the engine reports what it erased)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    subject = make_full_subject()
    with CaptureQueriesContext(connection) as queries:
        certificate = erase_subject(subject_id=subject.pk, reason="Erasure request")
    sqls = [q["sql"] for q in queries.captured_queries]
    counts = [sql for sql in sqls if sql.startswith("SELECT") and "COUNT(*)" in sql]
    ledgers = sum(1 for entry in registry if entry.append_only)
    assert len(counts) == 1 and counts[0].count("SELECT COUNT(*)") == ledgers
    assert certificate.key_destroyed
    assert certificate.summary["key_destruction"]["already_destroyed"] is False
