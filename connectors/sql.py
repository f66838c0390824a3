"""SQL systems through SQLAlchemy Core: traversal, erasure, journal replay, live schema checks.

No ORM models for foreign schemas: lightweight `table()`/`column()` constructs built from the dataset,
so one query per collection and step is all a traversal costs. Engines are cached per connection and
credential version, so a credential change mid-case reconnects instead of reusing a dead pool.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from django.conf import settings

from .graph import ERASE_DELETE, ERASE_HASH, ERASE_KEEP, Graph, erase_plan

HASHED = re.compile(r"^[0-9a-f]{64}$")
_ENGINES: dict[tuple[Any, ...], sa.Engine] = {}
_BY_KEY: dict[Any, sa.Engine] = {}  # cache_key -> its engine: found again without the URL
_LOCK = threading.Lock()


class SystemUnavailable(Exception):
    """The system did not answer or refused the credentials (message names the system and error class)."""


def normalize_url(url: str) -> str:
    """Accept the usual URL spellings and pick our drivers: psycopg 3 for PostgreSQL, PyMySQL for MySQL."""
    for old, new in (
        ("postgres://", "postgresql+psycopg://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("mysql://", "mysql+pymysql://"),
        ("mariadb://", "mysql+pymysql://"),
    ):
        if url.startswith(old):
            return new + url[len(old) :]
    return url


def engine_for(url: str, *, cache_key: Any = None) -> sa.Engine:
    """A pooled engine per (cache_key, url); NullPool for SQLite files (one connection per use)."""
    key = (cache_key, url)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            url = normalize_url(url)
            # No pre-ping (a round trip per checkout): a dropped connection fails that run, the pool
            # is invalidated by SQLAlchemy, and the retry reconnects. Recycle before server timeouts.
            kwargs: dict[str, Any] = {"pool_recycle": 300}
            if url.startswith("sqlite"):
                kwargs = {"poolclass": sa.pool.NullPool}
            engine = sa.create_engine(url, **kwargs)
            _ENGINES[key] = engine
        if cache_key is not None:
            _BY_KEY[cache_key] = engine
    return engine


def engine_known(cache_key: Any) -> sa.Engine | None:
    """The engine `engine_for` made for this cache key, if any: a caller whose key already pins the
    credentials (their sealed text) need not unseal the URL to find it."""
    return _BY_KEY.get(cache_key)


def dispose_engines() -> None:
    """Close every pool (tests dropping databases; a credential change drops the old key's pool)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
        _BY_KEY.clear()


def keyed_hash(value: Any) -> str:
    """HMAC-SHA256 under settings.HASH_KEY, the same function the back office uses on its own rows."""
    return hmac.new(settings.HASH_KEY.encode(), str(value).encode(), hashlib.sha256).hexdigest()


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


@dataclass
class CollectionResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False


@dataclass
class Traversal:
    """What one traversal found, by collection, plus the number of queries it took."""

    collections: dict[str, CollectionResult]
    queries: int = 0

    @property
    def truncated(self) -> list[str]:
        return sorted(c for c, r in self.collections.items() if r.truncated)

    def counts(self) -> dict[str, int]:
        return {c: len(r.rows) for c, r in self.collections.items() if r.rows}

    def as_json(self) -> dict[str, list[dict[str, Any]]]:
        return {
            c: [{k: jsonable(v) for k, v in row.items()} for row in r.rows]
            for c, r in self.collections.items()
            if r.rows
        }


def _table(graph: Graph, cname: str, columns: Iterable[str]) -> Any:
    short = cname.split(":")[-1]
    schema, _, name = short.rpartition(".")
    return sa.table(name, *[sa.column(c) for c in columns], schema=schema or None)


def identity_values(identities: dict[str, Iterable[str]]) -> dict[str, list[Any]]:
    """Emails are matched as given and lower-cased (the policy: one person, one address)."""
    out: dict[str, list[Any]] = {}
    for ident, values in identities.items():
        vals = [v for v in values if v not in (None, "")]
        if ident == "email":
            vals = [*vals, *(str(v).strip().lower() for v in vals)]
        out[ident] = list(dict.fromkeys(vals))
    return out


def traverse(
    conn: sa.Connection, graph: Graph, identities: dict[str, Iterable[str]], *, row_cap: int
) -> Traversal:
    """Rows reached from the identities: one statement when the graph allows, else step by step."""
    identities = {k: list(v) for k, v in identities.items()}
    found = traverse_in_one_statement(conn, graph, identities, row_cap=row_cap)
    if found is not None:
        return found
    return traverse_by_steps(conn, graph, identities, row_cap=row_cap)


_JSON_OBJECT = {"postgresql": "json_build_object", "mysql": "JSON_OBJECT", "sqlite": "json_object"}


def traverse_in_one_statement(
    conn: sa.Connection, graph: Graph, identities: dict[str, list[Any]], *, row_cap: int
) -> Traversal | None:
    """The whole traversal as one `WITH` statement: a CTE per collection in dependency order, each
    selecting by its identity values and by the keys of the CTEs before it, rows returned as JSON.

    One round trip instead of one per collection and step (on a busy server the round trips are the
    cost). Returns None, for the step-by-step traversal to answer, when it can't be exact: an edge
    pointing back up the order brings values not already looked up, or a collection hit the row cap.
    """
    if conn.dialect.name not in _JSON_OBJECT:
        return None
    seeds = identity_values(identities)
    position = {c: i for i, c in enumerate(graph.order)}
    shape = tuple((ident, len(values)) for ident, values in seeds.items() if values)
    statement, sources, parts = _one_statement(graph, conn.dialect, row_cap, shape)
    if statement is None:
        return Traversal(collections={c: CollectionResult() for c in graph.collections}, queries=0)
    values = [seeds[ident][j] for ident, j in sources]
    from .sql_text import read_rows

    rows = read_rows(conn, parts, values)
    if rows is None:  # not psycopg: through SQLAlchemy
        rows = conn.execute(statement, {f"p{n}": v for n, v in enumerate(values)})
    results = {c: CollectionResult() for c in graph.collections}
    for index, doc in rows:
        row = json.loads(doc) if isinstance(doc, str | bytes) else doc
        results[graph.order[index]].rows.append(row)
    if any(len(r.rows) > row_cap for r in results.values()):
        return None
    # Edges pointing back up the order: exact only if they bring no value not already looked up.
    looked_up: dict[tuple[str, str], set[Any]] = defaultdict(set)
    for ident, pairs in graph.seeds.items():
        for c, f in pairs:
            looked_up[(c, f)].update(seeds.get(ident, []))
    for e in graph.edges:
        if position[e.source] < position[e.target]:
            looked_up[(e.target, e.target_field)].update(r[e.source_field] for r in results[e.source].rows)
    for e in graph.edges:
        if position[e.source] >= position[e.target]:
            values = {r[e.source_field] for r in results[e.source].rows if r[e.source_field] is not None}
            if not values <= looked_up[(e.target, e.target_field)]:
                return None
    return Traversal(collections=results, queries=1)


_STATEMENTS: dict[tuple[Any, ...], tuple[Graph, Any, list[tuple[str, int]], list[str]]] = {}


def _one_statement(
    graph: Graph, dialect: Any, row_cap: int, shape: tuple[tuple[str, int], ...]
) -> tuple[Any, list[tuple[str, int]], list[str]]:
    """traverse_in_one_statement's statement (a TextClause, or None when no collection is reached),
    where each parameter comes from ((identity, index) for `p0`, `p1`...) and the text split around
    them (for values written in as literals): built once per graph, dialect, row cap and number of
    values per identity (graphs are never changed once built)."""
    key = (id(graph), dialect.name, row_cap, shape)
    cached = _STATEMENTS.get(key)
    if cached is not None and cached[0] is graph:
        return cached[1], cached[2], cached[3]
    func = _JSON_OBJECT[dialect.name]
    counts = dict(shape)
    position = {c: i for i, c in enumerate(graph.order)}
    quote = dialect.identifier_preparer.quote
    sources: list[tuple[str, int]] = []
    ctes, selects = [], []
    reached: set[str] = set()
    for i, cname in enumerate(graph.order):
        coll = graph.collections[cname]
        conditions = []
        for ident, pairs in graph.seeds.items():
            for c, f in pairs:
                if c == cname and counts.get(ident):
                    names = []
                    for j in range(counts[ident]):
                        names.append(f"\x00{len(sources)}\x00")  # NUL: in no identifier
                        sources.append((ident, j))
                    conditions.append(f"{quote(f)} IN ({', '.join(names)})")
        for e in graph.edges:
            if e.target == cname and e.source in reached and position[e.source] < i:
                conditions.append(
                    f"{quote(e.target_field)} IN (SELECT {quote(e.source_field)} FROM r{position[e.source]})"
                )
        if not conditions:
            continue
        reached.add(cname)
        short = cname.split(":")[-1]
        schema, _, table = short.rpartition(".")
        source = f"{quote(schema)}.{quote(table)}" if schema else quote(table)
        columns = ", ".join(quote(c) for c in coll.fields)
        ctes.append(
            f"r{i} AS (SELECT {columns} FROM {source} WHERE {' OR '.join(conditions)} LIMIT {row_cap + 1})"
        )
        pairs_sql = ", ".join(f"'{c}', {quote(c)}" for c in coll.fields if "'" not in c)
        selects.append(f"SELECT {i} AS c, {func}({pairs_sql}) AS j FROM r{i}")
    text = f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}"
    statement = sa.text(re.sub("\x00([0-9]+)\x00", r":p\1", text)) if ctes else None
    if len(_STATEMENTS) > 512:
        _STATEMENTS.clear()
    _STATEMENTS[key] = (graph, statement, sources, text.split("\x00"))
    return statement, sources, text.split("\x00")


