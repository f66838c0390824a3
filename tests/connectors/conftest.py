"""External databases for the connectors' tests: a second PostgreSQL database, a MariaDB database and
a SQLite file, each created with the demo CRM schema and dropped afterwards."""

import os
import uuid

import pytest
import sqlalchemy as sa

from connectors import demo, sql
from tests.conftest import mysql_url

JANE = {"email": "jane@example.com", "name": "Jane Roe", "phone": "+15550001", "ref": "C-0001"}
JOHN = {"email": "john@example.com", "name": "John Doe", "phone": "+15550002", "ref": "C-0002"}
OTHERS = [{"email": f"p{n}@example.org", "name": f"Person {n}"} for n in range(3, 9)]


def _server_url(url: str, database: str) -> str:
    return (
        sa.engine.make_url(sql.normalize_url(url))
        .set(database=database)
        .render_as_string(hide_password=False)
    )


def _pg_external():
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL for the external database")
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    base = f"postgresql+psycopg://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
    name = f"connectors_ext_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(base + "postgres", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base + name
    finally:
        sql.dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _mysql_external():
    name = f"connectors_ext_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(sql.normalize_url(mysql_url()), poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield _server_url(mysql_url(), name)
    finally:
        sql.dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(
    params=[
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mysql),
        "sqlite",
    ]
)
def external_url(request, tmp_path):
    """An empty external database of each kind (URL with credentials, as an operator would paste it)."""
    if request.param == "postgresql":
        gen = _pg_external()
    elif request.param == "mariadb":
        gen = _mysql_external()
    else:

        def _sqlite():
            yield f"sqlite:///{tmp_path / 'crm.sqlite3'}"
            sql.dispose_engines()

        gen = _sqlite()
    url = next(gen)
    yield url
    for _ in gen:
        pass


@pytest.fixture
def crm_url(external_url):
    """The demo CRM schema filled for Jane, John and six others."""
    engine = sa.create_engine(sql.normalize_url(external_url), poolclass=sa.pool.NullPool)
    demo.create_schema(engine)
    demo.fill(engine, [JANE, JOHN, *OTHERS])
    engine.dispose()
    return external_url


@pytest.fixture
def crm_system(db, crm_url):
    """A System connected to the filled CRM with the shipped dataset and the demo erase strategies."""
    from connectors.services import connection_save, dataset_import
    from inventory.models import System

    system = System.objects.create(code="crm", name="CRM", kind="external", owner="Sales")
    connection_save(system=system, kind="sql", url=crm_url, actor="test")
    dataset_import(system=system, text=demo.dataset_text(), erase=demo.DEMO_ERASE, actor="test")
    return system


def count(url: str, table: str, where: str = "1=1", **params) -> int:
    engine = sa.create_engine(sql.normalize_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        n = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {where}"), params).scalar_one()
    engine.dispose()
    return n


def fetch(url: str, query: str, **params) -> list[tuple]:
    engine = sa.create_engine(sql.normalize_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(query), params)]
    engine.dispose()
    return rows
