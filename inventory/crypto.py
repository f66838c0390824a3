"""Envelope encryption for crypto-shredding (NIST SP 800-88 "cryptographic erase").

Each data subject has a random data key (Fernet: AES-128-CBC + HMAC-SHA256) stored only wrapped by a
master key from the environment (`DATA_MASTER_KEYS`, newest first: MultiFernet encrypts with the
first and decrypts with any, so rotation is prepend-then-rewrap). Sensitive fields are always stored
encrypted under their subject's key; destroying the wrapped key makes every copy of those values
unreadable, database backups included, once the destruction is replayed after a restore.

Bulk paths (consent ingestion) seal and unwrap thousands of values per call: `seal_many` and
`sealing_keys_for_subjects` build and open the very same Fernet tokens from the primitives, without
Fernet's per-call overhead; tests prove `Fernet.decrypt` reads what they write and vice versa.
"""

import base64
import binascii
import hmac
import os
import time
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NewType

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from . import conf


class KeyDestroyed(Exception):
    """The subject's data key was destroyed (crypto-shredded): the value is unreadable by design."""


class UndecryptableValue(Exception):
    """A stored value does not decrypt with the subject's key (corrupt, or sealed for another subject)."""


SealingKey = NewType("SealingKey", bytes)
"""A subject's raw 32-byte data key (HMAC half, then AES half), as the bulk paths pass it around.

Plain bytes rather than a Fernet object: bulk ingestion holds thousands at once, and bytes cost the
garbage collector nothing. Only this module looks inside.
"""


# Fernet token layout: 0x80 | 8-byte big-endian time | 16-byte IV | AES-128-CBC(PKCS7) | HMAC-SHA256.
_HEAD, _IV_END, _TAG = 9, 25, 32
_MIN_TOKEN = _IV_END + 16 + _TAG  # at least one cipher block
_PADDING = [bytes([n]) * n for n in range(17)]


