"""Issue 15 item 11 through the admin: an officer revealing a subject's records sees Fernet-era values in
plain text, and a ciphertext copied onto another row of the same subject as "undecryptable"."""

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from inventory import crypto
from inventory import models as inv
from tests.factories import make_full_subject

from .factories import PASSWORD, make_user


def _reveal(client, subject) -> str:
    make_user("officer", role="Privacy officer")
    client.login(username="officer", password=PASSWORD)
    url = reverse("admin:inventory_datasubject_change", args=[subject.pk])
    return client.get(url, {"reveal": "1", "reveal_reason": "Checking an erasure request"}).content.decode()


@pytest.mark.django_db
def test_an_officer_reveals_a_value_sealed_with_fernet_before_the_change(client):
    subject = make_full_subject()
    wrapped = inv.DataKey.objects.get(subject=subject).wrapped
    legacy = Fernet(crypto.master().decrypt(wrapped.encode())).encrypt(b"tok_legacy_amex").decode()
    inv.UserAccount.objects.filter(subject=subject).update(payment_method_reference=legacy)
    page = _reveal(client, subject)
    assert "tok_legacy_amex" in page and "undecryptable" not in page


@pytest.mark.django_db
def test_a_ciphertext_copied_to_another_row_shows_undecryptable_to_an_officer(client):
    subject = make_full_subject()
    account = inv.UserAccount.objects.get(subject=subject)
    copy = inv.UserAccount.objects.create(subject=subject, collected_at=account.collected_at, username="copy")
    inv.UserAccount.objects.filter(pk=copy.pk).update(
        payment_method_reference=account.payment_method_reference
    )
    page = _reveal(client, subject)
    assert page.count(f"tok_{subject.pk}_visa") == 1  # the original row only
    assert "undecryptable" in page
