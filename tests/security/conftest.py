import pytest


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """The public form's per-IP and per-recipient limits count in the cache: each test starts at zero."""
    from django.core.cache import cache

    cache.clear()
    yield
