"""Erasure in external databases: strategies per field, children first, journaled, replayable, idempotent."""

import pytest
import sqlalchemy as sa
from django.core.management import call_command

from connectors import sql
from connectors.models import ErasureJournal
from connectors.services import system_erase

from .conftest import JANE, JOHN, count, fetch


def _erase(system, email=JANE["email"], dry_run=False):
    return system_erase(system=system, identities={"email": [email]}, actor="test", dry_run=dry_run)


@pytest.mark.django_db
def test_dry_run_counts_and_changes_nothing(crm_system, crm_url):
    counts = _erase(crm_system, dry_run=True)
    assert counts["tickets"] == 1 and counts["ticket_messages"] == 2 and counts["order_lines"] == 4
    assert count(crm_url, "ticket_messages") == 16
    assert not ErasureJournal.objects.exists()


@pytest.mark.django_db
def test_erasure_applies_each_strategy_and_leaves_others_alone(crm_system, crm_url):
    counts = _erase(crm_system)
    assert counts == {
        "customers": 1,
        "contacts": 1,
        "orders": 2,
        "order_lines": 4,
        "invoices": 1,
        "newsletter_subscriptions": 1,
        "ticket_messages": 2,
        "tickets": 1,
    }
    (email, name, phone) = fetch(crm_url, "SELECT email, name, phone FROM customers WHERE id = 1")[0]
    assert email == sql.keyed_hash(JANE["email"]) and name == sql.keyed_hash(JANE["name"])
    assert phone == sql.keyed_hash(JANE["phone"])
    assert fetch(crm_url, "SELECT shipping_address FROM orders WHERE customer_id = 1") == [(None,), (None,)]
    assert count(crm_url, "order_lines", "gift_message IS NULL") == 4  # two levels down
    assert count(crm_url, "tickets", "customer_id = 1") == 0
    assert count(crm_url, "ticket_messages") == 14  # children deleted before their ticket
    assert count(crm_url, "newsletter_subscriptions", "email = :e", e=JANE["email"]) == 0
    # John is untouched
    assert fetch(crm_url, "SELECT email FROM customers WHERE id = 2") == [(JOHN["email"],)]
    assert count(crm_url, "order_lines", "gift_message IS NOT NULL") == 28


@pytest.mark.django_db
def test_every_erased_row_is_journaled_by_primary_key_in_the_order_applied(crm_system):
    _erase(crm_system)
    journal = list(ErasureJournal.objects.order_by("id").values_list("collection", "keys", "strategy"))
    collections = [c for c, _, _ in journal]
    assert collections.index("ticket_messages") < collections.index("tickets")
    keys = {c: k for c, k, _ in journal}
    assert keys["tickets"] == {"columns": ["id"], "values": [[1]]}
    assert sorted(v[0] for v in keys["order_lines"]["values"]) == [4, 5, 6, 7]
    assert dict((c, s) for c, _, s in journal)["tickets"] == "delete"


@pytest.mark.django_db
def test_running_twice_changes_nothing_twice(crm_system, crm_url):
    _erase(crm_system)
    hashed = fetch(crm_url, "SELECT email, name FROM customers WHERE id = 1")
    assert _erase(crm_system) == {}
    assert fetch(crm_url, "SELECT email, name FROM customers WHERE id = 1") == hashed


@pytest.mark.django_db
def test_replay_after_a_restore_re_erases_the_journaled_rows(crm_system, crm_url):
    before = {
        t: fetch(crm_url, f"SELECT * FROM {t} ORDER BY id")
        for t in ("customers", "tickets", "ticket_messages")
    }
    _erase(crm_system)
    after = {t: fetch(crm_url, f"SELECT * FROM {t} ORDER BY id") for t in before}
    # "restore the backup": put the pre-erasure rows back
    engine = sa.create_engine(sql.normalize_url(crm_url), poolclass=sa.pool.NullPool)
    from connectors import demo

    with engine.begin() as conn:
        conn.execute(demo.ticket_messages.delete())
        conn.execute(demo.tickets.delete())
        conn.execute(demo.customers.update().where(demo.customers.c.id == 1).values(
            email=JANE["email"], name=JANE["name"], phone=JANE["phone"], customer_ref=JANE["ref"]))  # fmt: skip
        conn.execute(
            demo.tickets.insert(),
            [dict(zip(("id", "customer_id", "subject"), r, strict=True)) for r in before["tickets"]],
        )
        conn.execute(
            demo.ticket_messages.insert(),
            [dict(zip(("id", "ticket_id", "body"), r, strict=True)) for r in before["ticket_messages"]],
        )
    engine.dispose()
    call_command("replay_system_erasures", "--system", crm_system.code)
    assert {t: fetch(crm_url, f"SELECT * FROM {t} ORDER BY id") for t in before} == after


