"""Crypto-shredding: a destroyed data key makes that subject's sealed values unreadable, and only theirs."""

import datetime as dt

import pytest
import time_machine
from cryptography.fernet import Fernet

from inventory import crypto
from inventory.models import DataKey, SurveyResponse, UserAccount
from inventory.services import data_keys_rotate, record_reveal, subject_create, subject_destroy_data_key
from tests.factories import make_full_subject, years_ago


@pytest.mark.django_db
def test_sensitive_fields_are_stored_encrypted_and_reveal_to_plaintext():
    subject = make_full_subject()
    account = UserAccount.objects.get(subject=subject)
    assert f"tok_{subject.pk}_visa" not in account.payment_method_reference
    assert record_reveal(account) == {"payment_method_reference": f"tok_{subject.pk}_visa"}
    assert record_reveal(subject) == {"date_of_birth": "1980-05-17"}


@pytest.mark.django_db
def test_destroying_a_data_key_makes_that_subjects_values_unreadable_and_others_readable():
    shredded, kept = make_full_subject(), make_full_subject()
    assert subject_destroy_data_key(subject_id=shredded.pk, reason="test") is True
    with pytest.raises(crypto.KeyDestroyed):
        record_reveal(SurveyResponse.objects.get(subject=shredded))
    with pytest.raises(crypto.KeyDestroyed):
        record_reveal(UserAccount.objects.get(subject=shredded))
    assert record_reveal(SurveyResponse.objects.get(subject=kept))["answer"].startswith("Inventory counts")
    key = DataKey.objects.get(subject=shredded)
    assert key.wrapped == "" and key.destroyed_at is not None


@pytest.mark.django_db
def test_destroying_twice_is_idempotent():
    subject = make_full_subject()
    assert subject_destroy_data_key(subject_id=subject.pk, reason="test") is True
    assert subject_destroy_data_key(subject_id=subject.pk, reason="test") is False


@pytest.mark.django_db
def test_key_rotation_keeps_old_data_readable_and_rewraps_under_the_new_key(settings):
    subject = make_full_subject()
    old_master = settings.DATA_MASTER_KEYS[0]
    new_master = Fernet.generate_key().decode()
    settings.DATA_MASTER_KEYS = [new_master, old_master]
    # Readable before re-wrapping: MultiFernet still knows the old key.
    assert record_reveal(subject)["date_of_birth"] == "1980-05-17"
    assert data_keys_rotate() >= 1
    settings.DATA_MASTER_KEYS = [new_master]  # old master retired
    assert record_reveal(subject)["date_of_birth"] == "1980-05-17"
    assert record_reveal(UserAccount.objects.get(subject=subject))["payment_method_reference"].startswith(
        "tok_"
    )


@pytest.mark.django_db
def test_a_value_sealed_for_another_subject_does_not_open():
    a, b = make_full_subject(), make_full_subject()
    place = {"table": "inventory_surveyresponse", "column": "answer", "row": 1}
    sealed_for_a = crypto.seal(crypto.key_for_subject(a.pk), "secret", **place)
    assert crypto.open_sealed(crypto.key_for_subject(a.pk), sealed_for_a, **place) == "secret"
    with pytest.raises(crypto.UndecryptableValue):
        crypto.open_sealed(crypto.key_for_subject(b.pk), sealed_for_a, **place)


@pytest.mark.django_db
def test_minor_flag_follows_date_of_birth():
    child = make_full_subject(date_of_birth=years_ago(12))
    adult = make_full_subject(date_of_birth=dt.date(1970, 1, 1))
    assert child.is_minor is True and adult.is_minor is False


@pytest.mark.django_db
def test_minor_flag_counts_age_on_the_business_calendar_when_utc_is_a_day_ahead():
    """Born 3 March 2008: at 19:00 Pacific on 2 March 2026 (3 March in UTC) they are still 17 here."""
    with time_machine.travel(dt.datetime(2026, 3, 3, 3, 0, tzinfo=dt.UTC), tick=False):
        subject = subject_create(name="Almost Eighteen", date_of_birth=dt.date(2008, 3, 3))
    assert subject.is_minor is True