def traverse_by_steps(
    conn: sa.Connection,
    graph: Graph,
    identities: dict[str, Iterable[str]],
    *,
    row_cap: int,
    start: tuple[str, list[dict[str, Any]]] | None = None,
) -> Traversal:
    """Rows reached from the identities, collection by collection in dependency order.

    Each step sends at most one `SELECT ... WHERE f1 IN (...) OR f2 IN (...)` per collection with only
    values not yet looked up, so cycles end when no new value appears. A collection stops at
    `row_cap` rows and is marked truncated. With `start` (a collection and rows already read, as a
    retention sweep has), only child edges are followed from those rows: their dependants, no parent.
    """
    pending: dict[tuple[str, str], set[Any]] = defaultdict(set)
    looked_up: dict[tuple[str, str], set[Any]] = defaultdict(set)
    for ident, values in identity_values({k: list(v) for k, v in identities.items()}).items():
        for cname, fname in graph.seeds.get(ident, []):
            pending[(cname, fname)].update(values)
    results = {c: CollectionResult() for c in graph.collections}
    seen_keys: dict[str, set[tuple]] = defaultdict(set)
    out_edges = {c: graph.outgoing(c) for c in graph.collections}
    if start is not None:
        out_edges = {c: [e for e in edges if graph.child_of(e) == e.target] for c, edges in out_edges.items()}
        cname, rows = start
        results[cname].rows.extend(rows)
        pk = graph.collections[cname].primary_key
        seen_keys[cname].update(tuple(r[k] for k in pk) for r in rows)
        for e in out_edges[cname]:
            pending[(e.target, e.target_field)] |= {
                r[e.source_field] for r in rows if r.get(e.source_field) is not None
            }
    lookup_fields = {c: graph.lookup_fields(c) for c in graph.collections}
    queries = 0
    while True:
        progressed = False
        for cname in graph.order:
            coll = graph.collections[cname]
            conditions = {}
            for fname in lookup_fields[cname]:
                new = pending[(cname, fname)] - looked_up[(cname, fname)]
                if new:
                    conditions[fname] = new
                    looked_up[(cname, fname)] |= new
                pending[(cname, fname)].clear()
            if not conditions:
                continue
            result = results[cname]
            if result.truncated:
                continue
            progressed = True
            columns = list(coll.fields)
            t = _table(graph, cname, columns)
            where = sa.or_(*[t.c[f].in_(sorted(v, key=str)) for f, v in conditions.items()])
            room = row_cap - len(result.rows)
            stmt = sa.select(*[t.c[c] for c in columns]).where(where).limit(room + 1)
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
            queries += 1
            pk = coll.primary_key or columns
            fresh = []
            for row in rows:
                key = tuple(row[k] for k in pk)
                if key not in seen_keys[cname]:
                    seen_keys[cname].add(key)
                    fresh.append(row)
            if len(fresh) > room:
                fresh = fresh[:room]
                result.truncated = True
            result.rows.extend(fresh)
            for e in out_edges[cname]:
                vals = {row[e.source_field] for row in fresh if row.get(e.source_field) is not None}
                if vals:
                    pending[(e.target, e.target_field)] |= vals
        if not progressed:
            break
    return Traversal(collections=results, queries=queries)


