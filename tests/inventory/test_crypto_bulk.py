"""Sealing is standard AES-256-GCM from `cryptography`, bound to its place; older Fernet values still open."""

import base64

import pytest
from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from inventory import crypto
from inventory.models import DataKey, SurveyResponse, UserAccount
from inventory.services import record_reveal, subject_destroy_data_key
from tests.factories import make_full_subject

VALUES = [
    "",
    None,
    "x",
    "a" * 15,
    "b" * 16,
    "c" * 17,
    '{"ip_network":"10.1.2.0/24","user_agent":"Mozilla/5.0"}',
    "é✓",
]
PLACE = {"table": "consent_consentevent", "column": "evidence"}


def _raw() -> bytes:
    return base64.urlsafe_b64decode(Fernet.generate_key())


def _key(subject_id: int = 7, raw: bytes | None = None) -> crypto.SubjectKey:
    return crypto.sealing_key(subject_id, raw or _raw())


def _aesgcm(raw: bytes) -> AESGCM:
    info = b"privacyops data key: AES-256-GCM sealing, version 1"
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw))


def test_seal_many_writes_versioned_aes_256_gcm_tokens_bound_to_table_column_row_and_subject():
    raws = [_raw() for _ in VALUES]
    keys = [_key(100 + i, raw) for i, raw in enumerate(raws)]
    tokens = crypto.seal_many(
        [(k, v, 5000 + i) for i, (k, v) in enumerate(zip(keys, VALUES, strict=True))], **PLACE
    )
    for i, (raw, key, value, token) in enumerate(zip(raws, keys, VALUES, tokens, strict=True)):
        if not value:
            assert token == ""
            continue
        data = base64.urlsafe_b64decode(token)
        assert data[0] == crypto.VERSION_GCM and len(data) == 1 + 12 + len(value.encode()) + 16
        aad = b"\x1f".join(
            [b"\x01", b"consent_consentevent", b"evidence", b"%d" % (5000 + i), b"%d" % (100 + i)]
        )
        # Anyone with the standard library and the key can read it: nothing home-made in the format.
        assert _aesgcm(raw).decrypt(data[1:13], data[13:], aad) == value.encode()
        assert crypto.open_sealed(key, token, row=5000 + i, **PLACE) == value
        assert len(value) < 8 or value not in token


def test_seal_many_uses_a_fresh_96_bit_nonce_per_token():
    key = _key()
    tokens = crypto.seal_many([(key, "same value", 1)] * 50, **PLACE)
    nonces = {base64.urlsafe_b64decode(t)[1:13] for t in tokens}
    assert len(set(tokens)) == 50 and len(nonces) == 50


def test_a_tampered_or_foreign_token_is_undecryptable():
    key, other = _key(), _key()
    token = crypto.seal(key, "secret note", row=1, **PLACE)
    raw = bytearray(base64.urlsafe_b64decode(token))
    for position in (0, 5, 12, 20, len(raw) - 1):  # version, nonce, cipher text, tag
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        with pytest.raises(crypto.UndecryptableValue):
            crypto.open_sealed(key, base64.urlsafe_b64encode(bytes(tampered)).decode(), row=1, **PLACE)
    with pytest.raises(crypto.UndecryptableValue):
        crypto.open_sealed(other, token, row=1, **PLACE)
    for junk in ("not a token", token[:20], "AAAA"):
        with pytest.raises(crypto.UndecryptableValue):
            crypto.open_sealed(key, junk, row=1, **PLACE)


def test_a_ciphertext_moved_to_another_row_column_table_or_subject_fails_to_open():
    raw = _raw()
    key = _key(7, raw)
    token = crypto.seal(
        key, "secret", table="inventory_useraccount", column="payment_method_reference", row=10
    )
    assert crypto.open_sealed(
        key, token, table="inventory_useraccount", column="payment_method_reference", row=10
    )
    for place in (
        {"table": "inventory_useraccount", "column": "payment_method_reference", "row": 11},
        {"table": "inventory_useraccount", "column": "username", "row": 10},
        {"table": "inventory_surveyresponse", "column": "payment_method_reference", "row": 10},
    ):
        with pytest.raises(crypto.UndecryptableValue):
            crypto.open_sealed(key, token, **place)
    with pytest.raises(crypto.UndecryptableValue):  # same key material, told it's another subject's
        crypto.open_sealed(
            _key(8, raw), token, table="inventory_useraccount", column="payment_method_reference", row=10
        )


