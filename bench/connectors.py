"""Benchmark: connectors' traversal and erasure in an external PostgreSQL database vs hand-written SQL,
and 1,000 queued erasure requests (the database plus one HTTP system) on a real Celery worker.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/po_x .venv/bin/python bench/connectors.py
    ... bench/connectors.py 100000 --requests 200 --repeat 3 --broker redis://127.0.0.1:6379/3

Creates two databases next to DATABASE_URL's and drops both at the end: "<name>_bench_connectors"
(the back office, migrated) and "<name>_bench_crm" (the external CRM: the demo CRM schema with
CUSTOMERS customers (or --customers), default 1,000,000, and about 5.3 rows per customer over 8 tables). Then:

1. traversal for one identity (email) through `connectors.sql.traverse`, p50/p95 over --samples
   subjects (--repeat passes, the best p50 counts), vs one hand-written UNION ALL of JOINs returning the
   same rows (goal <= 3x, p50 <= 20 ms);
2. erasure of one subject through `services.system_erase` (traversal, journal, one transaction), vs the
   same UPDATE/DELETE statements hand-written (goal <= 3x);
3. the newsletter email index dropped: `dataset_check` must warn with the CREATE INDEX; traversal p50;
4. --requests erasure runs (default 1,000) across the CRM and one HTTP system (a local server in
   Mailchimp's shapes), queued at once and consumed by a real worker (--broker, by default a redis:// CELERY_BROKER_URL; eager otherwise):
   requests per second and the slowest request.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DDL = """
CREATE TABLE customers (id integer PRIMARY KEY, email varchar(254) NOT NULL, phone varchar(64),
  customer_ref varchar(64), name varchar(200) NOT NULL, created_at timestamp NOT NULL);
CREATE TABLE contacts (id integer PRIMARY KEY, customer_id integer NOT NULL, job_title varchar(100), postal_address text);
CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, shipping_address text, placed_at timestamp NOT NULL);
CREATE TABLE order_lines (id integer PRIMARY KEY, order_id integer NOT NULL, sku varchar(40) NOT NULL, gift_message text);
CREATE TABLE invoices (id integer PRIMARY KEY, customer_id integer NOT NULL, billing_address text, amount numeric(10,2) NOT NULL);
CREATE TABLE tickets (id integer PRIMARY KEY, customer_id integer NOT NULL, subject varchar(200));
CREATE TABLE ticket_messages (id integer PRIMARY KEY, ticket_id integer NOT NULL, body text);
CREATE TABLE newsletter_subscriptions (id integer PRIMARY KEY, email varchar(254) NOT NULL,
  list_name varchar(40) NOT NULL, subscribed_at timestamp NOT NULL);
"""
INDEXES = """
CREATE INDEX ix_customers_email ON customers (email);
CREATE INDEX ix_customers_phone ON customers (phone);
CREATE INDEX ix_customers_customer_ref ON customers (customer_ref);
CREATE INDEX ix_contacts_customer_id ON contacts (customer_id);
CREATE INDEX ix_orders_customer_id ON orders (customer_id);
CREATE INDEX ix_order_lines_order_id ON order_lines (order_id);
CREATE INDEX ix_invoices_customer_id ON invoices (customer_id);
CREATE INDEX ix_tickets_customer_id ON tickets (customer_id);
CREATE INDEX ix_ticket_messages_ticket_id ON ticket_messages (ticket_id);
CREATE INDEX ix_newsletter_subscriptions_email ON newsletter_subscriptions (email);
"""
JOIN_SQL = """
SELECT 'customers', to_jsonb(c) FROM customers c WHERE c.email = %(e)s
UNION ALL SELECT 'contacts', to_jsonb(x) FROM customers c JOIN contacts x ON x.customer_id = c.id WHERE c.email = %(e)s
UNION ALL SELECT 'orders', to_jsonb(o) FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = %(e)s
UNION ALL SELECT 'order_lines', to_jsonb(l) FROM customers c JOIN orders o ON o.customer_id = c.id
  JOIN order_lines l ON l.order_id = o.id WHERE c.email = %(e)s
UNION ALL SELECT 'invoices', to_jsonb(i) FROM customers c JOIN invoices i ON i.customer_id = c.id WHERE c.email = %(e)s
UNION ALL SELECT 'tickets', to_jsonb(t) FROM customers c JOIN tickets t ON t.customer_id = c.id WHERE c.email = %(e)s
UNION ALL SELECT 'ticket_messages', to_jsonb(m) FROM customers c JOIN tickets t ON t.customer_id = c.id
  JOIN ticket_messages m ON m.ticket_id = t.id WHERE c.email = %(e)s
