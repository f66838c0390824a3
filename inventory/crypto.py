"""Envelope encryption for crypto-shredding (NIST SP 800-88 "cryptographic erase"), standard primitives only.

Each data subject has a random 256-bit data key stored only wrapped by a master key from the
environment (`DATA_MASTER_KEYS`, newest first: `MultiFernet` encrypts with the first and decrypts with
any, so rotation is prepend-then-rewrap). Destroying the wrapped key makes every value sealed under it
unreadable, database backups included, once the destruction is replayed after a restore.

Values are sealed with AES-256-GCM (`cryptography`'s `AESGCM`, NIST SP 800-38D) under a key derived
from the data key with HKDF-SHA256 (RFC 5869): token = url-safe base64 of version byte 0x01, a random
96-bit nonce, then ciphertext and 128-bit tag. The associated data binds each ciphertext to its
table, column, row and subject, so a value copied to another row, column or subject fails to open.
Values written before (Fernet tokens, first byte 0x80, no binding) still open with the data key
itself; `manage.py reseal_fernet_values` rewrites them in the new format.

Unwrapped keys are cached per process for speed, but never trusted for long (issue 15 item 5): a key
epoch in the shared cache (Redis in production) is bumped when any key is destroyed, and every batch
of opens checks it; on a change, or once a key is older than `DATA_KEY_CACHE_SECONDS`, the key is
re-read from the database, so after an erasure no process opens that subject's values again.
"""

import base64
import binascii
import contextlib
import logging
import os
import time
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models

from . import conf

logger = logging.getLogger(__name__)

VERSION_GCM = 0x01
_VERSION_FERNET = 0x80
_NONCE = 12
_HKDF_INFO = b"privacyops data key: AES-256-GCM sealing, version 1"
EPOCH_CACHE_KEY = "inventory:data-key-epoch"


class KeyDestroyed(Exception):
    """The subject's data key was destroyed (crypto-shredded): the value is unreadable by design."""


class UndecryptableValue(Exception):
    """A stored value does not open: corrupt, sealed for another subject, or moved from another row."""


class SubjectKey:
    """One subject's unwrapped data key: an AES-256-GCM key for sealing, the raw key for older values.

    Only this module looks inside. `checked` is the (local, shared) key epoch at which the key was last
    known to be live; opens compare it with the current epoch (see the module docstring). The cipher
    objects are built on first use and die with the caller's copy (`handout`): an AESGCM holds an
    OpenSSL context of about 2.4 KB, so the process cache keeps only the key bytes (~0.55 KB a key).
    """

    __slots__ = ("subject_id", "wrapped", "_raw", "_derived", "_aead", "_fernet", "loaded_at", "checked")

    def __init__(self, subject_id: int, wrapped: str, raw: bytes, checked: tuple[int, Any]):
        self.subject_id = subject_id
        self.wrapped = wrapped
        self._raw = raw
        self._derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(raw)
        self._aead: AESGCM | None = None
        self._fernet: Fernet | None = None
        self.loaded_at = time.time()
        self.checked = checked

    @property
    def aead(self) -> AESGCM:
        """The AES-256-GCM key derived from the data key (HKDF-SHA256), as `cryptography` gives it."""
        if self._aead is None:
            self._aead = AESGCM(self._derived)
        return self._aead

    def legacy(self) -> Fernet:
        """The data key as Fernet, for values sealed before AES-256-GCM (read-only use)."""
        if self._fernet is None:
            self._fernet = Fernet(base64.urlsafe_b64encode(self._raw))
        return self._fernet

    def handout(self) -> "SubjectKey":
        """A copy for one caller, sharing the key bytes but not the cipher objects it will build."""
        copy = SubjectKey.__new__(SubjectKey)
        copy.subject_id, copy.wrapped, copy._raw, copy._derived = (
            self.subject_id,
            self.wrapped,
            self._raw,
            self._derived,
        )
        copy._aead = copy._fernet = None
        copy.loaded_at, copy.checked = self.loaded_at, self.checked
        return copy

    def __repr__(self) -> str:  # never the key material
        return f"<SubjectKey of subject #{self.subject_id}>"


