import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The dashboard and admin filter lookups cache aggregates; each test starts without them."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are created in many tests; the production hasher costs about a second each on 2 cores."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
