"""Fixed-window counters for rate limits, in one cache round trip where the cache allows it.

With Django's Redis cache, "start the window if it isn't running" (SET NX EX) and "count this request"
(INCR) go to Redis as one server-side script (EVALSHA): one round trip, one command and atomic, where
add() then incr() cost three (Django's incr() asks whether the key exists first) and a MULTI/EXEC
pipeline costs four commands to pack and four replies to parse on every public request. Other caches
(local memory in development and tests) take add() and incr().
"""

import hashlib
from typing import Any

from django.core.cache.backends.redis import RedisCacheClient
from redis.exceptions import NoScriptError

# KEYS[1] the counter, ARGV[1] the window in seconds: start it at 0 if absent, then count this request.
_WINDOW_COUNT = "redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX') return redis.call('INCR', KEYS[1])"
_WINDOW_COUNT_SHA = hashlib.sha1(_WINDOW_COUNT.encode()).hexdigest()


def _redis_window_count(client: Any, name: str, window: int) -> int:
    try:
        return int(client.evalsha(_WINDOW_COUNT_SHA, 1, name, window))
    except NoScriptError:  # a restarted or flushed server: EVAL sends the script and caches it again
        return int(client.eval(_WINDOW_COUNT, 1, name, window))


def window_count(cache: Any, key: str, window: int) -> int:
    """Count one more request in the window `key` (`window` seconds from its first request); the count.

    `cache` may be `django.core.cache.cache`, a proxy that is no RedisCache instance itself: what decides
    is the client behind it (an isinstance test on the proxy sent every count on the three-trip path).
    """
    if isinstance(getattr(cache, "_cache", None), RedisCacheClient):
        name = cache.make_and_validate_key(key)
        client = cache._cache.get_client(name, write=True)
        return _redis_window_count(client, name, window)
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1
