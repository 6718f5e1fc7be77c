"""Placeholder: filled by the work that owns it (see the workstream notes); empty is harmless."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("privacy", "0022_login_attempts")]

    operations = []
