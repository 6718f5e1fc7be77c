"""Second person (issue 15): roles, the manager's own access and long openings outside
business hours wait for a second person's confirmation."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import privacy.staff.models


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0021_setup_links"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("customers", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SecondPersonProposal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference", models.CharField(default=privacy.staff.models._proposal_reference, editable=False, max_length=12, unique=True)),
                ("kind", models.CharField(choices=[("role", "Role or team"), ("grant_self", "Manager's own access to a customer"), ("hours", "Customer data open outside business hours")], max_length=12)),
                ("minutes", models.PositiveIntegerField(blank=True, null=True)),
                ("reason", models.CharField(blank=True, max_length=200, verbose_name="reason")),
                ("proposed_as", models.CharField(max_length=20)),
                ("proposed_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires_at", models.DateTimeField()),
                ("status", models.CharField(choices=[("pending", "Waiting for confirmation"), ("confirmed", "Confirmed"), ("refused", "Refused"), ("expired", "Expired"), ("withdrawn", "Withdrawn")], default="pending", max_length=10)),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("account", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="role_proposals", to=settings.AUTH_USER_MODEL)),
                ("customer", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="customers.customer")),
                ("decided_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("group", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="auth.group")),
                ("proposed_by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "indexes": [models.Index(fields=["status", "expires_at"], name="privacy_sec_status_09b66c_idx")],
                "constraints": [
                    models.UniqueConstraint(condition=models.Q(("kind", "role"), ("status", "pending")), fields=("account", "group"), name="privacy_one_pending_role_proposal"),
                    models.UniqueConstraint(condition=models.Q(("kind", "grant_self"), ("status", "pending")), fields=("proposed_by", "customer"), name="privacy_one_pending_grant_self"),
                ],
            },
        ),
    ]