SealingKey = SubjectKey  # the name the bulk paths used


# --- master keys and wrapping -------------------------------------------------------------------------


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
    """A fresh 256-bit data key, wrapped by the newest master key, ready to store."""
    return new_data_key()[1]


def new_data_key() -> tuple[bytes, str]:
    """A fresh 256-bit data key and its wrapped form: the caller stores the second and may seal with
    the first at once (sealing_key), saving the read and unwrap of a key it has just made."""
    raw = os.urandom(32)
    return raw, master().encrypt(base64.urlsafe_b64encode(raw)).decode()


def rewrap(wrapped: str) -> str:
    """Re-encrypt a wrapped key under the newest master key (key rotation)."""
    return master().rotate(wrapped.encode()).decode()


def _unwrap_raw(wrapped: str) -> bytes:
    raw = base64.urlsafe_b64decode(master().decrypt(wrapped.encode()))
    if len(raw) != 32:
        raise InvalidToken
    return raw


# --- associated data ----------------------------------------------------------------------------------


def binding(*, table: str, column: str, row: Any, subject_id: int) -> bytes:
    """The associated data of one stored value: where it lives and whose it is.

    Table and column names are identifiers and ids are numbers or UUIDs, so the unit separator can't
    occur inside a part: the encoding is unambiguous.
    """
    return b"\x1f".join(
        (bytes([VERSION_GCM]), table.encode(), column.encode(), str(row).encode(), b"%d" % subject_id)
    )


def field_place(model: type[models.Model] | models.Model, field_name: str) -> tuple[str, str]:
    """(table, column) of a model field, as bound into its ciphertexts."""
    meta = model._meta
    return meta.db_table, meta.get_field(field_name).column


# --- sealing and opening ------------------------------------------------------------------------------


def seal(key: SubjectKey, plaintext: str | None, *, table: str, column: str, row: Any) -> str:
    """Encrypt a value for one place (table, column, row) under its subject's key. None and "" stay ""."""
    if plaintext is None or plaintext == "":
        return ""
    return seal_many([(key, plaintext, row)], table=table, column=column)[0]


def seal_field(key: SubjectKey, record: models.Model, field_name: str, plaintext: str | None) -> str:
    """`seal` for a field of a record whose primary key is already set (saved, reserved or a UUID)."""
    if record.pk is None:
        raise ValueError("Seal a field only once its row has an id (bulk.reserve_ids before inserting).")
    table, column = field_place(record, field_name)
    return seal(key, plaintext, table=table, column=column, row=record.pk)


def seal_many(items: Sequence[tuple[SubjectKey, str | None, Any]], *, table: str, column: str) -> list[str]:
    """`seal` for many (key, value, row id) in one column: the nonces come from one `os.urandom` call."""
    nonces = os.urandom(_NONCE * len(items))
    head = bytes([VERSION_GCM])
    prefix = b"\x1f".join((head, table.encode(), column.encode())) + b"\x1f"
    b64 = base64.urlsafe_b64encode
    sealed: list[str] = []
    append = sealed.append
    at = 0
    for key, plaintext, row in items:
        if plaintext is None or plaintext == "":
            append("")
        else:
            nonce = nonces[at : at + _NONCE]
            aad = prefix + f"{row}\x1f{key.subject_id}".encode()
            text = plaintext if type(plaintext) is str else str(plaintext)
            append(b64(head + nonce + key.aead.encrypt(nonce, text.encode(), aad)).decode())
        at += _NONCE
    return sealed


def is_legacy(token: str | None) -> bool:
    """A value sealed the old way (a Fernet token, not bound to its row)? Fernet's 0x80 encodes as "g"."""
    return bool(token) and token[0] == "g"


def open_sealed(key: SubjectKey, token: str | None, *, table: str, column: str, row: Any) -> str:
    """Decrypt one stored value. Raises KeyDestroyed after erasure, UndecryptableValue when it doesn't open."""
    if not token:
        return ""
    ensure_live([key])
    return _open(key, token, table=table, column=column, row=row)


