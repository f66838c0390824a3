"""Streaming exports of a calendar year's §1798.83 data: CSV rows, a ZIP of notices, a summary.

Memory stays flat in the number of customers: the log is read in windows of subject ids (ordered by
subject), each window aggregated by the database and streamed out before the next is read.

On PostgreSQL the CSV is produced entirely by `COPY (SELECT ...) TO STDOUT`: the database unions a
customer's disclosures to each recipient (`bit_or`), applies the same-brand affiliate rule
(§1798.83(f)) and expands the category bitmask into one row per category by joining the 27-row
statutory table; Python only copies bytes to the file. Elsewhere (SQLite) the rows come from the same
`notice.build_content` the notices use. Either way a customer's CSV rows are exactly the
(recipient, category) pairs of their notice; a test pins it.

The ZIP keeps one small directory entry per customer in memory until it is closed (the ZIP format
writes its central directory last): about 0.3 KB per customer.
"""

import csv
import io
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import connection, transaction
from django.db.models import Max, Min

from core import clock
from core.csv_safety import safe_cell, safe_row

from . import rules
from .models import DisclosureEvent, Purpose
from .notice import Business, ThirdPartyCard, build_content, render
from .statutory import ALL_MASK, BY_CODE, SAME_BRAND_REPORTABLE_MASK, STATUTORY_CATEGORIES

EXPORT_WINDOW = 10_000  # subject ids per window: bounds the database's sort and our buffers
# Per-window sorts stay in memory at this size (a window of 10,000 customers with a few recipients each
# is a few MB); set for the export's own transaction only.
EXPORT_WORK_MEM = "32MB"
CSV_HEADER = [
    "customer_reference",
    "year",
    "recipient_id",
    "recipient_name",
    "recipient_postal_address",
    "category_code",
    "category_label",
]
SUMMARY_HEADER = ["recipient_id", "recipient_name", "category_code", "category_label", "customers"]

Progress = Callable[[int], None]  # called with the number of subject ids just covered


@dataclass
class ExportStats:
    rows: int = 0
    customers: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class SummaryRow:
    recipient_id: int
    recipient_name: str
    category_code: str
    category_label: str
    customers: int


@dataclass
class Summary:
    year: int
    rows: list[SummaryRow] = field(default_factory=list)
    customers: int = 0  # customers with at least one reportable disclosure (rows in the CSV)
    # customers with direct-marketing disclosures but nothing to report: only exempt same-brand
    # affiliates, or none of the 27 categories (their notice says so)
    exempt_only_customers: int = 0

    def as_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(SUMMARY_HEADER)
        for r in self.rows:
            writer.writerow(
                safe_row([r.recipient_id, r.recipient_name, r.category_code, r.category_label, r.customers])
            )
        return buffer.getvalue()


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def subject_span() -> tuple[int, int] | None:
    """Lowest and highest subject id in the log (two index look-ups)."""
    span = DisclosureEvent.objects.aggregate(lo=Min("subject_id"), hi=Max("subject_id"))
    return None if span["lo"] is None else (span["lo"], span["hi"])


def windows(window: int = EXPORT_WINDOW) -> Iterator[tuple[int, int]]:
    span = subject_span()
    if span is None:
        return
    lo, hi = span
    while lo <= hi:
        yield lo, min(lo + window, hi + 1)
        lo += window


def ranked_cards(cards: dict[int, ThirdPartyCard]) -> list[tuple[int, ThirdPartyCard]]:
    """Recipients in notice order (name, then id), so SQL sorts exactly as the notices list them."""
    return list(enumerate(sorted(cards.values(), key=lambda c: (c.name, c.id))))


# --- PostgreSQL: the CSV as one COPY per window ---------------------------------------------------


def _literal_sql(query: str, params: dict) -> str:
    """Compose a statement with literals (COPY takes no bind parameters) using psycopg's quoting."""
    from psycopg import sql

    connection.ensure_connection()
    return sql.SQL(query).format(**params).as_string(connection.connection)


def _values(rows: list[tuple]):
    from psycopg import sql

    return sql.SQL(", ").join(
        sql.SQL("({})").format(sql.SQL(", ").join(sql.Literal(v) for v in row)) for row in rows
    )


