"""The audit log's append-only guard, installed again.

On SQLite, 0014's AlterField operations rebuild privacy_auditlogentry (a new table, the rows
copied, the old one dropped), and the triggers that 0002 put on the old table go with it: a
plain `migrate` left a log that the database let anyone UPDATE or DELETE. This puts the guard
back (on PostgreSQL, where the table is altered in place, it replaces it with the same).

A later migration that rebuilds the table must end the same way; the start-up check
(privacy.ops.checks) and tests/test_production_config.py catch one that does not.
"""

from django.db import migrations


def install(apps, schema_editor):
    from privacy.audit import guard as audit_guard

    audit_guard.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("privacy", "0015_grant_in_force_index")]

    # Going back leaves the guard in place: 0002's reverse is the one that removes it.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
