"""One interface over the kinds of system: `for_system(system)` returns what runs access and erasure there.

SQL systems traverse their datasets with SQLAlchemy Core; HTTP systems follow their YAML operations;
manual systems have no connector (a person answers, see services.manual_*).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from django.db import connection as db

from inventory.models import System

from . import fides, graph, sql
from .models import Connection, Dataset
from .secrets import open_json, open_sealed


class NotConnected(Exception):
    """The system has no usable connection or dataset (message names the system code only)."""


@lru_cache(maxsize=256)
def parsed_dataset(dataset_id: int, updated_at: Any, text: str) -> fides.Dataset:
    return fides.parse_one(text)


# The dataset versions each system's graph was last built from in this process (system pk -> versions).
_LAST_VERSIONS: dict[int, tuple[tuple[Any, ...], ...]] = {}
# On PostgreSQL every value read as text, so a read through Django and one through libpq compare equal.
_VERSIONS_SQL = (
    f"SELECT id::text, updated_at::text, text, erase::text FROM {Dataset._meta.db_table}"
    " WHERE system_id = {} ORDER BY fides_key"
)


def dataset_versions(system_pk: int) -> tuple[tuple[Any, ...], ...]:
    """Every dataset of a system as (id, version, text, erase mapping as JSON): what a graph is built from."""
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute(_VERSIONS_SQL.format("%s"), [system_pk])
            return tuple(tuple(row) for row in cursor.fetchall())
    rows = Dataset.objects.filter(system_id=system_pk).order_by("fides_key")
    return tuple(
        (pk, updated_at, text, json.dumps(erase or {}, sort_keys=True))
        for pk, updated_at, text, erase in rows.values_list("pk", "updated_at", "text", "erase")
    )


def graph_of(system: System, versions: tuple[tuple[Any, ...], ...]) -> tuple[graph.Graph, dict[str, str]]:
    if not versions:
        raise NotConnected(f"system {system.code!r} has no dataset")
    _LAST_VERSIONS[system.pk] = versions
    g, erase = built_graph(versions)
    return g, dict(erase)


def system_graph(system: System) -> tuple[graph.Graph, dict[str, str]]:
    """The traversal graph of a system's datasets and their merged erase mapping.

    Read on every run (a dataset or strategy changed by an officer applies to the next run), built
    once per content: the cache key is every dataset's id, version, text and erase mapping.
    """
    return graph_of(system, dataset_versions(system.pk))


class _VersionsRead:
    """PostgreSQL: a system's dataset versions asked of our database without waiting for the answer
    (libpq's asynchronous send on Django's connection), collected by `result`: the read overlaps the
    traversal in the other system instead of preceding it."""

    def __init__(self, system_pk: int):
        from psycopg import generators

        db.ensure_connection()
        self.driver = db.connection
        with self.driver.lock:
            self.driver.pgconn.send_query_params(
                _VERSIONS_SQL.format("$1").encode(), [str(system_pk).encode()]
            )
            self.driver.wait(generators.send(self.driver.pgconn))

    def result(self) -> tuple[tuple[Any, ...], ...]:
        from psycopg import errors, generators, pq

        with self.driver.lock:
            results = self.driver.wait(generators.fetch_many(self.driver.pgconn))
        encoding = self.driver.info.encoding
        [result] = results
        if result.status != pq.ExecStatus.TUPLES_OK:
            with db.wrap_database_errors:
                raise errors.error_from_result(result, encoding=encoding)
        return tuple(
            tuple(result.get_value(i, j).decode(encoding) for j in range(result.nfields))
            for i in range(result.ntuples)
        )


@lru_cache(maxsize=128)
def built_graph(versions: tuple[tuple[int, Any, str, str], ...]) -> tuple[graph.Graph, dict[str, str]]:
    """Shared by every run of those datasets: nothing changes a Graph after `graph.build`."""
    erase: dict[str, str] = {}
    for _, _, _, mapping in versions:
        erase.update(json.loads(mapping))
    return graph.build([parsed_dataset(pk, at, text) for pk, at, text, _ in versions]), erase


@dataclass
class SqlConnector:
    """A SQL system: one engine, one graph, one erase mapping."""

    connection: Connection
    graph: graph.Graph
    erase: dict[str, str]
    # The dataset versions `graph` was last built from in this process, not yet read for this run: the
    # first access reads them alongside its traversal and starts again if they changed.
    unchecked: tuple[tuple[Any, ...], ...] | None = None

    @cached_property
    def engine(self) -> Any:
        # Keyed by the sealed text too: the same ciphertext is the same URL, so a known engine is found
        # without unsealing it (a Fernet decryption per run); new credentials are a new key.
        key = (self.connection.pk, self.connection.secret_changed_at, self.connection.secret)
        engine = sql.engine_known(key)
        if engine is not None:
            return engine
        url = open_sealed(self.connection.secret)
        if not url:
            raise NotConnected(f"system {self.connection.system.code!r} has no database URL")
        return sql.engine_for(url, cache_key=key)

    def access(self, identities: dict[str, list[str]]) -> sql.Traversal:
        if self.unchecked is None:
            return self._traverse(identities)
        expected, self.unchecked = self.unchecked, None
        pending = _VersionsRead(self.connection.system_id)
        try:
            found = self._traverse(identities)
        except BaseException:
            pending.result()  # leaves our connection ready for the next statement
            raise
        versions = pending.result()
        if versions == expected:
            return found
        self.graph, self.erase = graph_of(self.connection.system, versions)  # changed meanwhile
        return self._traverse(identities)

    def _traverse(self, identities: dict[str, list[str]]) -> sql.Traversal:
        engine = self.engine
        return sql.run_in_transaction(
            engine,
            lambda conn: sql.traverse(conn, self.graph, identities, row_cap=self.connection.row_cap),
            read_only=True,
        )

    def checked(self) -> None:
        """The datasets read now, if the first access has not read them yet (a graph for this run)."""
        if self.unchecked is not None:
            self.unchecked = None
            self.graph, self.erase = graph_of(
                self.connection.system, dataset_versions(self.connection.system_id)
            )

    def steps(self, found: sql.Traversal) -> list[sql.ErasureStep]:
        return sql.erasure_steps(self.graph, found, self.erase)

    def apply(self, steps: list[sql.ErasureStep]) -> dict[str, int]:
        self.checked()

        def work(conn: Any) -> dict[str, int]:
            return sql.apply_steps(conn, self.graph, steps)

        return sql.run_in_transaction(self.engine, work)

    @property
    def journal_overlaps(self) -> bool:
        """The journal commits while the statements run, in the same call as the external COMMIT."""
        return self.engine.dialect.name == "postgresql"

    def apply_journaled(self, steps: list[sql.ErasureStep], journal: Callable[[], None]) -> dict[str, int]:
        """Journal (committed in our database) before the external COMMIT, then commit the change.

        The keys journaled are the ones the statements change, so a worker killed at any point leaves
        either nothing changed or a journal to re-apply; on PostgreSQL the journal's commit overlaps the
        statements instead of preceding them (`sql.apply_steps`).
        """
        self.checked()
        if not self.journal_overlaps:
            journal()  # first, as before: other engines apply step by step
            return self.apply(steps)

        def work(conn: Any) -> dict[str, int]:
            return sql.apply_steps(conn, self.graph, steps, before_commit=journal)

        return sql.run_in_transaction(self.engine, work)

    def check(self) -> tuple[list[str], list[str]]:
        return sql.check_schema(self.engine, self.graph, self.erase)

    def probe(self) -> str:
        try:
            return sql.probe(self.engine, self.graph)
        except Exception as exc:  # noqa: BLE001 (any driver error is a failed test, reported by class)
            raise sql.SystemUnavailable(f"{type(exc).__name__}: could not connect") from None


def for_system(system: System, *, datasets_alongside: bool = False) -> Any:
    """The connector of a system, or NotConnected with a reason an officer understands.

    `datasets_alongside` (runs and erasures, which access first): on PostgreSQL a SQL system whose graph
    this process has built before gets that graph at once, its datasets read again during the first
    traversal (`SqlConnector.access`), so the read costs no wait of its own; a change still applies.
    """
    try:
        connection = system.connection
    except Connection.DoesNotExist:
        raise NotConnected(f"system {system.code!r} has no connection") from None
    if not connection.enabled:
        raise NotConnected(f"system {system.code!r} is disabled")
    if connection.kind == Connection.Kind.SQL:
        last = _LAST_VERSIONS.get(system.pk) if datasets_alongside and db.vendor == "postgresql" else None
        if last is not None:
            g, erase = built_graph(last)
            return SqlConnector(connection, g, dict(erase), unchecked=last)
        g, erase = system_graph(system)
        return SqlConnector(connection, g, erase)
    if connection.kind == Connection.Kind.HTTP:
        from .http import HttpConnector

        return HttpConnector.from_connection(connection, secrets=open_json(connection.secret))
    raise NotConnected(f"system {system.code!r} is manual: its owner answers")
