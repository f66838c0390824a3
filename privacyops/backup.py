"""Database backup and restore with pg_dump / pg_restore (custom format).

A restore brings back data erased after the backup was taken: run `manage.py replay_erasures
--since <backup time>` right after `manage.py restore` (the restore command prints the reminder),
so erased records and destroyed data keys stay erased.
"""

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def pg_args(alias: str = "default") -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES[alias]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("Backups with pg_dump need PostgreSQL (DATABASE_URL=postgres://...).")
    args = ["--host", db.get("HOST") or "127.0.0.1", "--port", str(db.get("PORT") or 5432)]
    if db.get("USER"):
        args += ["--username", db["USER"]]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return args, env


def backup_create(*, output: Path, alias: str = "default") -> Path:
    """Dump the database; first make sure the erasure-journal mirror (outside the dump) is complete."""
    from retention.mirror import mirror_dir
    from retention.services import erasure_mirror_sync

    if mirror_dir() is not None:
        erasure_mirror_sync(since=datetime(1970, 1, 1, tzinfo=UTC))
    args, env = pg_args(alias)
    name = settings.DATABASES[alias]["NAME"]
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", str(output), *args, name],
        env=env,
        check=True,
        capture_output=True,
    )
    return output


def backup_restore(*, source: Path, alias: str = "default") -> None:
    """Replace the database's contents with the backup (objects are dropped and recreated)."""
    args, env = pg_args(alias)
    name = settings.DATABASES[alias]["NAME"]
    from django.db import connections

    connections[alias].close()
    subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--dbname",
            name,
            *args,
            str(source),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
