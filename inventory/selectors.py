"""Reads across the inventory, driven by the registry (never by model names)."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import Count, Q

from core import batched

from .discovery import UnionQuery, union_query
from .models import ContactPoint, DataCategory, DataSubject, normalize_email
from .registry import PersonalData, registry


@dataclass(frozen=True)
class SubjectRecords:
    entry: PersonalData
    records: list[models.Model]
    # True when a `limit` cut the list short (there are more records of this model).
    truncated: bool = False


def subject_find_by_email(email: str) -> DataSubject | None:
    """Case- and white-space-insensitive; looks at the primary address and further email contact points."""
    normalized = normalize_email(email)
    if not normalized:
        return None
    subject = DataSubject.objects.filter(email_normalized=normalized).order_by("pk").first()
    if subject is not None:
        return subject
    point = (
        ContactPoint.objects.filter(kind=ContactPoint.Kind.EMAIL, value_normalized=normalized)
        .select_related("subject")
        .order_by("pk")
        .first()
    )
    return point.subject if point else None


def subject_ids_by_email(email: str) -> list[int]:
    """Ids of subjects holding this address (primary or further contact point): two indexed lookups.

    Kept as two queries on purpose: `email = x OR id IN (subquery)` makes PostgreSQL scan every subject.
    """
    normalized = normalize_email(email)
    if not normalized:
        return []
    ids = set(DataSubject.objects.filter(email_normalized=normalized).values_list("pk", flat=True))
    ids.update(
        ContactPoint.objects.filter(kind=ContactPoint.Kind.EMAIL, value_normalized=normalized).values_list(
            "subject_id", flat=True
        )
    )
    return sorted(ids)


def subject_search(term: str) -> models.QuerySet[DataSubject]:
    """What an officer types in the search box: an email (exact, normalized), a public id, or a name.

    Email and public id hit unique/btree indexes; a name is a case-insensitive substring match, which
    PostgreSQL serves from the trigram index of migration 0003.
    """
    term = term.strip()
    if not term:
        return DataSubject.objects.all()
    if "@" in term:
        return DataSubject.objects.filter(pk__in=subject_ids_by_email(term))
    try:
        return DataSubject.objects.filter(public_id=uuid.UUID(term))
    except ValueError:
        pass
    return DataSubject.objects.filter(name__icontains=term)


@dataclass(frozen=True)
class _CompiledLookup:
    """A registered model's "rows of subject X" query, compiled once per database connection."""

    sql: str
    compiler: Any  # keeps the connection alive, so the id() used as cache key is never reused
    converters: dict
    field_names: list[str]


_compiled: dict[tuple[type[models.Model], int], _CompiledLookup | None] = {}


def _compiled_lookup(entry: PersonalData, subject_id: int) -> _CompiledLookup | None:
    # The cache key needs only the database the manager reads from; building the queryset (filter())
    # costs as much as running the query, so it happens once, on a miss.
    key = (entry.model, id(connections[entry.model._default_manager.db]))
    if key in _compiled:
        return _compiled[key]
    qs = entry.for_subject(subject_id)
    compiler = qs.query.get_compiler(using=qs.db)
    sql, params = compiler.as_sql()
    plain = (
        list(params) == [subject_id]  # the subject id is the only parameter
        and not compiler.annotation_col_map
        and not (compiler.klass_info or {}).get("related_klass_infos")
    )
    found = None
    if plain:
        columns = [col for col, _sql, _alias in compiler.select]
        found = _CompiledLookup(
            sql=sql,
            compiler=compiler,
            converters=compiler.get_converters(columns),
            field_names=[col.target.attname for col in columns],
        )
    _compiled[key] = found  # None: a manager with annotations/joins; iterate the queryset instead
    return found


def _instances(entry: PersonalData, lookup: _CompiledLookup, rows: list[tuple]) -> list[models.Model]:
    if lookup.converters:
        rows = lookup.compiler.apply_converters(rows, lookup.converters)
    db, from_db, names = lookup.compiler.using, entry.model.from_db, lookup.field_names
    return [from_db(db, names, row) for row in rows]


def _pipeline_supported(connection_) -> bool:
    if connection_.vendor != "postgresql":
        return False
    import psycopg

    return psycopg.Pipeline.is_supported()


