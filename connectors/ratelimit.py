"""The per-system rate limit, shared by every worker process: request slots booked in Redis.

Each request books the next free slot of its system: `at = max(now, next_free)`, `next_free = at +
1/rate`, atomically in one Lua script using Redis's clock, so every process (and thread) sees the same
schedule; the caller sleeps until its slot. Without a Redis URL (or while Redis is unreachable) the
slots are booked per process, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# KEYS[1]: the system's key; ARGV[1]: seconds between requests. Returns the slot (epoch seconds, Redis's
# clock) and the seconds to wait, as strings (Redis would truncate a Lua number to an integer).
BOOK_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], string.format('%.6f', at + interval), 'PX', math.ceil((at + interval - now) * 1000) + 1000)
return {string.format('%.6f', at), string.format('%.6f', at - now)}
"""
KEY_PREFIX = "privacyops:connectors:rate:"


def shared_url() -> str:
    """Where slots are booked: CONNECTORS_RATE_LIMIT_REDIS_URL, else a Redis Celery broker, else none."""
    url = getattr(settings, "CONNECTORS_RATE_LIMIT_REDIS_URL", "") or getattr(
        settings, "CELERY_BROKER_URL", ""
    )
    return url if str(url).startswith(("redis://", "rediss://")) else ""


class Slot(NamedTuple):
    """A booked request slot: when (epoch seconds) and how long the caller waits for it."""

    at: float
    delay: float


class LocalSlots:
    """Per-process booking (no Redis): threads of one process share it."""

    def __init__(self) -> None:
        self._next: dict[Any, float] = {}
        self._lock = threading.Lock()

    def book(self, key: Any, rate: float) -> Slot:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(key, 0.0))
            self._next[key] = at + 1.0 / rate
        return Slot(time.time() + (at - now), at - now)


class RedisSlots:
    """Booking in Redis: every process using the same URL and key shares one schedule."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.script = self.client.register_script(BOOK_SLOT)

    def book(self, key: Any, rate: float) -> Slot:
        at, delay = self.script(keys=[f"{KEY_PREFIX}{key}"], args=[repr(1.0 / rate)])
        return Slot(float(at), float(delay))


LOCAL = LocalSlots()
_shared: dict[str, RedisSlots] = {}
_shared_lock = threading.Lock()


def redis_slots(url: str) -> RedisSlots:
    with _shared_lock:
        if url not in _shared:
            _shared[url] = RedisSlots(url)
        return _shared[url]


def wait(key: Any, rate: float, sleep: Callable[[float], None], *, url: str | None = None) -> Slot:
    """Sleep until this request's slot for `key` (a system id) at `rate` requests per second."""
    if rate <= 0:
        return Slot(time.time(), 0.0)
    url = shared_url() if url is None else url
    slot = None
    if url:
        try:
            slot = redis_slots(url).book(key, rate)
        except redis.RedisError as exc:  # Redis away: keep working, limited per process
            logger.warning(
                "connectors rate limit: Redis unavailable (%s); limiting per process", type(exc).__name__
            )
    if slot is None:
        slot = LOCAL.book(key, rate)
    if slot.delay > 0:
        sleep(slot.delay)
    return slot
