"""Append-only tables enforced by the database, not only by Python.

`AppendOnly(table)` is a migration operation that installs a PostgreSQL trigger refusing UPDATE and
DELETE on a ledger table, row by row. TRUNCATE is left to privileges (the application's role
should not own the tables; test flushes rely on it). Every ledger (audit events, consent events, the disclosure
log) uses it, so a bug or a console session can't rewrite history. On SQLite (the embedded
development default) it installs equivalent triggers with RAISE(ABORT).
"""

from django.db import migrations

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION privacyops_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


class AppendOnly(migrations.operations.base.Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, table: str):
        self.table = table

    def state_forwards(self, app_label, state):
        pass

    def _pg(self, table: str) -> list[str]:
        return [
            _PG_FUNCTION,
            f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"',
            f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION privacyops_refuse_change()",
        ]

    def _sqlite(self, table: str) -> list[str]:
        return [
            f'CREATE TRIGGER IF NOT EXISTS "{table}_no_update" BEFORE UPDATE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: UPDATE is not allowed'); END",
            f'CREATE TRIGGER IF NOT EXISTS "{table}_no_delete" BEFORE DELETE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: DELETE is not allowed'); END",
        ]

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        vendor = schema_editor.connection.vendor
        statements = self._pg(self.table) if vendor == "postgresql" else self._sqlite(self.table)
        for sql in statements if vendor in ("postgresql", "sqlite") else []:
            schema_editor.execute(sql, params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{self.table}_append_only" ON "{self.table}"')
        elif vendor == "sqlite":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{self.table}_no_update"')
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{self.table}_no_delete"')

    def describe(self):
        return f"Make {self.table} append-only"

    def deconstruct(self):
        return (self.__class__.__name__, [self.table], {})
