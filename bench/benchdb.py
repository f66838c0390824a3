"""The throw-away database every bench runs in: `bench_<DATABASE name>`, created and dropped by the run
(kept with --keepdb), so a bench never touches a real database and never needs one migrated."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


@contextmanager
def throwaway_database(*, keepdb: bool = False) -> Iterator[None]:
    db = settings.DATABASES["default"]
    db.setdefault("TEST", {})["NAME"] = f"bench_{db['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=not keepdb, keepdb=keepdb)
    try:
        yield
    finally:
        if not keepdb:
            _terminate_other_sessions()
            connection.creation.destroy_test_db(old_name, verbosity=0)


def _terminate_other_sessions() -> None:
    """End the bench database's other sessions (a worker thread's connection kept by CONN_MAX_AGE), which
    would otherwise refuse the DROP DATABASE."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