@pytest.mark.django_db
def test_a_sealed_field_copied_onto_another_record_of_the_same_subject_does_not_open():
    subject = make_full_subject()
    account = UserAccount.objects.get(subject=subject)
    second = UserAccount.objects.create(subject=subject, collected_at=account.collected_at, username="second")
    UserAccount.objects.filter(pk=second.pk).update(payment_method_reference=account.payment_method_reference)
    second.refresh_from_db()
    assert record_reveal(account)["payment_method_reference"] == f"tok_{subject.pk}_visa"
    with pytest.raises(crypto.UndecryptableValue):
        record_reveal(second)


@pytest.mark.django_db
def test_values_sealed_as_fernet_tokens_before_the_change_still_open():
    subject = make_full_subject()
    key = crypto.key_for_subject(subject.pk)
    raw = base64.urlsafe_b64decode(
        crypto.master().decrypt(DataKey.objects.get(subject=subject).wrapped.encode())
    )
    legacy = Fernet(base64.urlsafe_b64encode(raw)).encrypt(b"an old answer").decode()
    survey = SurveyResponse.objects.get(subject=subject)
    SurveyResponse.objects.filter(pk=survey.pk).update(answer=legacy)
    survey.refresh_from_db()
    assert crypto.is_legacy(survey.answer)
    assert record_reveal(survey) == {"answer": "an old answer"}
    assert crypto.open_field(key, survey, "answer") == "an old answer"
    with pytest.raises(crypto.UndecryptableValue):  # another subject's key
        crypto.open_field(crypto.key_for_subject(make_full_subject().pk), survey, "answer")


@pytest.mark.django_db
def test_keys_for_subjects_unwrap_under_every_master_key_and_a_destroyed_key_gives_none(settings):
    old = settings.DATA_MASTER_KEYS[0]
    new = Fernet.generate_key().decode()
    subjects = [make_full_subject() for _ in range(4)]
    raws = {s.pk: _raw() for s in subjects}
    for i, subject in enumerate(subjects):  # two under the old master key, two under the new one
        master = MultiFernet([Fernet((old if i % 2 else new).encode())])
        DataKey.objects.filter(subject=subject).update(
            wrapped=master.encrypt(base64.urlsafe_b64encode(raws[subject.pk])).decode()
        )
    settings.DATA_MASTER_KEYS = [new, old]
    shredded = subjects[0]
    keys = crypto.keys_for_subjects([s.pk for s in subjects])
    token = crypto.seal(keys[shredded.pk], "note", row=1, **PLACE)
    for subject in subjects:
        sealed = crypto.seal(keys[subject.pk], f"note {subject.pk}", row=1, **PLACE)
        assert (
            _aesgcm(raws[subject.pk]).decrypt(
                base64.urlsafe_b64decode(sealed)[1:13],
                base64.urlsafe_b64decode(sealed)[13:],
                crypto.binding(row=1, subject_id=subject.pk, **PLACE),
            )
            == f"note {subject.pk}".encode()
        )
    assert subject_destroy_data_key(subject_id=shredded.pk, reason="test") is True
    keys = crypto.sealing_keys_for_subjects([s.pk for s in subjects])
    assert keys[shredded.pk] is None and DataKey.objects.get(subject=shredded).wrapped == ""
    with pytest.raises(crypto.KeyDestroyed):
        crypto.key_for_subject(shredded.pk)
    for subject in subjects[1:]:
        sealed = crypto.seal(keys[subject.pk], f"note {subject.pk}", row=1, **PLACE)
        assert (
            crypto.open_sealed(crypto.key_for_subject(subject.pk), sealed, row=1, **PLACE)
            == f"note {subject.pk}"
        )
        with pytest.raises(crypto.UndecryptableValue):
            crypto.open_sealed(crypto.key_for_subject(subject.pk), token, row=1, **PLACE)