class CsvQuery:
    """The SELECT behind the CSV, composed once per export; each window only adds its id range.

    Without a window it is exactly what the benchmark's raw COPY runs.
    """

    def __init__(self, *, year: int, cards: dict[int, ThirdPartyCard]):
        from psycopg import sql

        start, end = rules.year_bounds(year)
        recipients = [
            (
                c.id,
                safe_cell(c.name),  # the COPY writes these as they are: neutralised here, as in Python
                safe_cell(c.postal_address),
                SAME_BRAND_REPORTABLE_MASK if c.same_brand_affiliate else ALL_MASK,
                rank,
            )
            for rank, c in ranked_cards(cards)
        ] or [(0, "", "", 0, 0)]  # VALUES can't be empty; id 0 matches nothing
        categories = [(c.bit, c.code, c.label) for c in STATUTORY_CATEGORIES]
        # `a`: a customer's direct-marketing disclosures to each recipient, unioned (bit_or).
        # `r`: what a notice must report of them (same-brand affiliates: sensitive categories only).
        # `x`: each distinct reported mask expanded once into its categories, so a row costs one hash
        # probe rather than 27 bit tests.
        self._head = _literal_sql(
            """
            WITH a AS (
                SELECT e.subject_id, e.third_party_id, bit_or(e.categories) AS mask
                FROM disclosures_disclosureevent e
                WHERE e.purpose = {purpose} AND e.at >= {start} AND e.at < {end}""",
            {
                "purpose": sql.Literal(Purpose.DIRECT_MARKETING.value),
                "start": sql.Literal(start),
                "end": sql.Literal(end),
            },
        )
        self._tail = _literal_sql(
            """
                GROUP BY e.subject_id, e.third_party_id
            ), r AS (
                SELECT a.subject_id, tp.id, tp.name, tp.address, tp.rank, a.mask & tp.reportable AS m
                FROM a JOIN (VALUES {recipients}) AS tp(id, name, address, reportable, rank)
                    ON tp.id = a.third_party_id
            ), x AS (
                SELECT d.m, c.bit, c.code, c.label
                FROM (SELECT DISTINCT m FROM r) d
                JOIN (VALUES {categories}) AS c(bit, code, label) ON (d.m & (1 << c.bit)) <> 0
            )
            SELECT s.public_id, {year}, r.id, r.name, r.address, x.code, x.label
            FROM r
            JOIN x ON x.m = r.m
            JOIN inventory_datasubject s ON s.id = r.subject_id
            ORDER BY r.subject_id, r.rank, x.bit""",
            {"year": sql.Literal(year), "recipients": _values(recipients), "categories": _values(categories)},
        )

    def sql(self, lo: int | None = None, hi: int | None = None) -> str:
        window = "" if lo is None else f" AND e.subject_id >= {int(lo)} AND e.subject_id < {int(hi)}"
        return self._head + window + self._tail


def csv_select_sql(
    *, year: int, cards: dict[int, ThirdPartyCard], lo: int | None = None, hi: int | None = None
) -> str:
    return CsvQuery(year=year, cards=cards).sql(lo, hi)


