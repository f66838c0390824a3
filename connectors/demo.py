"""The demo CRM: a small external database (SQLite for `make run`; any SQLAlchemy URL for tests/bench).

Customers, contacts, orders with lines, invoices, support tickets with messages and newsletter
subscriptions: reference chains two levels deep (customer -> order -> line, customer -> ticket ->
message), the shapes a real CRM/ERP has. The dataset file is connectors/shipped/demo_crm.yml.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

DATASET_FILE = Path(__file__).parent / "shipped" / "demo_crm.yml"
# Erase strategies beside the Fides file: tickets and their messages and newsletter rows go; the
# customer row stays for the books with its identities hashed; addresses are nulled.
DEMO_ERASE = {
    "tickets": "delete",
    "ticket_messages": "delete",
    "newsletter_subscriptions": "delete",
    "customers.email": "hash",
    "customers.phone": "hash",
    "customers.customer_ref": "hash",
    "customers.name": "hash",
}

metadata = sa.MetaData()
customers = sa.Table(
    "customers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(254), nullable=False, index=True),
    sa.Column("phone", sa.String(64), index=True),
    sa.Column("customer_ref", sa.String(64), index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)  # fmt: skip
contacts = sa.Table(
    "contacts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("job_title", sa.String(100)),
    sa.Column("postal_address", sa.Text),
)  # fmt: skip
orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("shipping_address", sa.Text),
    sa.Column("placed_at", sa.DateTime, nullable=False),
)  # fmt: skip
order_lines = sa.Table(
    "order_lines", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("sku", sa.String(40), nullable=False),
    sa.Column("gift_message", sa.Text),
)  # fmt: skip
invoices = sa.Table(
    "invoices", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("billing_address", sa.Text),
    sa.Column("amount", sa.Numeric(10, 2), nullable=False),
)  # fmt: skip
tickets = sa.Table(
    "tickets", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("subject", sa.String(200)),
)  # fmt: skip
ticket_messages = sa.Table(
    "ticket_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), nullable=False, index=True),
    sa.Column("body", sa.Text),
)  # fmt: skip
newsletter_subscriptions = sa.Table(
    "newsletter_subscriptions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(254), nullable=False, index=True),
    sa.Column("list_name", sa.String(40), nullable=False),
    sa.Column("subscribed_at", sa.DateTime, nullable=False),
)  # fmt: skip


def dataset_text() -> str:
    return DATASET_FILE.read_text()


def create_schema(engine: sa.Engine) -> None:
    metadata.create_all(engine)


def fill(engine: sa.Engine, people: list[dict[str, Any]], *, start: int = 1) -> dict[str, int]:
    """Rows for each person ({email, name, phone?, ref?}): 1 contact, 2 orders x 2 lines, 1 invoice,
    1 ticket x 2 messages, 1 subscription. Ids are deterministic from `start`. Returns rows per table."""
    at = datetime(2026, 1, 1, 12, 0)
    rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in metadata.sorted_tables}
    for n, person in enumerate(people, start=start):
        rows["customers"].append({
            "id": n, "email": person["email"], "phone": person.get("phone"), "customer_ref": person.get("ref"),
            "name": person["name"], "created_at": at - timedelta(days=n % 400),
        })  # fmt: skip
        rows["contacts"].append(
            {"id": n, "customer_id": n, "job_title": "Buyer", "postal_address": f"{n} Main Street"}
        )
        for o in range(2):
            oid = n * 2 + o
            rows["orders"].append(
                {"id": oid, "customer_id": n, "shipping_address": f"{n} Main Street", "placed_at": at}
            )
            for line in range(2):
                rows["order_lines"].append(
                    {"id": oid * 2 + line, "order_id": oid, "sku": f"SKU-{line}", "gift_message": "Enjoy"}
                )
        rows["invoices"].append(
            {"id": n, "customer_id": n, "billing_address": f"{n} Main Street", "amount": 42}
        )
        rows["tickets"].append({"id": n, "customer_id": n, "subject": "Where is my order?"})
        for m in range(2):
            rows["ticket_messages"].append({"id": n * 2 + m, "ticket_id": n, "body": "Hello, it is late."})
        rows["newsletter_subscriptions"].append(
            {"id": n, "email": person["email"], "list_name": "news", "subscribed_at": at}
        )
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if rows[table.name]:
                conn.execute(table.insert(), rows[table.name])
    return {name: len(r) for name, r in rows.items()}
