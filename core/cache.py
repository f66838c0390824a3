"""Django's Redis cache, with one redis-py client per connection pool instead of one per operation.

Django's RedisCacheClient.get_client() builds a new `redis.Redis` for every cache call, and each one
fills a dict of some 170 response callbacks: a third of a millisecond of CPU per call on a busy public
endpoint (issue 18's consent choice). A client holds no connection of its own (it checks one out of the
pool for each command, and pipelines are made per call), so one per pool serves every thread safely.
Settings swap this class in for Django's when CACHE_URL names Redis (privacyops/settings.py).
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    """Keeps the client made for each pool (the pools themselves are Django's, one per server)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # Django's choice of server, its pool made once
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """Django's RedisCache (same keys, values and options) on the reusing client."""

    def __init__(self, server: Any, params: dict) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
