"""A contractor's staff account ends with the contract: refused at login (and at each request
of a session already open) once the contract's end date has passed, and deactivated by the
scheduled ``expire_access`` (``privacy.desks.records.deactivate_ended_contracts``)."""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from privacy.staff.records.models import ContractorStaff


def contract_ended(user, today=None) -> bool:
    """Whether ``user`` belongs to a contractor whose contract ended before ``today``: the
    authentication backend asks this (one indexed query)."""
    if getattr(user, "pk", None) is None:
        return False
    if today is None and "_contract_ended" in user.__dict__:
        return user._contract_ended  # loaded with the user (backends.StaffBackend.get_user)
    today = today or timezone.localdate()
    return ContractorStaff.objects.filter(
        user_id=user.pk, contractor__contract_ends_on__lt=today
    ).exists()


def contract_ended_expression(today=None) -> Exists:
    """``contract_ended`` as an annotation on a user query."""
    today = today or timezone.localdate()
    return Exists(
        ContractorStaff.objects.filter(
            user_id=OuterRef("pk"), contractor__contract_ends_on__lt=today
        )
    )


def ended_accounts(today=None):
    """The active accounts whose contractor's contract has ended."""
    today = today or timezone.localdate()
    return get_user_model().objects.filter(
        is_active=True, contractor_link__contractor__contract_ends_on__lt=today
    )