def _fetch_compiled(subject_id: int, todo: list[tuple[PersonalData, _CompiledLookup]]) -> list[list]:
    """Run the compiled lookups of one database; on PostgreSQL in one network round trip.

    Still one query per model (each is its own statement, logged and counted by Django), but sent
    through psycopg's pipeline mode: waiting for seven round trips one after another costs more than
    the queries themselves, and much more when the machine is busy (each wait is a context switch).
    """
    conn = connections[todo[0][1].compiler.using]
    conn.ensure_connection()
    cursors = []
    try:
        if _pipeline_supported(conn):
            with conn.wrap_database_errors, conn.connection.pipeline():
                for _entry, lookup in todo:
                    cursor = conn.cursor()
                    cursors.append(cursor)
                    cursor.execute(lookup.sql, [subject_id])
        else:
            for _entry, lookup in todo:
                cursor = conn.cursor()
                cursors.append(cursor)
                cursor.execute(lookup.sql, [subject_id])
        return [cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


def _records_by_compiled_queries(subject_id: int, entries: list[PersonalData]) -> dict[type, list]:
    """`list(entry.for_subject(subject_id))` for each entry, minus re-compiling the same SQL each call.

    The path for databases the one-statement discovery (inventory/discovery.py) doesn't serve. Django
    spends more time building a query's SQL than PostgreSQL spends on the index lookup, so each
    model's SQL is compiled once. Rows still come back as model instances (`from_db`, through the
    fields' converters), exactly as the querysets give them.
    """
    lookups = [(entry, _compiled_lookup(entry, subject_id)) for entry in entries]
    by_db: dict[str, list[tuple[PersonalData, _CompiledLookup]]] = {}
    for entry, lookup in lookups:
        if lookup is not None:
            by_db.setdefault(lookup.compiler.using, []).append((entry, lookup))
    fetched: dict[type[models.Model], list[models.Model]] = {}
    for todo in by_db.values():
        for (entry, lookup), rows in zip(todo, _fetch_compiled(subject_id, todo), strict=True):
            fetched[entry.model] = _instances(entry, lookup, rows)
    for entry, lookup in lookups:
        if lookup is None:
            fetched[entry.model] = list(entry.for_subject(subject_id))
    return fetched


def _records_limited(subject_id: int, entries: list[PersonalData], limit: int) -> dict[type, list]:
    """The newest `limit` + 1 records of each entry, one query per model (databases discovery can't serve)."""
    fetched: dict[type[models.Model], list[models.Model]] = {}
    for entry in entries:
        qs = entry.for_subject(subject_id).order_by(f"-{entry.collected_at}", "-pk")
        fetched[entry.model] = list(qs[: limit + 1])
    return fetched


@dataclass(frozen=True)
class _Plan:
    """The registry compiled for one thread's connections: one statement per PostgreSQL database."""

    unions: list[UnionQuery]
    left: list[PersonalData]  # served per model: other databases, managers a union can't express
    entries: tuple[PersonalData, ...]  # keeps the entries (their ids are part of the cache key) alive
    connection: Any  # keeps the default connection alive: its id() is part of the cache key


_plans: dict[tuple, _Plan] = {}


def _discovery_plan(limit: int | None) -> _Plan:
    entries = tuple(registry)
    default = connections[DEFAULT_DB_ALIAS]
    key = (id(default), limit, tuple(map(id, entries)))
    if key in _plans:
        return _plans[key]
    by_db: dict[str, list[PersonalData]] = {}
    for entry in entries:
        by_db.setdefault(entry.model._default_manager.db, []).append(entry)
    unions, left = [], []
    for alias, todo in by_db.items():
        if connections[alias].vendor != "postgresql":
            left.extend(todo)
            continue
        union, rest = union_query(todo, limit)
        unions.extend([union] if union is not None else [])
        left.extend(rest)
    _plans[key] = plan = _Plan(unions=unions, left=left, entries=entries, connection=default)
    return plan


def records_for_subject(subject: DataSubject | int, *, limit: int | None = None) -> list[SubjectRecords]:
    """Every registered record of one subject; on PostgreSQL one statement for all registered models.

    The registry is compiled once into a single UNION ALL (inventory/discovery.py): discovery then costs
    one round trip whatever the number of registered models, and the instances, their field values and
    each model's ordering are those of `entry.for_subject(subject)`. Models on another database keep one
    query each.

    With `limit`, at most that many records per model are loaded (newest first) and `truncated` says
    whether more exist (each model's part fetches limit + 1 rows).
    """
    subject_id = subject if isinstance(subject, int) else subject.pk
    plan = _discovery_plan(limit)
    fetched: dict[type[models.Model], list[models.Model]] = {}
    for union in plan.unions:
        for branch, records in zip(union.branches, union.fetch(subject_id), strict=True):
            fetched[branch.entry.model] = records
    if plan.left:
        if limit is None:
            fetched.update(_records_by_compiled_queries(subject_id, plan.left))
        else:
            fetched.update(_records_limited(subject_id, plan.left, limit))
    if limit is None:
        return [SubjectRecords(entry, fetched[entry.model]) for entry in plan.entries]
    return [
        SubjectRecords(entry, fetched[entry.model][:limit], truncated=len(fetched[entry.model]) > limit)
        for entry in plan.entries
    ]


def records_for_subject_by_category(
    subject: DataSubject | int, *, limit: int | None = None
) -> dict[str, list[SubjectRecords]]:
    grouped: dict[str, list[SubjectRecords]] = {}
    for found in records_for_subject(subject, limit=limit):
        grouped.setdefault(found.entry.category, []).append(found)
    return grouped


_CATEGORIES = batched.Statement(
    lambda codes: DataCategory.objects.filter(code__in=codes),
    batched.ArraySlot("codes", of=DataCategory._meta.get_field("code")),
)


def categories_with_codes(codes: Iterable[str]) -> batched.Bound[DataCategory]:
    """The data categories with these codes, as one statement of a batch (core.batched.fetch)."""
    return _CATEGORIES.bind(codes=codes)


def records_in_category(code: str) -> list[models.QuerySet]:
    """One queryset per registered model holding data of this category."""
    return [entry.all() for entry in registry.for_category(code)]


# --- Counts for the dashboard --------------------------------------------------------------------

# Below this many rows (PostgreSQL's own estimate) a table is counted exactly.
EXACT_COUNT_BELOW = 200_000


@dataclass(frozen=True)
class RowCount:
    value: int
    estimated: bool = False


def table_row_count(model: type[models.Model]) -> RowCount:
    """Rows in a model's table: exact when small, PostgreSQL's planner estimate when large.

    `COUNT(*)` reads the whole table (seconds at tens of millions of rows); `pg_class.reltuples` is
    kept current by autovacuum/ANALYZE and is what a dashboard needs.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [model._meta.db_table]
            )
            row = cursor.fetchone()
        if row and row[0] is not None and row[0] >= EXACT_COUNT_BELOW:
            return RowCount(int(row[0]), estimated=True)
    return RowCount(model._default_manager.count())


@dataclass(frozen=True)
class SubjectSummary:
    total: int
    persons: int
    entities: int
    minors: int
    erased: int
    california: int


def subject_summary() -> SubjectSummary:
    """Subject counts in one aggregate query (one pass over the table)."""
    live = Q(erased_at__isnull=True)
    totals = DataSubject.objects.aggregate(
        total=Count("pk"),
        persons=Count("pk", filter=live & Q(kind=DataSubject.Kind.PERSON)),
        entities=Count("pk", filter=live & Q(kind=DataSubject.Kind.ENTITY)),
        minors=Count("pk", filter=live & Q(is_minor=True)),
        erased=Count("pk", filter=Q(erased_at__isnull=False)),
        california=Count("pk", filter=live & Q(country="US", region="CA")),
    )
    return SubjectSummary(**totals)


def record_counts_by_category() -> dict[str, RowCount]:
    """Held records per category: one count (or estimate) per registered model, summed by category.

    The subjects' own rows are left out: they are counted as subjects.
    """
    counts: dict[str, RowCount] = {}
    for entry in registry:
        if entry.model is DataSubject:
            continue
        found = table_row_count(entry.model)
        prev = counts.get(entry.category, RowCount(0))
        counts[entry.category] = RowCount(prev.value + found.value, prev.estimated or found.estimated)
    return counts
