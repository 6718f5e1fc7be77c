"""A first purpose notice, so the shop can take orders from day one; the manager publishes
the shop's own wording as version 2 whenever ready."""

from django.db import migrations

def create(apps, schema_editor):
    from privacy.consent.purposes import ensure_default_notice

    ensure_default_notice(apps.get_model("privacy", "PurposeNotice"))


class Migration(migrations.Migration):
    dependencies = [("privacy", "0005_purpose_notices")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