def open_field(key: SubjectKey, record: models.Model, field_name: str) -> str:
    """`open_sealed` for a field of a record, bound to the record's own table, column and id."""
    table, column = field_place(record, field_name)
    return open_sealed(key, getattr(record, field_name), table=table, column=column, row=record.pk)


def open_fields(key: SubjectKey, fields: Sequence[tuple[models.Model, str]]) -> list[str | None]:
    """`open_field` for many (record, field name) of one subject: the key is re-checked once for the batch.

    With a shared (Redis) cache, re-checking per value costs a round trip per value. Raises
    KeyDestroyed for the batch; a value that does not open comes back as None for the caller to mark.
    """
    ensure_live([key])
    opened: list[str | None] = []
    for record, name in fields:
        token = getattr(record, name)
        if not token:
            opened.append("")
            continue
        table, column = field_place(record, name)
        try:
            opened.append(_open(key, token, table=table, column=column, row=record.pk))
        except UndecryptableValue:
            opened.append(None)
    return opened


def reseal(key: SubjectKey, token: str, *, table: str, column: str, row: Any) -> str:
    """A legacy (Fernet) value opened and sealed again in the current format, bound to its place."""
    if not is_legacy(token):
        raise ValueError("Only legacy Fernet values are re-sealed.")
    try:
        plaintext = key.legacy().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableValue() from exc
    return seal(key, plaintext, table=table, column=column, row=row)


def _open(key: SubjectKey, token: str, *, table: str, column: str, row: Any) -> str:
    try:
        data = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError) as exc:
        raise UndecryptableValue() from exc
    if len(data) > 1 + _NONCE + 16 and data[0] == VERSION_GCM:
        aad = binding(table=table, column=column, row=row, subject_id=key.subject_id)
        try:
            return key.aead.decrypt(data[1 : 1 + _NONCE], data[1 + _NONCE :], aad).decode()
        except InvalidTag as exc:
            raise UndecryptableValue() from exc
    if data[:1] == bytes([_VERSION_FERNET]):
        try:
            return key.legacy().decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise UndecryptableValue() from exc
    raise UndecryptableValue()


# --- the key cache and its epoch (item 5: no key outlives an erasure in any process) ---------------------

_cache: dict[int, SubjectKey] = {}
_cache_epoch: tuple[int, Any] = (0, None)
_local_epoch = 0


def _shared_epoch() -> Any:
    """The key epoch every process shares (Django's cache: Redis in production); None when unreachable."""
    try:
        return cache.get(EPOCH_CACHE_KEY, 0)
    except Exception:  # an unreachable cache must not stop reads: treat every key as unchecked
        logger.warning("The data-key epoch could not be read; keys are re-read from the database.")
        return None


def _epoch() -> tuple[int, Any]:
    return (_local_epoch, _shared_epoch())


def forget_keys_locally(subject_ids: Iterable[int]) -> None:
    """Drop keys from this process at once; keys already handed out re-check at their next open.

    Safe before the destruction commits: after a rollback the key is only read again.
    """
    global _local_epoch
    _local_epoch += 1
    for subject_id in subject_ids:
        _cache.pop(subject_id, None)


def keys_destroyed(subject_ids: Iterable[int]) -> None:
    """Tell every process that keys were destroyed: bump the shared epoch (and forget them here).

    Call once the destruction is committed (transaction.on_commit): a process that re-reads a key
    before the commit still finds it, legitimately, and the bump after the commit makes it look again.
    """
    forget_keys_locally(subject_ids)
    try:
        if not cache.add(EPOCH_CACHE_KEY, 1, timeout=None):
            cache.incr(EPOCH_CACHE_KEY)
    except Exception:  # the cache life bound (DATA_KEY_CACHE_SECONDS) still evicts within seconds
        logger.error("The data-key epoch could not be bumped; other processes evict by age only.")