@contextmanager
def _export_snapshot():
    """One consistent, read-only snapshot for every window (PostgreSQL), with in-memory window sorts."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if _is_postgres():
            with connection.cursor() as cursor:
                if outermost:  # must be the transaction's first statement
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute(f"SET LOCAL work_mem = '{EXPORT_WORK_MEM}'")
        yield


def _copy_csv(*, year: int, out: BinaryIO, cards: dict[int, ThirdPartyCard], progress, window) -> ExportStats:
    stats = ExportStats()
    query = CsvQuery(year=year, cards=cards)
    with connection.cursor() as cursor:
        for lo, hi in windows(window):
            with cursor.copy(f"COPY ({query.sql(lo, hi)}) TO STDOUT (FORMAT csv)") as copy:
                for chunk in copy:
                    out.write(chunk)
                    stats.bytes += len(chunk)
            stats.rows += max(cursor.rowcount, 0)
            if progress:
                progress(hi - lo)
    return stats


# --- Any database: customers one by one, through the notices' own logic ----------------------------


def iter_customers(*, year: int, window: int = EXPORT_WINDOW, progress: Progress | None = None):
    """(subject id, public id, [(third party id, mask)]) per customer with direct-marketing disclosures
    in `year`, in subject order, one window at a time."""
    start, end = rules.year_bounds(year)
    for lo, hi in windows(window):
        if _is_postgres():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT e.subject_id, s.public_id::text, e.third_party_id, bit_or(e.categories) "
                    "FROM disclosures_disclosureevent e JOIN inventory_datasubject s ON s.id = e.subject_id "
                    "WHERE e.purpose = %s AND e.at >= %s AND e.at < %s AND e.subject_id >= %s AND e.subject_id < %s "
                    "GROUP BY e.subject_id, s.public_id, e.third_party_id ORDER BY e.subject_id",
                    [Purpose.DIRECT_MARKETING.value, start, end, lo, hi],
                )
                rows = cursor.fetchall()
        else:
            rows = list(
                DisclosureEvent.objects.filter(
                    purpose=Purpose.DIRECT_MARKETING,
                    at__gte=start,
                    at__lt=end,
                    subject_id__gte=lo,
                    subject_id__lt=hi,
                )
                .order_by("subject_id")
                .values_list("subject_id", "subject__public_id", "third_party_id", "categories")
            )
        current = None
        pairs: list[tuple[int, int]] = []
        public_id = ""
        for subject_id, pid, tp_id, mask in rows:
            if subject_id != current:
                if current is not None:
                    yield current, public_id, pairs
                current, public_id, pairs = subject_id, str(pid), []
            pairs.append((tp_id, mask))
        if current is not None:
            yield current, public_id, pairs
        if progress:
            progress(hi - lo)


def python_csv(*, year, out: BinaryIO, cards, business: Business, progress, window) -> ExportStats:
    """The CSV written row by row in Python: the path off PostgreSQL, and the reference COPY is tested against."""
    stats = ExportStats()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\n")
    issued = clock.business_today().isoformat()  # the business's date, as the notice's year is
    try:
        for _subject_id, public_id, pairs in iter_customers(year=year, window=window, progress=progress):
            content = build_content(
                year=year,
                customer_reference=public_id,
                disclosures=pairs,
                third_parties=cards,
                business=business,
                issued_on=issued,
            )
            for r in content.recipients:
                for code in r.categories:
                    writer.writerow(
                        safe_row(
                            [
                                public_id,
                                year,
                                r.third_party_id,
                                r.name,
                                r.postal_address,
                                code,
                                BY_CODE[code].label,
                            ]
                        )
                    )
                    stats.rows += 1
    finally:
        text.detach()
    return stats


def export_csv(
    *,
    year: int,
    out: BinaryIO,
    cards: dict[int, ThirdPartyCard],
    business: Business,
    progress: Progress | None = None,
    window: int = EXPORT_WINDOW,
) -> ExportStats:
    """One row per (customer, recipient, category) of the year's direct-marketing disclosures that a
    notice must report, ordered by customer, then recipient as in the notice, then statutory order."""
    header = (",".join(CSV_HEADER) + "\n").encode()
    out.write(header)
    with _export_snapshot():
        if _is_postgres():
            stats = _copy_csv(year=year, out=out, cards=cards, progress=progress, window=window)
        else:
            stats = python_csv(
                year=year, out=out, cards=cards, business=business, progress=progress, window=window
            )
    stats.bytes += len(header)
    return stats


def export_zip(
    *,
    year: int,
    out: BinaryIO,
    cards: dict[int, ThirdPartyCard],
    business: Business,
    notice_format: str = "pdf",
    progress: Progress | None = None,
    window: int = EXPORT_WINDOW,
) -> ExportStats:
    """A ZIP of every customer's notice for the year (customers with any direct-marketing disclosure),
    named by customer reference, plus summary.csv. PDFs are stored (already compressed), text deflated."""
    stats = ExportStats()
    counts: Counter[tuple[int, str]] = Counter()
    exempt_only = 0
    issued = clock.business_today().isoformat()  # the business's date, as the notice's year is
    compression = zipfile.ZIP_STORED if notice_format == "pdf" else zipfile.ZIP_DEFLATED
    with _export_snapshot(), zipfile.ZipFile(out, "w", compression=compression, allowZip64=True) as zf:
        for _subject_id, public_id, pairs in iter_customers(year=year, window=window, progress=progress):
            content = build_content(
                year=year,
                customer_reference=public_id,
                disclosures=pairs,
                third_parties=cards,
                business=business,
                issued_on=issued,
            )
            zf.writestr(f"notices-{year}/{public_id}.{notice_format}", render(content, notice_format))
            stats.customers += 1
            if not content.recipients:
                exempt_only += 1
            for r in content.recipients:
                for code in r.categories:
                    counts[(r.third_party_id, code)] += 1
                    stats.rows += 1
        summary = _summary_from_counts(year, counts, cards, stats.customers - exempt_only, exempt_only)
        zf.writestr(f"notices-{year}/summary.csv", summary.as_csv())
    return stats


def _summary_from_counts(year, counts, cards, customers, exempt_only) -> Summary:
    order = {c.id: rank for rank, c in ranked_cards(cards)}
    rows = [
        SummaryRow(tp_id, cards[tp_id].name, code, BY_CODE[code].label, n)
        for (tp_id, code), n in sorted(
            counts.items(), key=lambda kv: (order[kv[0][0]], BY_CODE[kv[0][1]].bit)
        )
    ]
    return Summary(year=year, rows=rows, customers=customers, exempt_only_customers=exempt_only)


def export_summary(*, year: int, cards: dict[int, ThirdPartyCard]) -> Summary:
    """Customers per recipient and statutory category for the year (what the notices report)."""
    if not _is_postgres():
        counts: Counter[tuple[int, str]] = Counter()
        customers = exempt_only = 0
        for _sid, public_id, pairs in iter_customers(year=year):
            content = build_content(
                year=year,
                customer_reference=public_id,
                disclosures=pairs,
                third_parties=cards,
                business=Business(name="", postal_address=""),
                issued_on="",
            )
            if content.recipients:
                customers += 1
            else:
                exempt_only += 1
            for r in content.recipients:
                for code in r.categories:
                    counts[(r.third_party_id, code)] += 1
        return _summary_from_counts(year, counts, cards, customers, exempt_only)

    from psycopg import sql

    start, end = rules.year_bounds(year)
    reportable = [
        (c.id, SAME_BRAND_REPORTABLE_MASK if c.same_brand_affiliate else ALL_MASK) for c in cards.values()
    ]
    if not reportable:
        return Summary(year=year)
    base = """
        WITH a AS (
            SELECT e.subject_id, e.third_party_id, bit_or(e.categories) AS mask
            FROM disclosures_disclosureevent e
            WHERE e.purpose = {purpose} AND e.at >= {start} AND e.at < {end}
            GROUP BY e.subject_id, e.third_party_id
        ), r AS (
            SELECT a.subject_id, a.third_party_id, a.mask & tp.reportable AS mask
            FROM a JOIN (VALUES {reportable}) AS tp(id, reportable) ON tp.id = a.third_party_id
        )
    """
    params = {
        "purpose": sql.Literal(Purpose.DIRECT_MARKETING.value),
        "start": sql.Literal(start),
        "end": sql.Literal(end),
        "reportable": _values(reportable),
        "categories": _values([(c.bit,) for c in STATUTORY_CATEGORIES]),
    }
    per_category = _literal_sql(
        base
        + """
        SELECT r.third_party_id, c.bit, count(*)
        FROM r JOIN (VALUES {categories}) AS c(bit) ON (r.mask & (1 << c.bit)) <> 0
        GROUP BY r.third_party_id, c.bit
        """,
        params,
    )
    per_customer = _literal_sql(
        base
        + """
        SELECT count(*) FILTER (WHERE m <> 0), count(*) FILTER (WHERE m = 0)
        FROM (SELECT subject_id, bit_or(mask) AS m FROM r GROUP BY subject_id) x
        """,
        params,
    )
    by_bit = {c.bit: c.code for c in STATUTORY_CATEGORIES}
    with connection.cursor() as cursor:
        cursor.execute(per_category)
        counts = Counter({(tp_id, by_bit[bit]): n for tp_id, bit, n in cursor.fetchall()})
        cursor.execute(per_customer)
        customers, exempt_only = cursor.fetchone()
    return _summary_from_counts(year, counts, cards, customers, exempt_only)