@pytest.mark.django_db
def test_system_erase_command_needs_dry_run_or_yes(crm_system, crm_url, capsys):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("system_erase", crm_system.code, "--identity", f"email={JANE['email']}")
    call_command("system_erase", crm_system.code, "--identity", f"email={JANE['email']}", "--dry-run")
    assert "tickets: would change 1 row(s)" in capsys.readouterr().out
    call_command("system_erase", crm_system.code, "--identity", f"email={JANE['email']}", "--yes")
    assert "tickets: changed 1 row(s)" in capsys.readouterr().out
    assert count(crm_url, "tickets", "customer_id = 1") == 0


@pytest.mark.django_db
def test_system_access_command_prints_rows_by_collection(crm_system, capsys):
    import json

    call_command("system_access", crm_system.code, "--identity", f"email={JANE['email']}", "--json")
    out = json.loads(capsys.readouterr().out)
    assert len(out["collections"]["order_lines"]) == 4 and out["truncated"] == []
    call_command("system_access", crm_system.code, "--identity", f"email={JANE['email']}")
    assert "ticket_messages: 2 row(s)" in capsys.readouterr().out


@pytest.mark.django_db
def test_the_journal_is_written_before_the_change_is_committed(crm_system, crm_url):
    """On PostgreSQL the journal's commit overlaps the statements; the change is still invisible then."""
    from connectors.connector import for_system
    from connectors.services import journal

    connector = for_system(crm_system)
    steps = connector.steps(connector.access({"email": [JANE["email"]]}))
    seen = []

    def write_journal():
        seen.append(count(crm_url, "tickets", "customer_id = 1"))  # another connection: committed rows
        journal(system=crm_system, run=None, steps=steps)

    counts = connector.apply_journaled(steps, write_journal)
    assert seen == [1] and counts["tickets"] == 1
    assert ErasureJournal.objects.count() == len(steps)
    assert count(crm_url, "tickets", "customer_id = 1") == 0


@pytest.mark.django_db
def test_a_journal_that_fails_leaves_the_system_unchanged(crm_system, crm_url):
    from connectors.connector import for_system

    connector = for_system(crm_system)
    steps = connector.steps(connector.access({"email": [JANE["email"]]}))

    def failing_journal():
        raise RuntimeError("our database went away")

    with pytest.raises(RuntimeError):
        connector.apply_journaled(steps, failing_journal)
    assert count(crm_url, "tickets", "customer_id = 1") == 1
    assert fetch(crm_url, "SELECT email FROM customers WHERE id = 1") == [(JANE["email"],)]
    assert count(crm_url, "ticket_messages") == 16


NOTES_DATASET = """
dataset:
  - fides_key: notes
    name: Notes
    collections:
      - name: notes
        fields:
          - name: code
            fides_meta: {primary_key: true, data_type: string}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: body
            data_categories: [user.content]
      - name: tags
        fields:
          - name: code
            fides_meta: {primary_key: true, data_type: string}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
"""
ODD_KEYS = ["it's 100%", "a%sb", "c%%d", "%(x)s"]


