"""Suppression survives erasure: only keyed hashes remain, and they block any re-subscription."""

import hashlib
import hmac

import pytest
from django.conf import settings

from consent.gate import gate
from consent.models import ConsentEvent, ConsentState, Purpose, SuppressedAddress
from consent.services import consent_import_csv, suppression_add, suppression_lift
from inventory.hooks import run_before_subject_erasure
from inventory.models import ContactPoint, DataSubject
from inventory.services import subject_destroy_data_key
from tests.consent.factories import grant, withdraw
from tests.factories import DataSubjectFactory, make_full_subject


def _marketing() -> list[str]:
    return list(Purpose.objects.filter(is_marketing=True, required=False).values_list("code", flat=True))


class _Marketing:
    """The seeded marketing purposes (read lazily: the database exists only inside a test)."""

    def __iter__(self):
        return iter(_marketing())

    def __len__(self):
        return len(_marketing())


MARKETING = _Marketing()


def _erase(subject: DataSubject) -> None:
    """What the erasure engine does around us: run the hooks, then destroy the key and the addresses."""
    run_before_subject_erasure(subject_id=subject.pk)
    subject_destroy_data_key(subject_id=subject.pk, reason="erasure")
    ContactPoint.objects.filter(subject=subject).delete()
    DataSubject.objects.filter(pk=subject.pk).update(email="", email_normalized="", name="")


@pytest.mark.django_db
def test_erasing_an_opted_out_subject_keeps_only_keyed_hashes_of_all_their_addresses():
    subject = make_full_subject(email="Opted.Out@Example.com")  # also has alt.opted.out@example.com
    grant(subject, "marketing_email")
    withdraw(subject, "marketing_email")
    grant(subject, "marketing_phone")  # still granted: nothing to suppress for it
    _erase(subject)
    rows = list(SuppressedAddress.objects.values_list("email_hmac", "purpose__code"))
    expected = {
        hmac.new(settings.HASH_KEY.encode(), email.encode(), hashlib.sha256).hexdigest()
        for email in ("opted.out@example.com", "alt.opted.out@example.com")
    }
    assert {h for h, _ in rows} == expected
    # The withdrawn purpose, and (issue 14 item 4) every other marketing purpose too.
    assert {p for _, p in rows} == set(MARKETING)
    opted_out = SuppressedAddress.objects.filter(reason=SuppressedAddress.Reason.ERASED_AFTER_OPT_OUT)
    assert set(opted_out.values_list("purpose__code", flat=True)) == {"marketing_email"}
    assert not any("example.com" in h for h, _ in rows)


@pytest.mark.django_db
def test_suppression_survives_erasure_and_a_reimport_cannot_resubscribe():
    subject = DataSubjectFactory(email="gone@example.com")
    grant(subject)
    withdraw(subject)
    _erase(subject)
    report = consent_import_csv(
        content=b"email,purpose,action,at\nGONE@example.com,marketing_email,grant,2026-01-01\n",
        file_name="list.csv",
    )
    assert report.skipped_suppressed == 1 and report.events_created == 0
    assert not DataSubject.objects.filter(email_normalized="gone@example.com").exists()


@pytest.mark.django_db
def test_a_grant_for_a_suppressed_address_is_recorded_as_withdrawn_and_the_gate_refuses():
    suppression_add(email="back.again@example.com", purposes=["marketing_email"], actor="officer")
    newcomer = DataSubjectFactory(email="back.again@example.com")
    event = grant(newcomer, "marketing_email")
    assert (event.action, event.suppressed) == ("withdraw", True)
    assert ConsentState.objects.get(subject=newcomer).action == "withdraw"
    assert gate.may_send(subject_id=newcomer.pk, purpose="marketing_email") is False
    other = grant(newcomer, "surveys")  # not suppressed for that purpose
    assert other.action == "grant"


@pytest.mark.django_db
def test_gate_refuses_when_an_address_is_suppressed_after_consent_was_given():
    subject = DataSubjectFactory(email="later@example.com")
    grant(subject)
    assert gate.may_send(subject_id=subject.pk, purpose="marketing_email") is True
    suppression_add(email="later@example.com", actor="officer")
    assert gate.may_send(subject_id=subject.pk, purpose="marketing_email") is False


@pytest.mark.django_db
def test_subjects_who_never_opted_out_leave_a_keyed_hash_suppression_on_erasure_too():
    """Issue 14 item 4 (replaces 'leave no suppression'): every erasure suppresses every erased address."""
    subject = DataSubjectFactory(email="never.opted@example.com")
    grant(subject)
    _erase(subject)
    rows = SuppressedAddress.objects.all()
    assert set(rows.values_list("purpose__code", flat=True)) == set(MARKETING)
    assert set(rows.values_list("reason", flat=True)) == {SuppressedAddress.Reason.ERASED}
    digest = hmac.new(settings.HASH_KEY.encode(), b"never.opted@example.com", hashlib.sha256).hexdigest()
    assert set(rows.values_list("email_hmac", flat=True)) == {digest}


@pytest.mark.django_db
def test_the_hook_is_idempotent_for_an_already_erased_subject():
    subject = DataSubjectFactory(email="twice@example.com")
    withdraw(subject)
    run_before_subject_erasure(subject_id=subject.pk)
    DataSubject.objects.filter(pk=subject.pk).update(
        erased_at="2026-01-01T00:00:00Z", email_normalized="f" * 64
    )
    first = SuppressedAddress.objects.count()
    run_before_subject_erasure(subject_id=subject.pk)
    assert SuppressedAddress.objects.count() == first == len(MARKETING)


@pytest.mark.django_db
def test_lifting_a_suppression_needs_a_reason_and_is_audited():
    from django.core.exceptions import ValidationError

    from audit.models import AuditEvent

    suppression_add(email="undo@example.com", purposes=["marketing_email"], actor="officer")
    row = SuppressedAddress.objects.get()
    with pytest.raises(ValidationError):
        suppression_lift(suppressed_id=row.pk, reason=" ", actor="officer")
    suppression_lift(suppressed_id=row.pk, reason="asked to subscribe again, ticket 42", actor="officer")
    assert not SuppressedAddress.objects.exists()
    assert AuditEvent.objects.filter(action="consent.suppression_lifted").exists()
    subject = DataSubjectFactory(email="undo@example.com")
    assert grant(subject).action == "grant"
    assert ConsentEvent.objects.filter(suppressed=True).count() == 0
