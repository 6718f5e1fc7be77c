"""Approvals and requests: the second person the manager chose for a request, the uses a
request stopped, and who lifted a suspension and why."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0017_scheduled_jobs"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="datarequest",
            name="second_person",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="second person",
            ),
        ),
        migrations.AddField(
            model_name="datarequest",
            name="stopped_purposes",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="purposesuspension",
            name="lift_reason",
            field=models.CharField(blank=True, max_length=200, verbose_name="reason for lifting"),
        ),
        migrations.AddField(
            model_name="purposesuspension",
            name="lifted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
