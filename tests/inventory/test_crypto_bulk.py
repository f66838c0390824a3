"""The bulk crypto paths (seal_many, batch unwrap) write and read standard Fernet tokens, nothing weaker."""

import base64

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from inventory import conf, crypto
from inventory.models import DataKey
from inventory.services import subject_destroy_data_key
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


def _raw_key() -> crypto.SealingKey:
    return crypto.SealingKey(base64.urlsafe_b64decode(Fernet.generate_key()))


def _fernet(key: crypto.SealingKey) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key))


def test_seal_many_writes_fernet_tokens_that_fernet_and_open_sealed_read():
    keys = [_raw_key() for _ in VALUES]
    tokens = crypto.seal_many(list(zip(keys, VALUES, strict=True)))
    for key, value, token in zip(keys, VALUES, tokens, strict=True):
        if not value:
            assert token == ""
            continue
        assert _fernet(key).decrypt(token.encode()) == value.encode()
        assert crypto.open_sealed(_fernet(key), token) == value
        assert len(value) < 8 or value not in token


def test_seal_many_uses_a_fresh_iv_per_token():
    key = _raw_key()
    tokens = crypto.seal_many([(key, "same value")] * 50)
    ivs = {base64.urlsafe_b64decode(t)[9:25] for t in tokens}
    assert len(set(tokens)) == 50 and len(ivs) == 50


def test_a_tampered_or_foreign_token_from_seal_many_is_undecryptable():
    key, other = _raw_key(), _raw_key()
    (token,) = crypto.seal_many([(key, "secret note")])
    raw = bytearray(base64.urlsafe_b64decode(token))
    for position in (0, 5, 20, 40, len(raw) - 1):  # version, time, IV, cipher text, HMAC
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        with pytest.raises(crypto.UndecryptableValue):
            crypto.open_sealed(_fernet(key), base64.urlsafe_b64encode(bytes(tampered)).decode())
    with pytest.raises(crypto.UndecryptableValue):
        crypto.open_sealed(_fernet(other), token)


def test_batch_unwrap_returns_the_keys_multifernet_unwraps():
    plain = [Fernet.generate_key() for _ in range(40)]
    wrapped = [crypto.master().encrypt(k).decode() for k in plain]
    keys = crypto.unwrap_many(wrapped, conf.data_master_keys())
    assert [base64.urlsafe_b64encode(k) for k in keys] == plain


def test_batch_unwrap_tries_every_master_key_in_order(settings):
    old = settings.DATA_MASTER_KEYS[0]
    new = Fernet.generate_key().decode()
    under_old = [
        MultiFernet([Fernet(old.encode())]).encrypt(Fernet.generate_key()).decode() for _ in range(3)
    ]
    under_new = [
        MultiFernet([Fernet(new.encode())]).encrypt(Fernet.generate_key()).decode() for _ in range(3)
    ]
    settings.DATA_MASTER_KEYS = [new, old]
    mixed = under_new[:1] + under_old + under_new[1:]
    keys = crypto.unwrap_many(mixed, conf.data_master_keys())
    assert [base64.urlsafe_b64encode(k) for k in keys] == [crypto.master().decrypt(w.encode()) for w in mixed]


def test_batch_unwrap_rejects_tampered_or_foreign_wrapped_keys():
    good = crypto.new_wrapped_key()
    raw = bytearray(base64.urlsafe_b64decode(good))
    raw[30] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode()
    foreign = Fernet(Fernet.generate_key()).encrypt(Fernet.generate_key()).decode()
    for bad in (tampered, foreign, "not a token", good[:40]):
        with pytest.raises(InvalidToken):
            crypto.unwrap_many([good, bad], conf.data_master_keys())


@pytest.mark.django_db
def test_sealing_keys_seal_what_the_subjects_key_opens_and_a_destroyed_key_gives_none():
    subjects = [make_full_subject() for _ in range(4)]
    shredded = subjects[0]
    (sealed_before,) = crypto.seal_many(
        [(crypto.sealing_keys_for_subjects([shredded.pk])[shredded.pk], "note")]
    )
    assert crypto.open_sealed(crypto.key_for_subject(shredded.pk), sealed_before) == "note"
    assert subject_destroy_data_key(subject_id=shredded.pk, reason="test") is True
    keys = crypto.sealing_keys_for_subjects([s.pk for s in subjects])
    assert keys[shredded.pk] is None and DataKey.objects.get(subject=shredded).wrapped == ""
    with pytest.raises(crypto.KeyDestroyed):
        crypto.key_for_subject(shredded.pk)
    for subject in subjects[1:]:
        (token,) = crypto.seal_many([(keys[subject.pk], f"note {subject.pk}")])
        assert crypto.open_sealed(crypto.key_for_subject(subject.pk), token) == f"note {subject.pk}"
        with pytest.raises(crypto.UndecryptableValue):
            crypto.open_sealed(crypto.key_for_subject(subject.pk), sealed_before)
