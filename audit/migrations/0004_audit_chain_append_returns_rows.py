"""PostgreSQL: audit_chain_append() now returns each appended event's id, prev_hash and hash.

So a single event (audit.services.audit_record) is one statement too, and its caller still gets the
AuditEvent it used to (pk, prev_hash, hash). Same lock, same head read, same bytes hashed as 0003 and
audit.chain.compute_hash; only the return type changes, which CREATE OR REPLACE cannot do (drop, create).
"""

import importlib

from django.db import migrations

LOCK_ID = 0x5052_4956_4143  # audit.services' chain lock

ARGUMENTS = "timestamptz[], text[], text[], text[], text[], bigint[], text[], integer[], text[]"

CREATE = f"""
CREATE FUNCTION audit_chain_append(
    ats timestamptz[], labels text[], actions text[], target_types text[], target_ids text[],
    subject_ids bigint[], details text[], actor_ids integer[], payload_tails text[]
) RETURNS TABLE (event_id bigint, event_prev_hash text, event_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    prev text;
    digest text;
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_ID});
    SELECT e.hash INTO prev FROM audit_auditevent e ORDER BY e.id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    FOR i IN 1 .. coalesce(array_length(ats, 1), 0) LOOP
        digest := encode(sha256(convert_to('["' || prev || '",' || payload_tails[i], 'UTF8')), 'hex');
        INSERT INTO audit_auditevent
            (at, actor_label, action, target_type, target_id, subject_id, details, actor_id, prev_hash, hash)
        VALUES (ats[i], labels[i], actions[i], target_types[i], target_ids[i], subject_ids[i],
                details[i]::jsonb, actor_ids[i], prev, digest)
        RETURNING audit_auditevent.id INTO event_id;
        event_prev_hash := prev;
        event_hash := digest;
        RETURN NEXT;
        prev := digest;
    END LOOP;
END
$$;
"""
DROP = f"DROP FUNCTION IF EXISTS audit_chain_append({ARGUMENTS})"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        previous = importlib.import_module("audit.migrations.0003_audit_chain_append_function")
        schema_editor.execute(previous.CREATE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_audit_chain_append_function")]

    operations = [migrations.RunPython(forwards, backwards)]
