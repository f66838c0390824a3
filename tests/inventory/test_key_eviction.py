"""Issue 15 item 5: once a subject is erased, no process opens their values again, whatever it holds.

Two real processes share PostgreSQL and Redis (the shared cache holding the key epoch): the other one
loads the subject's key and opens a value, this one erases the subject, and the other one's next open
with the key it still holds is refused. Without the shared epoch, the cache life bound still evicts.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from inventory import crypto
from inventory.models import DataKey, UserAccount
from inventory.services import record_reveal, subject_destroy_data_key
from retention.services import erase_subject
from tests.conftest import redis_url
from tests.factories import make_full_subject

ROOT = Path(__file__).resolve().parents[2]

# The other process: load the key once, open a value, wait for the word, open again with the same key.
HOLDER = """
import os, sys
import django
django.setup()
from inventory import crypto
from inventory.models import UserAccount
account = UserAccount.objects.get(pk=int(sys.argv[1]))
key = crypto.key_for_subject(account.subject_id)
print("opened " + crypto.open_field(key, account, "payment_method_reference"), flush=True)
sys.stdin.readline()
try:
    print("opened " + crypto.open_field(key, account, "payment_method_reference"), flush=True)
except crypto.KeyDestroyed:
    print("refused: key destroyed", flush=True)
again = crypto.keys_for_subjects([account.subject_id]).get(account.subject_id)
print("reloaded: " + ("none" if again is None else "a key"), flush=True)
"""


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def shared_cache(settings):
    """The key epoch lives in the shared cache: Redis here, as in production."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url()}
    }
    return redis_url()


def _holder(account_id: int, cache_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": os.environ.get("DEBUG", "1"),
        "DATABASE_URL": _database_url(),
        "CACHE_URL": cache_url,
        "DJANGO_SETTINGS_MODULE": "privacyops.settings",
        "DATA_KEY_CACHE_SECONDS": "3600",  # the epoch, not the age bound, must do the eviction here
    }
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(account_id)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_erasure_against_holder(shared_cache, erase) -> list[str]:
    subject = make_full_subject()
    account = UserAccount.objects.get(subject=subject)
    holder = _holder(account.pk, shared_cache)
    try:
        first = holder.stdout.readline().strip()
        assert first == f"opened tok_{subject.pk}_visa", holder.stderr.read()
        erase(subject)
        out, err = holder.communicate("go\n", timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
    return [first, *out.strip().splitlines()]


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_after_key_destruction_another_process_holding_the_key_can_not_open_the_subjects_values(shared_cache):
    lines = _run_erasure_against_holder(
        shared_cache, lambda s: subject_destroy_data_key(subject_id=s.pk, reason="erasure test")
    )
    assert lines[1:] == ["refused: key destroyed", "reloaded: none"]


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_after_an_erasure_request_another_process_holding_the_key_can_not_open_the_subjects_values(
    shared_cache,
):
    lines = _run_erasure_against_holder(
        shared_cache, lambda s: erase_subject(subject_id=s.pk, reason="Erasure request")
    )
    assert lines[1:] == ["refused: key destroyed", "reloaded: none"]


@pytest.mark.django_db
def test_in_this_process_a_key_handed_out_before_the_erasure_no_longer_opens():
    subject = make_full_subject()
    account = UserAccount.objects.get(subject=subject)
    key = crypto.key_for_subject(subject.pk)
    assert crypto.open_field(key, account, "payment_method_reference") == f"tok_{subject.pk}_visa"
    subject_destroy_data_key(subject_id=subject.pk, reason="test")
    with pytest.raises(crypto.KeyDestroyed):
        crypto.open_field(key, account, "payment_method_reference")


@pytest.mark.django_db
def test_without_the_epoch_a_cached_key_is_re_read_once_older_than_the_cache_life(settings):
    """A destruction this process never heard of (another process, epoch unreachable): bounded in seconds."""
    settings.DATA_KEY_CACHE_SECONDS = 5
    subject = make_full_subject()
    account = UserAccount.objects.get(subject=subject)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        key = crypto.key_for_subject(subject.pk)
        assert record_reveal(account)["payment_method_reference"] == f"tok_{subject.pk}_visa"
        DataKey.objects.filter(subject=subject).update(
            wrapped="", destroyed_at=timezone.now()
        )  # no epoch bump
        assert crypto.open_field(key, account, "payment_method_reference")  # within the bound: still cached
        clock.shift(timedelta(seconds=6))
        with pytest.raises(crypto.KeyDestroyed):
            crypto.open_field(key, account, "payment_method_reference")
        with pytest.raises(crypto.KeyDestroyed):
            record_reveal(account)


@pytest.mark.django_db
def test_a_cached_key_the_database_still_holds_is_reused_past_the_cache_life_not_unwrapped_again(
    settings, monkeypatch
):
    """keys_for_subjects reads the wrapped key every time; unchanged, the unwrapped key is kept (issue 19)."""
    settings.DATA_KEY_CACHE_SECONDS = 5
    subject = make_full_subject()
    crypto.clear_key_cache()
    unwrapped: list[str] = []
    real_unwrap = crypto._unwrap_raw
    monkeypatch.setattr(
        crypto, "_unwrap_raw", lambda wrapped: unwrapped.append(wrapped) or real_unwrap(wrapped)
    )
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = crypto.keys_for_subjects([subject.pk])[subject.pk]
        assert unwrapped == [first.wrapped]
        clock.shift(timedelta(seconds=6))
        again = crypto.keys_for_subjects([subject.pk])[subject.pk]
        assert unwrapped == [first.wrapped]  # not unwrapped a second time
        assert again.loaded_at - first.loaded_at == pytest.approx(6, abs=0.5)  # its life restarted
        nonce = os.urandom(12)
        assert (
            first.aead.decrypt(nonce, again.aead.encrypt(nonce, b"x", b"ad"), b"ad") == b"x"
        )  # one data key
        DataKey.objects.filter(subject=subject).update(
            wrapped="", destroyed_at=timezone.now()
        )  # no epoch bump
        assert crypto.keys_for_subjects([subject.pk])[subject.pk] is None


@pytest.mark.django_db
def test_the_process_cache_keeps_key_bytes_not_cipher_objects():
    """An AESGCM holds an OpenSSL context (~2.4 KB): the cache keeps bytes, the caller's copy the cipher."""
    subject = make_full_subject()
    crypto.clear_key_cache()
    key = crypto.keys_for_subjects([subject.pk])[subject.pk]
    crypto.seal(key, "evidence", table="t", column="c", row=1)
    assert key._aead is not None
    assert crypto._cache[subject.pk] is not key
    assert crypto._cache[subject.pk]._aead is None


@pytest.mark.django_db
def test_the_process_cache_holds_at_most_data_key_cache_size_keys_dropping_the_oldest(settings):
    settings.DATA_KEY_CACHE_SIZE = 2
    subjects = [make_full_subject() for _ in range(3)]
    crypto.clear_key_cache()
    for subject in subjects:
        crypto.keys_for_subjects([subject.pk])
    assert sorted(crypto._cache) == sorted(s.pk for s in subjects[1:])
