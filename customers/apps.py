from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers and special orders")

    def ready(self):
        from customers import audit_registration  # noqa: F401
        from customers.models import SpecialOrder
        from privacy.core import subjects

        subjects.register_holder(SpecialOrder, "customer")
