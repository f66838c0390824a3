"""Looking for a person's plaintext where it must not be: Redis keyspaces, database dumps, any text.

Kombu keeps task messages in Redis with base64-encoded bodies (inside JSON envelopes, inside the
`unacked` hash...), so every base64-looking run of characters is decoded and searched too.
"""

import base64
import binascii
import re
from collections.abc import Iterable, Iterator

from .world import JANE

_B64 = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def needles(values: dict[str, str] | None = None, *extra: str) -> list[str]:
    """What to look for: each value, plus its distinctive parts (a first name alone is a leak too)."""
    values = values or JANE
    found = set(extra)
    for value in values.values():
        found.add(value)
        found.update(part for part in re.split(r"[\s,]+", value) if len(part) >= 6 and not part.isdigit())
    found.add(re.sub(r"\D", "", values.get("phone", "")) or "\0")  # the phone number's digits, unformatted
    found.add(values.get("email", "\0").lower())
    found.discard("example.org")
    return sorted(f for f in found if f and f != "\0")


def _expand(blob: bytes, depth: int = 0) -> Iterator[bytes]:
    yield blob
    if depth > 2:
        return
    for match in _B64.finditer(blob):
        chunk = match.group(0)
        try:
            decoded = base64.b64decode(chunk + b"=" * (-len(chunk) % 4), validate=False)
        except (binascii.Error, ValueError):
            continue
        if decoded:
            yield from _expand(decoded, depth + 1)


def find(blobs: Iterable[bytes | str], wanted: Iterable[str]) -> list[tuple[str, str]]:
    """(needle, where) for every needle found in the blobs, base64 layers decoded, case ignored."""
    wanted = [w.lower().encode() for w in wanted]
    hits = []
    for blob in blobs:
        if isinstance(blob, str):
            blob = blob.encode()
        for layer in _expand(blob):
            lowered = layer.lower()
            for needle in wanted:
                if needle in lowered:
                    start = max(0, lowered.index(needle) - 60)
                    hits.append((needle.decode(), layer[start : start + 160].decode(errors="replace")))
    return hits


def redis_blobs(client) -> Iterator[bytes]:
    """Every key and every value of every type in the client's database."""
    for key in client.scan_iter(count=1000):
        yield key
        kind = client.type(key)
        if kind == b"string":
            yield client.get(key) or b""
        elif kind == b"list":
            yield from client.lrange(key, 0, -1)
        elif kind == b"set":
            yield from client.smembers(key)
        elif kind == b"zset":
            yield from (member for member, _score in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                yield field
                yield value
        elif kind == b"stream":
            for _id, entry in client.xrange(key):
                for field, value in entry.items():
                    yield field
                    yield value
        else:
            raise AssertionError(f"unexpected Redis type {kind!r} at {key!r}")


def redis_keys_by_type(client) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        counts[kind] = counts.get(kind, 0) + 1
    return counts
