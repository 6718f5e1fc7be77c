"""The scheduler's one row per job (privacy.ops.schedule): what the administrator's inbox reads."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("privacy", "0016_audit_guard_after_table_rebuild")]

    operations = [
        migrations.CreateModel(
            name="ScheduledJob",
            fields=[
                (
                    "name",
                    models.CharField(
                        max_length=40, primary_key=True, serialize=False, verbose_name="job"
                    ),
                ),
                ("known_since", models.DateTimeField(verbose_name="known since")),
                (
                    "last_started",
                    models.DateTimeField(blank=True, null=True, verbose_name="last started"),
                ),
                (
                    "last_finished",
                    models.DateTimeField(blank=True, null=True, verbose_name="last finished"),
                ),
                (
                    "last_exit_status",
                    models.IntegerField(blank=True, null=True, verbose_name="last exit status"),
                ),
                (
                    "last_ok",
                    models.BooleanField(default=True, verbose_name="last run succeeded"),
                ),
                (
                    "last_success",
                    models.DateTimeField(blank=True, null=True, verbose_name="last success"),
                ),
            ],
            options={
                "verbose_name": "scheduled job",
                "verbose_name_plural": "scheduled jobs",
            },
        ),
    ]
