"""A plain-SQL, data-only pg_dump of the test database, split per table (so a finding names its table)."""

import re
import subprocess

from django.apps import apps
from django.conf import settings

from privacyops.backup import pg_args

_COPY = re.compile(r"^COPY (?:public\.)?\"?([\w]+)\"? \(.*?\) FROM stdin;\n(.*?)^\\\.$", re.M | re.S)


def pg_dump_tables() -> dict[str, str]:
    """{table: its COPY data} for every table with rows, read by pg_dump from outside this process."""
    args, env = pg_args()
    name = settings.DATABASES["default"]["NAME"]
    out = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", "--format=plain", *args, name],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tables = {m.group(1): m.group(2) for m in _COPY.finditer(out)}
    assert tables, "pg_dump returned no data"
    return tables


def model_label_of(table: str) -> str:
    for model in apps.get_models(include_auto_created=True):
        if model._meta.db_table == table:
            return model._meta.label
    return table
