from auditlog.registry import auditlog

from customers.models import (
    Customer,
    CustomerGroupObjectPermission,
    CustomerUserObjectPermission,
    SpecialOrder,
)
from privacy.vault.registry import register_personal_model

register_personal_model(Customer)
register_personal_model(SpecialOrder)
auditlog.register(CustomerUserObjectPermission)
auditlog.register(CustomerGroupObjectPermission)