UNION ALL SELECT 'newsletter_subscriptions', to_jsonb(n) FROM newsletter_subscriptions n WHERE n.email = %(e)s
"""
# The demo erase strategies (connectors.demo.DEMO_ERASE), written by hand.
ERASE_SQL = [
    "UPDATE customers SET email = %(h)s, name = %(h)s, phone = %(h)s, customer_ref = %(h)s WHERE email = %(e)s RETURNING id",
    "UPDATE contacts SET job_title = NULL, postal_address = NULL WHERE customer_id = %(c)s",
    "UPDATE orders SET shipping_address = NULL WHERE customer_id = %(c)s",
    "UPDATE order_lines SET gift_message = NULL WHERE order_id IN (SELECT id FROM orders WHERE customer_id = %(c)s)",
    "UPDATE invoices SET billing_address = NULL WHERE customer_id = %(c)s",
    "DELETE FROM ticket_messages WHERE ticket_id IN (SELECT id FROM tickets WHERE customer_id = %(c)s)",
    "DELETE FROM tickets WHERE customer_id = %(c)s",
    "DELETE FROM newsletter_subscriptions WHERE email = %(e)s",
]


def _urls(base: str) -> tuple[str, str]:
    parsed = urlparse(base)
    name = parsed.path.lstrip("/") or "privacyops"
    return (
        urlunparse(parsed._replace(path=f"/{name}_bench_connectors")),
        urlunparse(parsed._replace(path=f"/{name}_bench_crm")),
    )


def _admin(url: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/postgres"))


def _create(url: str) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop(url: str) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def email(n: int) -> str:
    return f"customer{n}@example.com"


def seed(crm: str, n: int) -> dict[str, int]:
    """About 5.3 rows per customer: customers, orders 1, lines 1.5, and 0.3 each of contacts, invoices,
    tickets (with 2 messages) and newsletter subscriptions; the first 30% of customers have them all."""
    import psycopg

    k = max(1, n * 3 // 10)
    statements = [
        f"INSERT INTO customers SELECT i, 'customer' || i || '@example.com', '+1555' || i, 'C-' || i, 'Customer ' || i, "
        f"timestamp '2026-01-01' - (i % 400) * interval '1 day' FROM generate_series(1, {n}) i",
        f"INSERT INTO orders SELECT i, i, i || ' Main Street', timestamp '2026-01-01' FROM generate_series(1, {n}) i",
        f"INSERT INTO order_lines SELECT i, ((i - 1) % {n}) + 1, 'SKU-' || (i % 50), 'Enjoy' FROM generate_series(1, {n * 3 // 2}) i",
        f"INSERT INTO contacts SELECT i, i, 'Buyer', i || ' Main Street' FROM generate_series(1, {k}) i",
        f"INSERT INTO invoices SELECT i, i, i || ' Main Street', 42 FROM generate_series(1, {k}) i",
        f"INSERT INTO tickets SELECT i, i, 'Where is my order?' FROM generate_series(1, {k}) i",
        f"INSERT INTO ticket_messages SELECT i, ((i - 1) % {k}) + 1, 'Hello, it is late.' FROM generate_series(1, {2 * k}) i",
        f"INSERT INTO newsletter_subscriptions SELECT i, 'customer' || i || '@example.com', 'news', timestamp '2026-01-01' "
        f"FROM generate_series(1, {k}) i",
    ]
    with psycopg.connect(crm, autocommit=True) as conn:
        conn.execute(DDL)
        for sql_text in statements:
            conn.execute(sql_text)
        conn.execute(INDEXES)
        conn.execute("VACUUM ANALYZE")
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("customers", "contacts", "orders", "order_lines", "invoices", "tickets", "ticket_messages",
                      "newsletter_subscriptions")
        }  # fmt: skip
    return counts


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]


def goal(name: str, figure: float, target: float, unit: str = "", lower_is_better: bool = True) -> None:
    met = figure <= target if lower_is_better else figure >= target
    print(f"goal {name}: {figure:.2f}{unit} (target {target:g}{unit}): {'met' if met else 'missed'}")


def _redis_broker() -> str | None:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    return broker if broker.startswith("redis://") else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("n", nargs="?", type=int, default=None, help="customers (default 1,000,000)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="traversal passes over the sample; best p50")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--broker",
        default=_redis_broker(),
        help="Redis URL: the queued requests are consumed by a real worker (default: a redis://"
        " CELERY_BROKER_URL; --broker '' runs them eagerly).",
    )
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--keep", "--keepdb", dest="keep", action="store_true", help="Do not drop the databases at the end."
    )
    args = parser.parse_args()
    args.customers = args.n or args.customers

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/connectors.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    office, crm = _urls(base)
    _create(office)
    _create(crm)
    try:
        run(args, office, crm)
    finally:
        if not args.keep:
            from connectors import sql

            sql.dispose_engines()
            from django.db import connections

            connections.close_all()
            _drop(office)
            _drop(crm)


def run(args, office: str, crm: str) -> None:
    os.environ["DATABASE_URL"] = office
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    import random

    import psycopg
    from django.core.management import call_command

    from connectors import demo, sql
    from connectors.connector import for_system
    from connectors.services import connection_save, dataset_check, dataset_import, system_erase
    from inventory.models import System

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    counts = seed(crm, args.customers)
    total = sum(counts.values())
    print(f"external CRM: {args.customers:,} customers, {total:,} rows over {len(counts)} tables "
          f"(seeded in {time.monotonic() - started:.0f} s)")  # fmt: skip

    system = System.objects.create(code="crm", name="CRM", kind="external", owner="Sales")
    connection_save(system=system, kind="sql", url=crm, actor="bench")
    dataset_import(system=system, text=demo.dataset_text(), erase=demo.DEMO_ERASE, actor="bench")
    connector = for_system(system)
    k = max(1, args.customers * 3 // 10)
    rng = random.Random(17)
    sample = rng.sample(range(1, k + 1), min(args.samples, k))

    # 1. traversal vs one hand-written JOIN query (--repeat passes over the same sample: the best p50s)
    raw = psycopg.connect(crm, autocommit=True)
    passes = [_traversal_pass(connector, raw, sample) for _ in range(max(1, args.repeat))]
    ours, hand, queries, found, same = min(passes, key=lambda p: statistics.median(p[0]))
    hand = min((p[1] for p in passes), key=statistics.median)
    p50, p95, h50 = statistics.median(ours), _pct(ours, 0.95), statistics.median(hand)
    print(f"traversal (one email)     p50 {p50:.2f} ms, p95 {p95:.2f} ms, {queries} queries, "
          f"{sum(found.counts().values())} rows")  # fmt: skip
    print(f"hand-written JOIN query   p50 {h50:.2f} ms  (same rows: {'yes' if same else 'NO'})")
    print(f"ratio traversal / JOIN    {p50 / h50:.2f}x")

    # 2. erasure of one subject vs hand-written SQL
    erase_ours, erase_hand = [], []
    victims = rng.sample([n for n in range(1, k + 1) if n not in set(sample)], 2 * min(50, k // 4))
    for a, b in zip(victims[::2], victims[1::2], strict=False):
        t = time.perf_counter()
        system_erase(system=system, identities={"email": [email(a)]}, actor="bench", dry_run=False)
        erase_ours.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        with raw.transaction():
            cid = raw.execute(ERASE_SQL[0], {"h": sql.keyed_hash(email(b)), "e": email(b)}).fetchone()[0]
            for stmt in ERASE_SQL[1:]:
                raw.execute(stmt, {"c": cid, "e": email(b)})
        erase_hand.append((time.perf_counter() - t) * 1000)
    e50, eh50 = statistics.median(erase_ours), statistics.median(erase_hand)
    print(f"erasure (one subject)     p50 {e50:.2f} ms (traverse, journal, one transaction, audit)")
    print(f"hand-written erasure SQL  p50 {eh50:.2f} ms")
    print(f"ratio erasure / hand SQL  {e50 / eh50:.2f}x")

    # 3. an identity column left unindexed
    raw.execute("DROP INDEX ix_newsletter_subscriptions_email")
    report = dataset_check(system=system)
    warned = [w for w in report.warnings if "newsletter_subscriptions.email" in w and "CREATE INDEX" in w]
    slow = []
    for n in sample[:20]:
        t = time.perf_counter()
        connector.access({"email": [email(n)]})
        slow.append((time.perf_counter() - t) * 1000)
    print(f"unindexed newsletter email: traversal p50 {statistics.median(slow):.2f} ms "
          f"({statistics.median(slow) / p50:.0f}x); dataset_check warns: {'yes' if warned else 'NO'}")  # fmt: skip
    if warned:
        print(f"  {warned[0]}")
    raw.execute("CREATE INDEX ix_newsletter_subscriptions_email ON newsletter_subscriptions (email)")
    raw.close()

    # 4. queued erasure requests on a worker, across the CRM and one HTTP system
    rps, slowest, settled = _queued(args, system, rng, k, set(sample) | set(victims))

    print(f"(load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    goal("traversal p50", p50, 20, " ms")
    goal("traversal / JOIN", p50 / h50, 3, "x")
    goal("erasure / hand SQL", e50 / eh50, 3, "x")
    goal("unindexed identity warned", 1.0 if warned else 0.0, 1, "", lower_is_better=False)
    goal("queued requests all settled", settled, 1, "", lower_is_better=False)
    print(f"queued erasures: {rps:.1f} requests/s, slowest {slowest:.2f} s")


def _traversal_pass(connector, raw, sample: list[int]) -> tuple[list[float], list[float], int, object, bool]:
    """One pass over the sample: our traversal's and the JOIN's milliseconds, queries, last result, same rows."""
    ours, hand, queries, same, found = [], [], 0, False, None
    for i, n in enumerate(sample):
        t = time.perf_counter()
        found = connector.access({"email": [email(n)]})
        ours.append((time.perf_counter() - t) * 1000)
        queries = found.queries
        t = time.perf_counter()
        rows = raw.execute(JOIN_SQL, {"e": email(n)}).fetchall()
        hand.append((time.perf_counter() - t) * 1000)
        if i == 0:
            same = sum(found.counts().values()) == len(rows)
    return ours, hand, queries, found, same


def _queued(args, system, rng, k, used) -> tuple[float, float, float]:
    from django.db import transaction
    from django.db.models import F, Max

    from connectors.models import SystemRun
    from connectors.secrets import seal_json
    from connectors.services import connection_save
    from inventory.models import System
    from privacyops.celery import app
    from tests.connectors import fake_apis

    server, state, base = fake_apis.start()
    people = rng.sample([n for n in range(1, k + 1) if n not in used], min(args.requests, k - len(used)))
    for n in people:
        state.add_member(email(n))
    mailchimp = System.objects.create(code="mailchimp", name="Mailchimp", kind="external", owner="Marketing")
    connection_save(
        system=mailchimp, kind="http", config=(ROOT / "connectors/shipped/mailchimp.yml").read_text(),
        secrets={"api_key": fake_apis.MAILCHIMP_KEY, "list_id": "L1", "base_url": f"{base}/3.0"},
        rate_limit_per_second=0, actor="bench",
    )  # fmt: skip
    mailchimp.connection.config = mailchimp.connection.config.replace("rate_limit_per_second: 10", "")
    mailchimp.connection.save()
    worker = None
    if args.broker:
        from celery.contrib.testing.worker import start_worker

        app.conf.update(broker_url=args.broker, result_backend=args.broker, task_always_eager=False)
        with app.connection_for_write() as conn:
            conn.default_channel.client.flushdb()
        worker = start_worker(app, pool="threads", concurrency=args.concurrency, perform_ping_check=False,
                              loglevel="WARNING")  # fmt: skip
        worker.__enter__()
    else:
        app.conf.task_always_eager = True
    from connectors.tasks import run_system

    started = time.monotonic()
    runs = []
    with transaction.atomic():
        for case_id, n in enumerate(people, start=1):
            sealed = seal_json({"email": [email(n)]})
            runs += SystemRun.objects.bulk_create([
                SystemRun(case_id=case_id, system=s, action="erasure", identities=sealed) for s in (system, mailchimp)
            ])  # fmt: skip
    for run in runs:
        run_system.delay(run.pk)
    while SystemRun.objects.exclude(status__in=["done", "failed"]).exists():
        time.sleep(0.2)
    seconds = time.monotonic() - started
    slowest = SystemRun.objects.aggregate(m=Max(F("finished_at") - F("created_at")))["m"]
    failed = SystemRun.objects.filter(status="failed").count()
    done = SystemRun.objects.filter(status="done").count()
    if worker is not None:
        worker.__exit__(None, None, None)
    server.shutdown()
    print(f"queued erasures           {len(people):,} requests x 2 systems ({len(runs):,} runs) in {seconds:.1f} s "
          f"on {'a real worker, ' + str(args.concurrency) + ' threads' if args.broker else 'eager tasks'}: "
          f"{done} done, {failed} failed; members left in the HTTP system: {len(state.members)}")  # fmt: skip
    return len(people) / seconds, slowest.total_seconds() if slowest else 0.0, float(failed == 0)


if __name__ == "__main__":
    main()