@pytest.mark.django_db
def test_keys_with_quotes_and_percent_signs_are_erased_as_written(external_url):
    """Values go into the one-round-trip text as literals: a quote or a '%' in a key stays itself."""
    from connectors.services import connection_save, dataset_import
    from inventory.models import System

    engine = sa.create_engine(sql.normalize_url(external_url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for table in ("notes", "tags"):
            extra = ", body varchar(200)" if table == "notes" else ""
            conn.execute(
                sa.text(f"CREATE TABLE {table} (code varchar(40) PRIMARY KEY, email varchar(254){extra})")
            )
            for code in [*ODD_KEYS, "keep%"]:
                email = "other@example.com" if code == "keep%" else JANE["email"]
                conn.execute(
                    sa.text(f"INSERT INTO {table} (code, email) VALUES (:c, :e)"), {"c": code, "e": email}
                )
        conn.execute(sa.text("UPDATE notes SET body = 'hello'"))
    engine.dispose()
    system = System.objects.create(code="notes", name="Notes", kind="external", owner="Support")
    connection_save(system=system, kind="sql", url=external_url, actor="test")
    dataset_import(
        system=system, text=NOTES_DATASET, erase={"notes.email": "hash", "notes.body": "null", "tags": "delete"},
        actor="test",
    )  # fmt: skip
    assert _erase(system) == {"notes": 4, "tags": 4}
    assert fetch(external_url, "SELECT code FROM tags") == [("keep%",)]
    rows = dict((c, (e, b)) for c, e, b in fetch(external_url, "SELECT code, email, body FROM notes"))
    assert rows == {
        **{code: (sql.keyed_hash(JANE["email"]), None) for code in ODD_KEYS},
        "keep%": ("other@example.com", "hello"),
    }


class _TurnCountingProxy:
    """A TCP proxy in front of the external server counting round trips: a client send after the server
    has answered is one more (how many times the application waited on the network)."""

    def __init__(self, host: str, port: int):
        import socket
        import threading

        self.target = (host, port)
        self.turns = 0
        self._server_spoke = True
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source, sink, from_client: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                for s in (source, sink):
                    s.close()
                return
            with self._lock:
                if from_client and self._server_spoke:
                    self.turns += 1
                self._server_spoke = not from_client
            sink.sendall(data)

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("external_url", ["postgresql"], indirect=True)
@pytest.mark.django_db
def test_an_erasure_on_postgresql_waits_on_the_system_three_times(crm_url):
    """Traversal, then BEGIN with every statement (the journal written meanwhile), then COMMIT: psycopg
    would send BEGIN alone first (four)."""
    from connectors import demo
    from connectors.services import connection_save, dataset_import
    from inventory.models import System

    url = sa.engine.make_url(crm_url)
    proxy = _TurnCountingProxy(url.host, url.port or 5432)
    try:
        system = System.objects.create(code="crm", name="CRM", kind="external", owner="Sales")
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        connection_save(system=system, kind="sql", url=proxied, actor="test")
        dataset_import(system=system, text=demo.dataset_text(), erase=demo.DEMO_ERASE, actor="test")
        assert _erase(system)["tickets"] == 1  # connects (server version, settings...)
        before = proxy.turns
        counts = _erase(system, email=JOHN["email"])
        assert proxy.turns - before == 3 and counts["customers"] == 1
        assert ErasureJournal.objects.filter(collection="customers").count() == 2
    finally:
        sql.dispose_engines()
        proxy.close()


def _refuse_ticket_deletes(crm_url: str) -> None:
    """A trigger on the external system that refuses every DELETE on tickets (a change it fails)."""
    engine = sa.create_engine(sql.normalize_url(crm_url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE FUNCTION no_deletes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'tickets are kept'; END $$"
        ))  # fmt: skip
        conn.execute(
            sa.text(
                "CREATE TRIGGER no_deletes BEFORE DELETE ON tickets FOR EACH ROW EXECUTE FUNCTION no_deletes()"
            )
        )
    engine.dispose()


@pytest.mark.parametrize("external_url", ["postgresql"], indirect=True)
@pytest.mark.django_db
def test_a_statement_the_system_refuses_rolls_back_and_names_no_value(crm_system, crm_url):
    """The statements go out without SQLAlchemy: its error type is kept (a run fails with a message),
    the statements' text (the values) is not."""
    _refuse_ticket_deletes(crm_url)
    with pytest.raises(sa.exc.DBAPIError) as caught:
        _erase(crm_system)
    assert JANE["email"] not in str(caught.value) and sql.keyed_hash(JANE["email"]) not in str(caught.value)
    assert fetch(crm_url, "SELECT email FROM customers WHERE id = 1") == [(JANE["email"],)]
    assert count(crm_url, "ticket_messages") == 16
    # the pooled connection is usable again: an access afterwards answers
    from connectors.services import system_access

    assert system_access(system=crm_system, identities={"email": [JOHN["email"]]}).counts()["customers"] == 1


@pytest.mark.django_db
def test_a_strategy_changed_between_two_erasures_applies_to_the_second(crm_system, crm_url):
    """The graph built for the first erasure is reused by the next, whose datasets are read again while
    it traverses: a changed mapping (here without a new version stamp) still applies."""
    from connectors import demo
    from connectors.models import Dataset

    _erase(crm_system)  # builds and remembers the graph
    Dataset.objects.filter(system=crm_system).update(
        erase={**demo.DEMO_ERASE, "customers.phone": "null", "tickets": "keep", "ticket_messages": "keep"}
    )
    counts = _erase(crm_system, email=JOHN["email"])
    assert "tickets" not in counts and counts["customers"] == 1
    assert fetch(crm_url, "SELECT phone, name FROM customers WHERE id = 2") == [
        (None, sql.keyed_hash(JOHN["name"]))
    ]
    assert count(crm_url, "tickets", "customer_id = 2") == 1


@pytest.mark.django_db
def test_with_a_known_graph_an_erasure_sends_our_database_the_journal_and_its_audit_event_only(
    crm_system, crm_url, monkeypatch
):
    """The datasets' read goes out before the traversal and is collected after it (it was a statement of
    its own, waited on before the traversal); with PostgreSQL on both sides the audit event is appended
    by the journal's statement (it was a statement and a commit of its own after the change)."""
    import psycopg
    from django.db import connection

    from audit.models import AuditEvent

    if connection.vendor != "postgresql":
        pytest.skip("the read overlaps the traversal on PostgreSQL")
    _erase(crm_system)
    executed = []
    execute = psycopg.Cursor.execute  # Django's cursors and the bound ones all end here

    def counting(self, query, *args, **kwargs):
        if self.connection is connection.connection:  # ours, not the system's
            executed.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    assert _erase(crm_system, email=JOHN["email"])["customers"] == 1
    monkeypatch.undo()
    if crm_url.startswith("postgresql"):
        assert len(executed) == 1 and executed[0].startswith(
            "WITH j AS (INSERT INTO connectors_erasurejournal"
        )
        assert "audit_chain_append" in executed[0]
    else:  # the journal first, the event once the system committed
        assert len(executed) == 2 and executed[0].startswith("INSERT INTO connectors_erasurejournal")
        assert "audit_chain_append" in executed[1]
    # Appended before the system's COMMIT, the event says journaled, not erased; after it, erased.
    action = (
        "connectors.system_erase_journaled"
        if crm_url.startswith("postgresql")
        else "connectors.system_erased"
    )
    event = AuditEvent.objects.filter(action=action).latest("id")
    assert event.details["counts"]["customers"] == 1 and event.details["counts"]["tickets"] == 1
    assert AuditEvent.objects.filter(action=action).count() == 2
    assert AuditEvent.objects.filter(action__startswith="connectors.system_erase").count() == 2


@pytest.mark.parametrize("external_url", ["postgresql"], indirect=True)
@pytest.mark.django_db
def test_an_erasure_the_system_fails_to_commit_after_its_journal_is_audited_as_failed(crm_system, crm_url):
    """The event appended with the journal says journaled (never erased: the system has not committed);
    a change that then fails adds the failure (the journal stays, for a replay), by error class only."""
    from audit.models import AuditEvent

    _refuse_ticket_deletes(crm_url)
    with pytest.raises(sa.exc.DBAPIError):
        _erase(crm_system)
    actions = list(AuditEvent.objects.filter(action__startswith="connectors.system_erase").order_by("id"))
    assert [e.action for e in actions] == [
        "connectors.system_erase_journaled",
        "connectors.system_erase_failed",
    ]
    assert actions[1].details["error"].isidentifier() and actions[1].details["counts"]["tickets"] == 1
    assert JANE["email"] not in str(actions[1].details)
    assert ErasureJournal.objects.filter(collection="tickets").exists()
    assert count(crm_url, "tickets", "customer_id = 1") == 1
