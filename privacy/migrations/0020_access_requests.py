"""Access requests: a clerk asks the manager to see a customer hidden from them (the counter's
duplicate check files one instead of making a second record)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import privacy.access.models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("privacy", "0019_login_attempts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference", models.CharField(default=privacy.access.models._access_request_reference, editable=False, max_length=12, unique=True)),
                ("reason", models.CharField(max_length=200, verbose_name="reason")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("outcome", models.CharField(choices=[("pending", "Waiting for the manager"), ("granted", "Access granted"), ("refused", "Refused")], default="pending", max_length=10)),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("customer", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="access_requests", to="customers.customer")),
                ("decided_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("grant", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="privacy.accessgrant")),
                ("requested_by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "indexes": [models.Index(fields=["outcome", "created_at"], name="privacy_acc_outcome_d69fc9_idx")],
                "constraints": [models.UniqueConstraint(condition=models.Q(("outcome", "pending")), fields=("customer", "requested_by"), name="privacy_one_pending_access_request")],
            },
        ),
    ]
