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

from inventory.models import System

from . import fides, graph, sql
from .models import Connection, Dataset
from .secrets import open_json, open_sealed


class NotConnected(Exception):
    """The system has no usable connection or dataset (message names the system code only)."""


@lru_cache(maxsize=256)
def parsed_dataset(dataset_id: int, updated_at: Any, text: str) -> fides.Dataset:
    return fides.parse_one(text)


def system_graph(system: System) -> tuple[graph.Graph, dict[str, str]]:
    """The traversal graph of a system's datasets and their merged erase mapping.

    Read on every run (a dataset or strategy changed by an officer applies to the next run), built
    once per content: the cache key is every dataset's id, version, text and erase mapping.
    """
    rows = Dataset.objects.filter(system=system).order_by("fides_key")
    versions = tuple(
        (pk, updated_at, text, json.dumps(erase or {}, sort_keys=True))
        for pk, updated_at, text, erase in rows.values_list("pk", "updated_at", "text", "erase")
    )
    if not versions:
        raise NotConnected(f"system {system.code!r} has no dataset")
    g, erase = built_graph(versions)
    return g, dict(erase)


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

    @cached_property
    def engine(self) -> Any:
        url = open_sealed(self.connection.secret)
        if not url:
            raise NotConnected(f"system {self.connection.system.code!r} has no database URL")
        return sql.engine_for(url, cache_key=(self.connection.pk, self.connection.secret_changed_at))

    def access(self, identities: dict[str, list[str]]) -> sql.Traversal:
        engine = self.engine
        return sql.run_in_transaction(
            engine,
            lambda conn: sql.traverse(conn, self.graph, identities, row_cap=self.connection.row_cap),
            read_only=True,
        )

    def steps(self, found: sql.Traversal) -> list[sql.ErasureStep]:
        return sql.erasure_steps(self.graph, found, self.erase)

    def apply(self, steps: list[sql.ErasureStep]) -> dict[str, int]:
        def work(conn: Any) -> dict[str, int]:
            return sql.apply_steps(conn, self.graph, steps)

        return sql.run_in_transaction(self.engine, work)

    def apply_journaled(self, steps: list[sql.ErasureStep], journal: Callable[[], None]) -> dict[str, int]:
        """Journal (committed in our database) before the external COMMIT, then commit the change.

        The keys journaled are the ones the statements change, so a worker killed at any point leaves
        either nothing changed or a journal to re-apply; on PostgreSQL the journal's commit overlaps the
        statements instead of preceding them (`sql.apply_steps`).
        """
        if self.engine.dialect.name != "postgresql":
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


def for_system(system: System) -> Any:
    """The connector of a system, or NotConnected with a reason an officer understands."""
    try:
        connection = system.connection
    except Connection.DoesNotExist:
        raise NotConnected(f"system {system.code!r} has no connection") from None
    if not connection.enabled:
        raise NotConnected(f"system {system.code!r} is disabled")
    if connection.kind == Connection.Kind.SQL:
        g, erase = system_graph(system)
        return SqlConnector(connection, g, erase)
    if connection.kind == Connection.Kind.HTTP:
        from .http import HttpConnector

        return HttpConnector.from_connection(connection, secrets=open_json(connection.secret))
    raise NotConnected(f"system {system.code!r} is manual: its owner answers")
