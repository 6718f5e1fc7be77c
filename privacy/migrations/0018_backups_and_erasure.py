"""Placeholder: filled by the work that owns it (see the workstream notes); empty is harmless."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("privacy", "0017_key_lifecycle")]

    operations = []
