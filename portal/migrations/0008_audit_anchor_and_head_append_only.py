from django.db import migrations

# The anchors of the audit trail and its head row are protected like the events themselves
# (0003_audit): on PostgreSQL the database refuses to rewrite them. An anchor row is never
# changed or deleted. The head row is never deleted, and an UPDATE may only move it forward, to
# an event that exists with that seq and hash (portal.audit.services.record inserts the event,
# then moves the head, in one transaction). Other databases rely on the application.
INSTALL_TRIGGERS = """
CREATE OR REPLACE FUNCTION portal_auditanchor_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit anchors are append-only: % of portal_auditanchor seq % refused',
        TG_OP, OLD.seq USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER portal_auditanchor_append_only
    BEFORE UPDATE OR DELETE ON portal_auditanchor
    FOR EACH ROW EXECUTE FUNCTION portal_auditanchor_append_only();

CREATE OR REPLACE FUNCTION portal_audithead_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit head only moves forward: DELETE of portal_audithead refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.id <> OLD.id OR NEW.seq <= OLD.seq THEN
        RAISE EXCEPTION 'the audit head only moves forward: seq % to % refused',
            OLD.seq, NEW.seq USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM portal_auditevent WHERE seq = NEW.seq AND hash = NEW.hash
    ) THEN
        RAISE EXCEPTION 'the audit head only moves forward: seq % with hash % is not an event',
            NEW.seq, NEW.hash USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER portal_audithead_forward_only
    BEFORE UPDATE OR DELETE ON portal_audithead
    FOR EACH ROW EXECUTE FUNCTION portal_audithead_forward_only();
"""
DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS portal_auditanchor_append_only ON portal_auditanchor;
DROP FUNCTION IF EXISTS portal_auditanchor_append_only();
DROP TRIGGER IF EXISTS portal_audithead_forward_only ON portal_audithead;
DROP FUNCTION IF EXISTS portal_audithead_forward_only();
"""


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL_TRIGGERS, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGERS, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0007_audit_actions_merged"),
    ]

    operations = [migrations.RunPython(install_triggers, drop_triggers)]
