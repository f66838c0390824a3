"""A compact list of record ids for the erasure journal.

On PostgreSQL the column is a `bigint[]` stored uncompressed (STORAGE EXTERNAL, see migration 0001):
the sweep fills it with `array_agg(id)` in the same statement as the DELETE, which costs a fraction of
one journal row per record. Elsewhere (SQLite, the embedded development default) it is a comma-joined
text column.
"""

from django.db import models


class IdListField(models.Field):
    description = "List of integer record ids"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", list)
        super().__init__(*args, **kwargs)

    def db_type(self, connection) -> str:
        return "bigint[]" if connection.vendor == "postgresql" else "text"

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        ids = [int(v) for v in value]
        if connection.vendor == "postgresql":
            return ids
        return ",".join(str(v) for v in ids)

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def to_python(self, value):
        if value is None:
            return []
        if isinstance(value, str):
            return [int(v) for v in value.split(",") if v]
        return [int(v) for v in value]

    def value_to_string(self, obj) -> str:
        return ",".join(str(v) for v in self.value_from_object(obj))
