"""One narrow exception to an append-only ledger: re-sealing a legacy ciphertext in the current format.

`AllowReseal(model_name, column)` replaces the ledger's refuse-everything UPDATE trigger (see
audit.appendonly) with one that lets exactly this change through, row by row:

- every other column, the primary key included, is unchanged (the same row, nothing else moves);
- the old value is a well-formed Fernet token: url-safe base64 of version byte 0x80, 8-byte timestamp,
  16-byte IV, a ciphertext of whole 16-byte blocks, 32-byte HMAC (57 + 16k bytes, k >= 1);
- the new value is a well-formed AES-GCM token: url-safe base64 of version byte 0x01, 12-byte nonce,
  ciphertext, 16-byte tag (29 + n bytes, n >= 1);
- the plaintext lengths agree: the GCM one's n bytes pad to exactly the Fernet ciphertext,
  16 * (n // 16 + 1) (the database checks what it can without the key: to the 16-byte block).

So a value can be re-sealed once and never changed again, and nothing but a legacy token can be
replaced. Every other UPDATE, and every DELETE, is still refused by the database. The new value can't
be checked to hold the same plaintext (the database has no key); the re-sealing service opens and
re-seals the very same value, and a writer without the data key could at most make it unreadable,
the effect of the crypto-shredding the ledger already allows.
"""

from django.db import migrations

FERNET_VERSION, GCM_VERSION = 0x80, 0x01
FERNET_OVERHEAD, GCM_OVERHEAD = 1 + 8 + 16 + 32, 1 + 12 + 16

_PG_DECODE = """
CREATE OR REPLACE FUNCTION privacyops_b64url_bytes(value text) RETURNS bytea AS $$
BEGIN
    IF value IS NULL OR length(value) % 4 <> 0 OR value !~ '^[A-Za-z0-9_-]+={0,2}$' THEN
        RETURN NULL;
    END IF;
    RETURN decode(translate(value, '-_', '+/'), 'base64');
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END;
$$ LANGUAGE plpgsql IMMUTABLE;
"""

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION privacyops_refuse_change_except_reseal() RETURNS trigger AS $$
DECLARE
    col text := TG_ARGV[0];
    old_bytes bytea;
    new_bytes bytea;
BEGIN
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - col) = (to_jsonb(OLD) - col) THEN
        old_bytes := privacyops_b64url_bytes(to_jsonb(OLD) ->> col);
        new_bytes := privacyops_b64url_bytes(to_jsonb(NEW) ->> col);
        IF old_bytes IS NOT NULL AND new_bytes IS NOT NULL
           AND length(old_bytes) >= {FERNET_OVERHEAD} + 16
           AND (length(old_bytes) - {FERNET_OVERHEAD}) % 16 = 0
           AND length(new_bytes) > {GCM_OVERHEAD} THEN
            IF get_byte(old_bytes, 0) = {FERNET_VERSION} AND get_byte(new_bytes, 0) = {GCM_VERSION}
               AND length(old_bytes) - {FERNET_OVERHEAD}
                   = 16 * ((length(new_bytes) - {GCM_OVERHEAD}) / 16 + 1) THEN
                RETURN NEW;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION 'append-only table %: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _sqlite_bytes(value: str) -> str:
    """The decoded length of a url-safe base64 column in SQLite's SQL (it has no base64 decoder)."""
    return f"(length({value}) / 4 * 3 - (length({value}) - length(rtrim({value}, '='))))"


def _sqlite_reseal_allowed(column: str) -> str:
    """The same rule as the PostgreSQL trigger, on the text: SQLite's development databases only.
    "gAAAAA" is 0x80 then the high zero bytes of a Fernet timestamp; "A" then [Q-f] is 0x01."""
    old, new = f'OLD."{column}"', f'NEW."{column}"'
    b64 = "NOT GLOB '*[^A-Za-z0-9_=-]*'"
    old_n, new_n = _sqlite_bytes(old), _sqlite_bytes(new)
    return (
        f"{old} GLOB 'gAAAAA*' AND {old} {b64} AND length({old}) % 4 = 0 "
        f"AND {new} GLOB 'A[Q-Za-f]*' AND {new} {b64} AND length({new}) % 4 = 0 "
        f"AND {old_n} >= {FERNET_OVERHEAD} + 16 AND {new_n} > {GCM_OVERHEAD} "
        f"AND {old_n} - {FERNET_OVERHEAD} = 16 * (({new_n} - {GCM_OVERHEAD}) / 16 + 1)"
    )


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
        allowed = f"{_sqlite_reseal_allowed(self.column)} AND {same}"
        return f'CREATE TRIGGER "{table}_no_update" BEFORE UPDATE ON "{table}" WHEN NOT ({allowed}) {refuse}'

    def _apply(self, app_label, schema_editor, state, *, allow: bool):
        vendor = schema_editor.connection.vendor
        model = self._model(app_label, state)
        table = model._meta.db_table
        if vendor == "postgresql":
            function = "privacyops_refuse_change_except_reseal" if allow else "privacyops_refuse_change"
            argument = f"'{self.column}'" if allow else ""
            if allow:
                schema_editor.execute(_PG_DECODE, params=None)
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


class NarrowReseal(AllowReseal):
    """Re-installs AllowReseal's rule as it now reads, on a database that has the former, wider one
    (first character "g" to first character "A"). Going back keeps the narrower rule: it is correct in
    every earlier state too."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass

    def describe(self):
        return f"Narrow the re-sealing exception on {self.model_name}.{self.column}"
