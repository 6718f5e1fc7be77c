from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = _("Privacy")

    def ready(self):
        from django.db.models.signals import post_migrate

        post_migrate.connect(_guard_after_migrate, sender=self)

        from auditlog.registry import auditlog

        from privacy.access.models import AccessGrant, HoursOverride
        from privacy.audit import chain  # noqa: F401  (joins AuditLogEntry.save to the chain)
        from privacy.consent.models import ThirdPartyProvision
        from privacy.desks import erasure  # noqa: F401
        from privacy.desks.models import DataRequest, ExportRequest, RetentionBatch
        from privacy.ops import checks, schedule  # noqa: F401  (schedule: the jobs' inbox)

        # proposals: the second person's inbox (issue 15)
        from privacy.staff import proposals, signals  # noqa: F401
        from privacy.vault.registry import install_sealed_diff, register_personal_model

        install_sealed_diff()
        register_personal_model(DataRequest)
        register_personal_model(ThirdPartyProvision)
        # Not registered for erasure: its own key keeps it for the three years the law asks.

        # Free-text reasons may name a person: the log says they changed, not what they say.
        auditlog.register(
            AccessGrant, mask_fields=["reason"], mask_callable="privacy.vault.registry.redact"
        )
        auditlog.register(
            HoursOverride, mask_fields=["reason"], mask_callable="privacy.vault.registry.redact"
        )
        # The frozen lists of ids are long and say nothing a reference does not.
        auditlog.register(RetentionBatch, exclude_fields=["customer_ids", "order_ids"])
        auditlog.register(
            ExportRequest,
            mask_fields=["reason"],
            mask_callable="privacy.vault.registry.redact",
            exclude_fields=["customer_ids"],
        )


def _guard_after_migrate(sender, using, plan=None, **kwargs):
    """After every ``migrate`` that applied a migration, the audit log's append-only guard
    is put (back) in place: a migration that rebuilds the table (SQLite's table remake)
    drops its triggers, and the next one might not know to restore them."""
    from django.db import connections

    from privacy.audit import guard

    connection = connections[using]
    if plan and guard.TABLE in connection.introspection.table_names():
        guard.install(connection)
