"""Fixed-window counters for rate limits, in one cache round trip where the cache allows it.

With Django's Redis cache, "start the window if it isn't running" (SET NX EX) and "count this request"
(INCR) go to Redis as one pipelined MULTI/EXEC: one round trip and atomic, where add() then incr()
cost three (Django's incr() asks whether the key exists first). Other caches (local memory in
development and tests) take add() and incr().
"""

from typing import Any

from django.core.cache.backends.redis import RedisCacheClient


def window_count(cache: Any, key: str, window: int) -> int:
    """Count one more request in the window `key` (`window` seconds from its first request); the count.

    `cache` may be `django.core.cache.cache`, a proxy that is no RedisCache instance itself: what decides
    is the client behind it (an isinstance test on the proxy sent every count on the three-trip path).
    """
    if isinstance(getattr(cache, "_cache", None), RedisCacheClient):
        name = cache.make_and_validate_key(key)
        client = cache._cache.get_client(name, write=True)
        pipe = client.pipeline(transaction=True)
        pipe.set(name, 0, ex=window, nx=True)
        pipe.incr(name)
        return int(pipe.execute()[1])
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1