@lru_cache(maxsize=8)
def master_fernet(keys: tuple[str, ...]) -> MultiFernet:
    """The master keys as one MultiFernet (newest encrypts, any decrypts), cached per key tuple."""
    if not keys:
        raise ImproperlyConfigured("DATA_MASTER_KEYS is empty.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("DATA_MASTER_KEYS holds a key that is not a valid Fernet key.") from exc


def master() -> MultiFernet:
    return master_fernet(conf.data_master_keys())


def new_wrapped_key() -> str:
    """A fresh data key, wrapped by the newest master key, ready to store."""
    return master().encrypt(Fernet.generate_key()).decode()


def rewrap(wrapped: str) -> str:
    """Re-encrypt a wrapped key under the newest master key (key rotation)."""
    return master().rotate(wrapped.encode()).decode()


def unwrap(wrapped: str) -> Fernet:
    if not wrapped:
        raise KeyDestroyed()
    return _unwrap(wrapped, conf.data_master_keys())


@lru_cache(maxsize=4096)
def _unwrap(wrapped: str, keys: tuple[str, ...]) -> Fernet:
    """Unwrapping costs a MultiFernet decrypt; bulk paths unwrap the same keys again and again.

    The cache is keyed by the *wrapped* value read from the database on every lookup, so a
    destroyed key (wrapped emptied) or a rotated one is never served from here: shredding takes
    effect at once. What remains is that up to 4,096 unwrapped keys stay in this process's memory
    until evicted or the process restarts — the same exposure as any key in use.
    """
    return Fernet(master_fernet(keys).decrypt(wrapped.encode()))


@lru_cache(maxsize=8)
def _master_halves(keys: tuple[str, ...]) -> list[tuple[Any, algorithms.AES]]:
    """Per master key: an HMAC-SHA256 primed with its signing half (copied per token), and its AES half."""
    master_fernet(keys)  # validates the keys
    raws = [base64.urlsafe_b64decode(k) for k in keys]
    return [(hmac.new(raw[:16], digestmod="sha256"), algorithms.AES(raw[16:])) for raw in raws]


def unwrap_many(wrapped: Sequence[str], keys: tuple[str, ...]) -> list[SealingKey]:
    """`MultiFernet.decrypt` of many wrapped keys, with one AES pass per master key instead of one per key.

    Each token's HMAC is verified first, with the master keys in order, exactly as MultiFernet does;
    any bad token raises InvalidToken. CBC decryption of a block needs only that block and the one
    before it (P_i = AES_dec(C_i) xor C_i-1), so the cipher blocks of all tokens under one master key
    go through a single AES-ECB decryptor and are then xored with their predecessors (IV first).
    """
    halves = _master_halves(keys)
    datas: list[bytes] = []
    groups: list[list[int]] = [[] for _ in halves]
    for index, token in enumerate(wrapped):
        try:
            data = base64.urlsafe_b64decode(token)
        except (TypeError, binascii.Error) as exc:
            raise InvalidToken from exc
        if len(data) < _MIN_TOKEN or data[0] != 0x80 or (len(data) - _IV_END - _TAG) % 16:
            raise InvalidToken
        body, tag = data[:-_TAG], data[-_TAG:]
        for group, (primed, _aes) in zip(groups, halves, strict=True):
            mac = primed.copy()
            mac.update(body)
            if hmac.compare_digest(mac.digest(), tag):
                group.append(index)
                break
        else:
            raise InvalidToken
        datas.append(data)
    found: list[SealingKey | None] = [None] * len(datas)
    for group, (_signing, aes) in zip(groups, halves, strict=True):
        if not group:
            continue
        blocks = b"".join([datas[i][_IV_END:-_TAG] for i in group])
        previous = b"".join([datas[i][_HEAD : -_TAG - 16] for i in group])  # IV, then all but the last block
        decryptor = Cipher(aes, modes.ECB()).decryptor()
        mixed = decryptor.update(blocks) + decryptor.finalize()
        plain = (int.from_bytes(mixed, "big") ^ int.from_bytes(previous, "big")).to_bytes(len(blocks), "big")
        offset = 0
        for i in group:
            size = len(datas[i]) - _IV_END - _TAG
            padded = plain[offset : offset + size]
            offset += size
            pad = padded[-1]
            if not 1 <= pad <= 16 or padded[-pad:] != _PADDING[pad]:
                raise InvalidToken
            try:
                raw = base64.urlsafe_b64decode(padded[:-pad])
            except binascii.Error as exc:
                raise ValueError("Fernet key must be 32 url-safe base64-encoded bytes.") from exc
            if len(raw) != 32:
                raise ValueError("Fernet key must be 32 url-safe base64-encoded bytes.")
            found[i] = SealingKey(raw)
    return found  # type: ignore[return-value]  # every slot was filled or InvalidToken raised


def seal(key: Fernet, plaintext: str | None) -> str:
    """Encrypt a value under a subject's data key. None and "" stay empty (nothing to protect)."""
    if plaintext is None or plaintext == "":
        return ""
    return key.encrypt(str(plaintext).encode()).decode()


def seal_many(items: Sequence[tuple[SealingKey, str | None]]) -> list[str]:
    """`seal` for many (key, value) pairs: each result is a standard Fernet token under its own key.

    Same bytes as `Fernet.encrypt` (0x80, time, random IV, AES-128-CBC with PKCS7, HMAC-SHA256 over
    all of it, url-safe base64), built from the primitives because Fernet's per-call overhead
    dominated bulk ingestion. The IVs come from one `os.urandom` call, 16 fresh bytes per token.
    """
    ivs = os.urandom(16 * len(items))
    head = b"\x80" + int(time.time()).to_bytes(8, "big")
    sealed: list[str] = []
    for index, (key, plaintext) in enumerate(items):
        if plaintext is None or plaintext == "":
            sealed.append("")
            continue
        data = str(plaintext).encode()
        iv = ivs[16 * index : 16 * index + 16]
        encryptor = Cipher(algorithms.AES(key[16:]), modes.CBC(iv)).encryptor()
        body = head + iv + encryptor.update(data + _PADDING[16 - len(data) % 16]) + encryptor.finalize()
        sealed.append(base64.urlsafe_b64encode(body + hmac.digest(key[:16], body, "sha256")).decode())
    return sealed


def open_sealed(key: Fernet, token: str | None) -> str:
    if not token:
        return ""
    try:
        return key.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableValue() from exc


def _wrapped_keys(subject_ids: Iterable[int]) -> list[tuple[int, str]]:
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
            return bound.fetchall()
    return list(DataKey.objects.filter(subject_id__in=ids).values_list("subject_id", "wrapped"))


def keys_for_subjects(subject_ids: Iterable[int]) -> dict[int, Fernet | None]:
    """Unwrapped keys for many subjects in one query; None where the key was destroyed."""
    return {
        subject_id: unwrap(wrapped) if wrapped else None for subject_id, wrapped in _wrapped_keys(subject_ids)
    }


def sealing_keys_for_subjects(subject_ids: Iterable[int]) -> dict[int, SealingKey | None]:
    """Keys for `seal_many`, unwrapped in one pass (not cached); None where the key was destroyed."""
    pairs = _wrapped_keys(subject_ids)
    live = [(subject_id, wrapped) for subject_id, wrapped in pairs if wrapped]
    found: dict[int, SealingKey | None] = dict.fromkeys((subject_id for subject_id, _ in pairs), None)
    found.update(
        zip([sid for sid, _ in live], unwrap_many([w for _, w in live], conf.data_master_keys()), strict=True)
    )
    return found


def key_for_subject(subject_id: int) -> Fernet:
    key = keys_for_subjects([subject_id]).get(subject_id)
    if key is None:
        raise KeyDestroyed()
    return key
