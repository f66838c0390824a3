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
            connection.creation.destroy_test_db(old_name, verbosity=0)
