"""Envelope encryption for crypto-shredding (NIST SP 800-88 "cryptographic erase").

Each data subject has a random data key (Fernet: AES-128-CBC + HMAC-SHA256) stored only wrapped by a
master key from the environment (`DATA_MASTER_KEYS`, newest first: MultiFernet encrypts with the
first and decrypts with any, so rotation is prepend-then-rewrap). Sensitive fields are always stored
encrypted under their subject's key; destroying the wrapped key makes every copy of those values
unreadable, database backups included, once the destruction is replayed after a restore.
"""

from collections.abc import Iterable
from functools import lru_cache

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection


class KeyDestroyed(Exception):
    """The subject's data key was destroyed (crypto-shredded): the value is unreadable by design."""


class UndecryptableValue(Exception):
    """A stored value does not decrypt with the subject's key (corrupt, or sealed for another subject)."""


@lru_cache(maxsize=8)
def _master(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("DATA_MASTER_KEYS is empty.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("DATA_MASTER_KEYS holds a key that is not a valid Fernet key.") from exc


def master() -> MultiFernet:
    return _master(tuple(settings.DATA_MASTER_KEYS))


def new_wrapped_key() -> str:
    """A fresh data key, wrapped by the newest master key, ready to store."""
    return master().encrypt(Fernet.generate_key()).decode()


def rewrap(wrapped: str) -> str:
    """Re-encrypt a wrapped key under the newest master key (key rotation)."""
    return master().rotate(wrapped.encode()).decode()


def unwrap(wrapped: str) -> Fernet:
    if not wrapped:
        raise KeyDestroyed()
    return _unwrap(wrapped, tuple(settings.DATA_MASTER_KEYS))


@lru_cache(maxsize=4096)
def _unwrap(wrapped: str, keys: tuple[str, ...]) -> Fernet:
    """Unwrapping costs a MultiFernet decrypt; bulk paths unwrap the same keys again and again.

    The cache is keyed by the *wrapped* value read from the database on every lookup, so a
    destroyed key (wrapped emptied) or a rotated one is never served from here: shredding takes
    effect at once. What remains is that up to 4,096 unwrapped keys stay in this process's memory
    until evicted or the process restarts — the same exposure as any key in use.
    """
    return Fernet(_master(keys).decrypt(wrapped.encode()))


def seal(key: Fernet, plaintext: str | None) -> str:
    """Encrypt a value under a subject's data key. None and "" stay empty (nothing to protect)."""
    if plaintext is None or plaintext == "":
        return ""
    return key.encrypt(str(plaintext).encode()).decode()


def open_sealed(key: Fernet, token: str | None) -> str:
    if not token:
        return ""
    try:
        return key.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableValue() from exc


def keys_for_subjects(subject_ids: Iterable[int]) -> dict[int, Fernet | None]:
    """Unwrapped keys for many subjects in one query; None where the key was destroyed."""
    from .models import DataKey

    ids = list(subject_ids)
    if connection.vendor == "postgresql":
        # One array parameter bound server-side: Django's `__in=[thousands]` builds and parses a
        # placeholder per id on the client, which costs more than the query on bulk paths.
        with connection.cursor() as cursor, psycopg.Cursor(cursor.connection) as bound:
            bound.execute(
                f"SELECT subject_id, wrapped FROM {DataKey._meta.db_table} WHERE subject_id = ANY(%s::bigint[])",
                [ids],
            )
            pairs = bound.fetchall()
    else:
        pairs = DataKey.objects.filter(subject_id__in=ids).values_list("subject_id", "wrapped")
    found: dict[int, Fernet | None] = {}
    for subject_id, wrapped in pairs:
        found[subject_id] = unwrap(wrapped) if wrapped else None
    return found


def key_for_subject(subject_id: int) -> Fernet:
    key = keys_for_subjects([subject_id]).get(subject_id)
    if key is None:
        raise KeyDestroyed()
    return key