@dataclass
class ErasureStep:
    """One collection's erasure: journaled by primary key before it is applied."""

    collection: str
    dataset: str
    strategy: str | dict[str, str]
    key_columns: list[str]
    keys: list[list[Any]]
    # The rows as the traversal read them (not journaled): lets hashes be computed without reading
    # the rows again. None when the step comes from the journal (resume, replay).
    rows: list[dict[str, Any]] | None = None

    @property
    def row_count(self) -> int:
        return len(self.keys)

    def journal_keys(self) -> dict[str, Any]:
        return {"columns": self.key_columns, "values": [[jsonable(v) for v in k] for k in self.keys]}


_PLANS: dict[tuple[int, str], tuple[Graph, dict[str, Any]]] = {}


def _plan(graph: Graph, erase: dict[str, str]) -> dict[str, Any]:
    """erase_plan once per graph and mapping (graphs are shared and never changed once built)."""
    key = (id(graph), json.dumps(erase, sort_keys=True))
    cached = _PLANS.get(key)
    if cached is None or cached[0] is not graph:
        if len(_PLANS) > 256:
            _PLANS.clear()
        cached = _PLANS[key] = (graph, erase_plan(graph, erase))
    return cached[1]


def erasure_steps(graph: Graph, found: Traversal, erase: dict[str, str]) -> list[ErasureStep]:
    """Field updates first (parents first), then row deletions children first along references."""
    plan = _plan(graph, erase)
    parents_first = graph.parents_first()
    updates, deletes = [], []
    for cname in parents_first:
        strategy = plan[cname]
        rows = found.collections[cname].rows
        if strategy == ERASE_KEEP or not rows:
            continue
        pk = graph.collections[cname].primary_key
        step = ErasureStep(
            cname, graph.dataset_of[cname], strategy, pk, [[r[c] for c in pk] for r in rows], rows
        )
        (deletes if strategy == ERASE_DELETE else updates).append(step)
    return updates + list(reversed(deletes))


