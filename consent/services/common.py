"""Helpers shared by the consent services (chunking, server-side binding, limits)."""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import psycopg
from django.db import connection

from ..models import Action, Channel

# A consent can't be dated in the future; allow for the sending system's clock running a bit fast.
CLOCK_SKEW = timedelta(minutes=5)
# From this many rows a batch is written with COPY on PostgreSQL (ids allocated from the sequence).
COPY_THRESHOLD = 200
CHUNK = 5000
UPSERT_CHUNK = 500
# Enum .values is recomputed on every access: hot loops use these.
ACTIONS = frozenset(Action.values)
CHANNELS = frozenset(Channel.values)


def chunks(seq: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    """Slices of at most `size` items, so IN lists and statements stay bounded."""
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def pg_fetch(sql: str, params: Sequence[Any]) -> list[tuple]:
    """PostgreSQL only: run one statement with server-side binding and return its rows.

    Django's psycopg cursors bind client-side, so `pk__in=[5,000 ids]` builds and parses 5,000
    placeholders per query, which costs more than the query itself on the bulk path; here a list
    goes to the server as one array parameter (`= ANY(%s)`).
    """
    with connection.cursor() as cursor, psycopg.Cursor(cursor.connection) as bound:
        bound.execute(sql, params)
        return bound.fetchall()
