"""Suite-wide fixtures: service detection, eager Celery by default, a real worker on Redis on demand.

Tests marked `postgres`, `redis`, `mysql` or `browser` are skipped with a visible reason when that service is missing;
with REQUIRE_SERVICES=1 (CI) a missing service fails them instead.
"""

import os
import socket
import threading
from urllib.parse import urlparse

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def redis_url() -> str:
    """Redis for the real-worker tests: TEST_REDIS_URL, else a Redis CELERY_BROKER_URL, else local db 15."""
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis://") else "redis://127.0.0.1:6379/15"


def _redis_reachable() -> bool:
    parsed = urlparse(redis_url())
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


_REDIS_UP: bool | None = None
_MYSQL_UP: bool | None = None


def mysql_url() -> str:
    """MySQL/MariaDB server for the connectors' tests (they create and drop their own database)."""
    return os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/")


def _mysql_reachable() -> bool:
    parsed = urlparse(mysql_url())
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 3306), timeout=1):
            return True
    except OSError:
        return False


def _missing_service(item: pytest.Item) -> str | None:
    global _REDIS_UP, _MYSQL_UP
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            return f"needs PostgreSQL; the database is {connection.vendor} (set DATABASE_URL)"
    if item.get_closest_marker("redis"):
        if _REDIS_UP is None:
            _REDIS_UP = _redis_reachable()
        if not _REDIS_UP:
            return f"needs Redis at {urlparse(redis_url()).netloc}, which does not answer"
    if item.get_closest_marker("browser"):
        from tests.browser.conftest import missing_browser

        reason = missing_browser()
        if reason:
            return reason
    if item.get_closest_marker("mysql"):
        if _MYSQL_UP is None:
            _MYSQL_UP = _mysql_reachable()
        if not _MYSQL_UP:
            return f"needs MySQL/MariaDB at {urlparse(mysql_url()).netloc} (TEST_MYSQL_URL), which does not answer"
    return None


def _is_transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    names = getattr(item, "fixturenames", [])
    return (
        "transactional_db" in names
        or "celery_worker" in names
        or bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Transactional tests end with a flush that also wipes the reference rows seeded by data
    migrations (categories, purposes, templates, schedules...). Serialized rollback restores them
    before each transactional test, so no test depends on running before the first flush."""
    for item in items:
        if not _is_transactional(item):
            continue
        if "django_db_serialized_rollback" not in item.fixturenames:
            item.fixturenames.append("django_db_serialized_rollback")
        # pytest-django serializes the database at set-up only for tests whose django_db MARKER asks for
        # it (the fixture name is not read when a marker exists): without this, a run of one directory
        # with no such marker restored nothing, and the tests after its first flush lost the seeded rows.
        marker = item.get_closest_marker("django_db")
        if marker is not None and not marker.kwargs.get("serialized_rollback"):
            kwargs = {**marker.kwargs, "transaction": True, "serialized_rollback": True}
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)  # the closest one


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _missing_service(item)
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but this test {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def _eager_celery():
    """Tasks run in-process unless a test asks for the real worker."""
    from privacyops.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True)
def _axes_off_unless_asked(request, settings):
    """django-axes needs a request in authenticate(); the test client's login() passes none.

    Lock-out behaviour is proven in tests/security/test_login.py, which turns it back on.
    """
    settings.AXES_ENABLED = "axes_enabled" in request.fixturenames


@pytest.fixture(autouse=True)
def _fresh_web_consent_config():
    """Each test reads purposes and policy versions from its own database state, not from the per-process
    copy an earlier test's (rolled back) rows left (consent.web_selectors.web_config)."""
    from consent.web_selectors import web_config_forget

    web_config_forget()
    yield
    web_config_forget()


_SAVED_SQLITE_TRIGGERS: list[str] = []


@pytest.fixture(autouse=True)
def _release_without_approval_unless_asked(request, settings):
    """REQUESTS_RELEASE_NEEDS_APPROVAL is on by default (requests_app/conf.py); tests written before the
    officer's approval step send packages at once (the setting off). The approval itself is proven in
    tests/requests_app/test_release_approval.py, whose tests ask for the `release_approval` fixture."""
    settings.REQUESTS_RELEASE_NEEDS_APPROVAL = "release_approval" in request.fixturenames


@pytest.fixture
def release_approval():
    """Ask for it to run a test with the production default: packages wait for an officer."""
    return True


@pytest.fixture(autouse=True)
def _sqlite_ledgers_flushable(request):
    """On SQLite, Django flushes after a transactional test with DELETE, which the append-only
    triggers refuse; lift the DELETE triggers for the flush and put them back for the next test.
    (PostgreSQL flushes with TRUNCATE, which the row triggers don't see.)"""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    uses_db = transactional or marker is not None or "db" in request.fixturenames
    if not uses_db or (not transactional and not _SAVED_SQLITE_TRIGGERS):
        yield
        return
    request.getfixturevalue("_django_db_helper")  # set up first, so its flush runs after our teardown
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        for sql in _SAVED_SQLITE_TRIGGERS:
            cursor.execute(sql.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1))
    if not transactional:
        yield
        return
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_no_delete'"
        )
        found = cursor.fetchall()
        _SAVED_SQLITE_TRIGGERS[:] = [sql for _, sql in found]
        for name, _ in found:
            cursor.execute(f'DROP TRIGGER "{name}"')


@pytest.fixture
def axes_enabled(settings):
    settings.AXES_ENABLED = True


def reset_celery_connections(app) -> None:
    # The broker pool and result backend are cached on first use: drop them after changing URLs.
    from kombu import pools

    app.close()
    pools.reset()  # kombu keeps producer pools per connection URL, process-wide
    app._local = threading.local()
    app.__dict__.pop("amqp", None)
    app.__dict__.pop("backend", None)


@pytest.fixture
def celery_worker(transactional_db, monkeypatch):
    """A real Celery worker (thread, solo pool) consuming from Redis, like production's `celery worker`."""
    from celery.contrib.testing.worker import start_worker

    from privacyops.celery import app

    url = redis_url()
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (Settings.broker_url):
    # with it set to another Redis than TEST_REDIS_URL, tasks would travel where the tests don't look.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    reset_celery_connections(app)
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()  # a clean queue: no leftovers from an earlier run
    with start_worker(
        app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30
    ) as w:
        yield w
    app.conf.update(saved)
    reset_celery_connections(app)