def _key_condition(t: Any, columns: list[str], keys: list[list[Any]]) -> Any:
    if len(columns) == 1:
        return t.c[columns[0]].in_([k[0] for k in keys])
    return sa.tuple_(*[t.c[c] for c in columns]).in_([tuple(k) for k in keys])


def hash_params(step: ErasureStep, rows: Iterable[Any], hashes: list[str]) -> list[dict[str, Any]]:
    """Per row to change: its key (`k_<column>`) and the keyed hashes (`h_<field>`); rows whose fields
    are all hashed already (or NULL) are left out, so a resumed or replayed erasure rewrites nothing."""
    params = []
    for m in rows:
        values = {
            f"h_{f}": keyed_hash(m[f]) if m[f] is not None and not HASHED.match(str(m[f])) else m[f]
            for f in hashes
        }
        if all(values[f"h_{f}"] == m[f] for f in hashes):
            continue  # already erased: a resumed or replayed run changes nothing twice
        params.append({**{f"k_{c}": m[c] for c in step.key_columns}, **values})
    return params


def apply_steps(
    conn: sa.Connection,
    graph: Graph,
    steps: list[ErasureStep],
    *,
    before_commit: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Apply a system's steps in the caller's transaction; on PostgreSQL as one round trip when it can.

    `before_commit` (the journal, written in our own database) is done before this returns, so before
    the caller commits the change: with one round trip it runs while the server applies the statements
    (sent asynchronously, `sql_text.send_alongside`; nothing is committed until both are done, and a
    failed journal leaves the change to be rolled back); otherwise it runs first, before any statement.
    """
    from .sql_text import one_round_trip, send_alongside

    text = one_round_trip(conn, graph, steps)
    if text is None:
        if before_commit is not None:
            before_commit()
        return {s.collection: apply_step(conn, graph, s) for s in steps}
    send_alongside(conn, text, before_commit)
    return {s.collection: s.row_count for s in steps}


def apply_step(conn: sa.Connection, graph: Graph, step: ErasureStep, *, chunk: int = 1000) -> int:
    """Apply one journaled step; idempotent (deleted rows are gone, NULL stays NULL, hashes are kept)."""
    cname = step.collection
    changed = 0
    for i in range(0, len(step.keys), chunk):
        keys = step.keys[i : i + chunk]
        if step.strategy == ERASE_DELETE:
            t = _table(graph, cname, step.key_columns)
            changed += conn.execute(sa.delete(t).where(_key_condition(t, step.key_columns, keys))).rowcount
            continue
        fields: dict[str, str] = step.strategy  # type: ignore[assignment]
        nulls = [f for f, s in fields.items() if s != ERASE_HASH]
        hashes = [f for f, s in fields.items() if s == ERASE_HASH]
        t = _table(graph, cname, [*step.key_columns, *fields])
        nulled = 0
        if nulls:
            cond = sa.or_(*[t.c[f].is_not(None) for f in nulls])
            stmt = sa.update(t).where(_key_condition(t, step.key_columns, keys)).where(cond)
            nulled = conn.execute(stmt.values({f: None for f in nulls})).rowcount
        params: list[dict[str, Any]] = []
        if hashes:
            current = conn.execute(
                sa.select(*[t.c[c] for c in step.key_columns], *[t.c[f] for f in hashes]).where(
                    _key_condition(t, step.key_columns, keys)
                )
            )
            params = hash_params(step, (row._mapping for row in current), hashes)
            if params:
                stmt = (
                    sa.update(t)
                    .where(sa.and_(*[t.c[c] == sa.bindparam(f"k_{c}") for c in step.key_columns]))
                    .values({f: sa.bindparam(f"h_{f}") for f in hashes})
                )
                conn.execute(stmt, params)
        changed += max(nulled, len(params) if hashes else 0)
    return changed


def check_schema(engine: sa.Engine, graph: Graph, erase: dict[str, str]) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a dataset against the live schema, by table and column name.

    Errors: unknown tables/columns, NULL strategy on a NOT NULL column. Warnings: every identity or
    reference column without an index starting with it, with the CREATE INDEX to run.
    """
    errors: list[str] = []
    warnings: list[str] = []
    inspector = sa.inspect(engine)
    plan = erase_plan(graph, erase)
    lookups = {
        c: graph.lookup_fields(c) | {e.source_field for e in graph.outgoing(c)} for c in graph.collections
    }
    for cname, coll in graph.collections.items():
        short = cname.split(":")[-1]
        schema, _, table = short.rpartition(".")
        schema = schema or None
        if not inspector.has_table(table, schema=schema):
            errors.append(f"table {short!r} does not exist")
            continue
        columns = {c["name"]: c for c in inspector.get_columns(table, schema=schema)}
        for fname in coll.fields:
            if fname not in columns:
                errors.append(f"column {short}.{fname} does not exist")
        strategy = plan[cname]
        if isinstance(strategy, dict):
            for fname, s in strategy.items():
                if fname not in columns:
                    continue
                if s != ERASE_HASH and not columns[fname].get("nullable", True):
                    errors.append(f"{short}.{fname} is NOT NULL: erase it with 'hash' or delete the row")
                length = getattr(columns[fname]["type"], "length", None)
                if s == ERASE_HASH and length is not None and length < 64:
                    errors.append(
                        f"{short}.{fname} holds {length} characters: a keyed hash needs 64 (use 'null')"
                    )
        indexed: set[str] = set()
        pk = inspector.get_pk_constraint(table, schema=schema).get("constrained_columns") or []
        if pk:
            indexed.add(pk[0])
        for ix in inspector.get_indexes(table, schema=schema):
            cols = ix.get("column_names") or []
            if cols and cols[0]:
                indexed.add(cols[0])
        for uc in inspector.get_unique_constraints(table, schema=schema):
            cols = uc.get("column_names") or []
            if cols:
                indexed.add(cols[0])
        for fname in sorted(lookups[cname]):
            if fname in columns and fname not in indexed:
                qualified = f"{schema}.{table}" if schema else table
                warnings.append(
                    f"{short}.{fname} is looked up by identity or reference but has no index: "
                    f"CREATE INDEX {table}_{fname}_idx ON {qualified} ({fname});"
                )
    return errors, warnings


def probe(engine: sa.Engine, graph: Graph | None) -> str:
    """What a "test connection" could reach: the server version and the dataset's tables found."""
    with engine.connect() as conn:
        dialect = engine.dialect.name
        version = ".".join(str(p) for p in (engine.dialect.server_version_info or ()))
        conn.execute(sa.text("SELECT 1"))
    if graph is None:
        return f"connected to {dialect} {version}".strip()
    inspector = sa.inspect(engine)
    found = [c for c in graph.collections if inspector.has_table(c.split(":")[-1].rpartition(".")[2])]
    return f"connected to {dialect} {version}; {len(found)} of {len(graph.collections)} collections found"


def run_in_transaction(
    engine: sa.Engine, work: Callable[[sa.Connection], Any], *, read_only: bool = False
) -> Any:
    """One transaction per system where the engine allows (SQLite, PostgreSQL, InnoDB).

    Reads run in autocommit: the traversal is one statement (one snapshot) and skips BEGIN/COMMIT.
    """
    try:
        if read_only:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                return work(conn)
        with engine.begin() as conn:
            return work(conn)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise SystemUnavailable(f"{type(exc.orig or exc).__name__}: the database did not answer") from None


def expired_rows(
    conn: sa.Connection,
    graph: Graph,
    collection: str,
    *,
    timestamp_field: str,
    before: Any,
    after_key: Any,
    limit: int,
) -> list[dict[str, Any]]:
    """The next batch of a collection's rows older than `before`, in primary-key order after `after_key`
    (key windows, not OFFSET: each batch starts where the last ended, whatever was deleted)."""
    coll = graph.collections[collection]
    [pk] = coll.primary_key or [None]
    if pk is None:
        raise SystemUnavailable(f"{collection}: a retention sweep needs a single-column primary key")
    t = _table(graph, collection, coll.fields)
    stmt = sa.select(*[t.c[c] for c in coll.fields]).where(t.c[timestamp_field] < before)
    if after_key is not None:
        stmt = stmt.where(t.c[pk] > after_key)
    return [dict(r._mapping) for r in conn.execute(stmt.order_by(t.c[pk]).limit(limit))]