def ensure_live(keys: Iterable[SubjectKey]) -> None:
    """Per batch of opens: re-check keys against the database if an erasure happened or they are old.

    Raises KeyDestroyed when any of them was destroyed since it was loaded.
    """
    keys = list(keys)
    if not keys:
        return
    epoch = _epoch()
    oldest = time.time() - conf.data_key_cache_seconds()
    stale = [
        k for k in keys if k.wrapped and (k.checked != epoch or epoch[1] is None or k.loaded_at < oldest)
    ]
    if not stale:
        return
    current = dict(_wrapped_keys({k.subject_id for k in stale}))
    for key in stale:
        wrapped = current.get(key.subject_id)
        if wrapped and wrapped != key.wrapped and _unwrap_raw(wrapped) == key._raw:
            key.wrapped = wrapped  # re-wrapped under a newer master key: the same data key
        if not wrapped or wrapped != key.wrapped:
            _cache.pop(key.subject_id, None)
            raise KeyDestroyed()
        key.checked, key.loaded_at = epoch, time.time()


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


def keys_for_subjects(subject_ids: Iterable[int]) -> dict[int, SubjectKey | None]:
    """Unwrapped keys for many subjects in one query; None where the key was destroyed.

    The wrapped keys are always read from the database (the truth); the cache only saves unwrapping,
    only while the key epoch is unchanged, and only for a key whose wrapped value the database still
    holds (that read restarts the key's DATA_KEY_CACHE_SECONDS, as ensure_live's re-check does).
    """
    epoch = key_epoch()
    return keys_from_wrapped(_wrapped_keys(subject_ids), epoch)


def key_epoch() -> tuple[int, Any]:
    """The key epoch, read BEFORE the wrapped keys are: a key read live just before its destruction
    commits is then stamped with the epoch the destruction bumps, and re-checked at its next open."""
    return _epoch()


def keys_from_wrapped(
    rows: Iterable[tuple[int, str]], epoch: tuple[int, Any]
) -> dict[int, SubjectKey | None]:
    """`keys_for_subjects` from (subject id, wrapped key) rows the caller read from the database in a
    statement of its own (a web choice, with the device it locks), after reading `epoch` (key_epoch)."""
    global _cache_epoch
    if epoch != _cache_epoch or epoch[1] is None:
        _cache.clear()
        _cache_epoch = epoch
    now = time.time()
    found: dict[int, SubjectKey | None] = {}
    for subject_id, wrapped in rows:
        if not wrapped:
            _cache.pop(subject_id, None)
            found[subject_id] = None
            continue
        key = _cache.get(subject_id)
        if key is not None and key.wrapped == wrapped:
            # The database, just read, still holds this very wrapped key: the key is as live as a
            # fresh unwrap would be (what ensure_live concludes from the same read), so its age
            # restarts instead of paying the unwrap and HKDF again (issue 19).
            key.checked, key.loaded_at = epoch, now
        else:
            key = SubjectKey(subject_id, wrapped, _unwrap_raw(wrapped), epoch)
            if epoch[1] is not None:
                if len(_cache) >= conf.data_key_cache_size():
                    # The oldest entry; another thread may be changing the dict (then skip).
                    with contextlib.suppress(StopIteration, RuntimeError):
                        _cache.pop(next(iter(_cache)), None)
                _cache[subject_id] = key
        found[subject_id] = key.handout()
    return found


sealing_keys_for_subjects = keys_for_subjects  # the name the bulk paths used


def sealing_key(subject_id: int, raw: bytes) -> SubjectKey:
    """A key from a data key the caller just drew and holds (bulk loading: demo data); not cached.

    It has no stored wrapped copy to re-check, so opens with it skip the liveness check.
    """
    return SubjectKey(subject_id, "", raw, (-1, None))


def key_for_subject(subject_id: int) -> SubjectKey:
    key = keys_for_subjects([subject_id]).get(subject_id)
    if key is None:
        raise KeyDestroyed()
    return key


def clear_key_cache() -> None:
    """Forget every unwrapped key in this process (tests, and workers between jobs if wanted)."""
    _cache.clear()
