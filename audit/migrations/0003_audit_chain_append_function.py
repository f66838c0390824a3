"""PostgreSQL: audit_chain_append(), the chain's append in one round trip (audit.services.audit_record_many).

It takes the chain's advisory lock, reads the head (a PL/pgSQL statement after the lock sees every
append committed before it), and inserts the events, each hashed with SHA-256 over exactly the bytes
audit.chain.compute_hash hashes: '["<prev_hash>",' followed by the JSON the caller made of the rest.
"""

from django.db import migrations

LOCK_ID = 0x5052_4956_4143  # audit.services' chain lock

CREATE = f"""
CREATE OR REPLACE FUNCTION audit_chain_append(
    ats timestamptz[], labels text[], actions text[], target_types text[], target_ids text[],
    subject_ids bigint[], details text[], actor_ids integer[], payload_tails text[]
) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    prev text;
    digest text;
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_ID});
    SELECT hash INTO prev FROM audit_auditevent ORDER BY id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    FOR i IN 1 .. coalesce(array_length(ats, 1), 0) LOOP
        digest := encode(sha256(convert_to('["' || prev || '",' || payload_tails[i], 'UTF8')), 'hex');
        INSERT INTO audit_auditevent
            (at, actor_label, action, target_type, target_id, subject_id, details, actor_id, prev_hash, hash)
        VALUES (ats[i], labels[i], actions[i], target_types[i], target_ids[i], subject_ids[i],
                details[i]::jsonb, actor_ids[i], prev, digest);
        prev := digest;
    END LOOP;
END
$$;
"""
DROP = (
    "DROP FUNCTION IF EXISTS audit_chain_append(timestamptz[], text[], text[], text[], text[], bigint[], "
    "text[], integer[], text[])"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_alter_auditevent_actor_label")]

    operations = [migrations.RunPython(forwards, backwards)]
