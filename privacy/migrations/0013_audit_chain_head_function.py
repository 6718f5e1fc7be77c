from django.db import migrations


def install(apps, schema_editor):
    from privacy.audit import chain as audit_chain

    audit_chain.install_head_function(schema_editor.connection)


def remove(apps, schema_editor):
    from privacy.audit import chain as audit_chain

    audit_chain.remove_head_function(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("privacy", "0012_provision_records_keep_their_own_key")]

    operations = [migrations.RunPython(install, remove)]
