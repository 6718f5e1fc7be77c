from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "privacy.incidents"
    label = "incidents"
    verbose_name = _("Incident register")

    def ready(self):
        from auditlog.registry import auditlog

        from privacy.incidents.models import AffectedCustomer, Incident
        from privacy.vault.registry import register_personal_model

        # The summary is encrypted and masked; the affected rows hold no personal value.
        register_personal_model(Incident)
        auditlog.register(AffectedCustomer)
