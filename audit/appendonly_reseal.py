"""One narrow exception to an append-only ledger: re-sealing a legacy ciphertext in the current format.

`AllowReseal(model_name, column)` replaces the ledger's refuse-everything UPDATE trigger (see
audit.appendonly) with one that lets exactly this change through: only `column` changes, from a
legacy Fernet token (first character "g", byte 0x80) to a current one (first character "A", version
byte 0x01). Every other UPDATE, and every DELETE, is still refused by the database. The new value can't
be checked to hold the same plaintext (the database has no key); the re-sealing service opens and
re-seals the very same value, and a writer without the data key could at most make it unreadable,
the effect of the crypto-shredding the ledger already allows.
"""

from django.db import migrations

LEGACY_FIRST, CURRENT_FIRST = "g", "A"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION privacyops_refuse_change_except_reseal() RETURNS trigger AS $$
DECLARE
    col text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'UPDATE'
       AND (to_jsonb(NEW) - col) = (to_jsonb(OLD) - col)
       AND left(to_jsonb(OLD) ->> col, 1) = '{LEGACY_FIRST}'
       AND left(to_jsonb(NEW) ->> col, 1) = '{CURRENT_FIRST}' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'append-only table %: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


class AllowReseal(migrations.operations.base.Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, column: str):
        self.model_name = model_name
        self.column = column

    def state_forwards(self, app_label, state):
        pass

    def _model(self, app_label, state):
        return state.apps.get_model(app_label, self.model_name)

    def _sqlite_update_trigger(self, model, *, allow: bool) -> str:
        table = model._meta.db_table
        refuse = f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: UPDATE is not allowed'); END"
        if not allow:
            return f'CREATE TRIGGER "{table}_no_update" BEFORE UPDATE ON "{table}" {refuse}'
        same = " AND ".join(
            f'OLD."{f.column}" IS NEW."{f.column}"'
            for f in model._meta.concrete_fields
            if f.column != self.column
        )
        col = f'"{self.column}"'
        allowed = f"substr(OLD.{col}, 1, 1) = '{LEGACY_FIRST}' AND substr(NEW.{col}, 1, 1) = '{CURRENT_FIRST}' AND {same}"
        return f'CREATE TRIGGER "{table}_no_update" BEFORE UPDATE ON "{table}" WHEN NOT ({allowed}) {refuse}'

    def _apply(self, app_label, schema_editor, state, *, allow: bool):
        vendor = schema_editor.connection.vendor
        model = self._model(app_label, state)
        table = model._meta.db_table
        if vendor == "postgresql":
            function = "privacyops_refuse_change_except_reseal" if allow else "privacyops_refuse_change"
            argument = f"'{self.column}'" if allow else ""
            if allow:
                schema_editor.execute(_PG_FUNCTION, params=None)
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"', params=None)
            schema_editor.execute(
                f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION {function}({argument})",
                params=None,
            )
        elif vendor == "sqlite":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_update"', params=None)
            schema_editor.execute(self._sqlite_update_trigger(model, allow=allow), params=None)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._apply(app_label, schema_editor, to_state, allow=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._apply(app_label, schema_editor, to_state, allow=False)

    def describe(self):
        return (
            f"Allow re-sealing legacy ciphertexts in {self.model_name}.{self.column} (append-only otherwise)"
        )

    def deconstruct(self):
        return (self.__class__.__name__, [self.model_name, self.column], {})
