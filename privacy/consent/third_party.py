"""Records of third-party provision (第三者提供記録, APPI art. 29).

When a customer's data leaves the shop for a third party, the clerk records who received
what, when, and on which basis. The customer's consent (with when it was given) is the only
basis a clerk may record; another legal basis (法令に基づく場合 and the like) is the manager's
call. Records are kept for three years from the provision (APPI rules art. 21); after that
they are flagged on the manager's list and deleted once a second person approves, never kept
or deleted silently."""

import datetime
import uuid

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.audit import log as audit
from privacy.consent import purposes
from privacy.consent.models import ProvidedItem, ProvisionBasis, ThirdPartyProvision
from privacy.core.prepared import prepared
from privacy.staff import roles, two_person
from privacy.vault import datakeys, gate

KEEP_YEARS = 3
# Dates before this are typing mistakes (and year 1 would not survive the time zone).
EARLIEST = datetime.date(2000, 1, 1)
FIELDS = ["recipient", "recipient_details", "items", "purpose", "other_basis"]


class ProvisionRefused(Exception):
    """Nothing was recorded or deleted. ``field`` names the form field the message belongs to."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def keep_until(made_on: datetime.date) -> datetime.date:
    """Three years from the day the record is made (Enforcement Rules art. 21: 記録を作成した日
    から), not from the provision, which may be entered late; from 29 February, until 1 March
    (never shorter)."""
    try:
        return made_on.replace(year=made_on.year + KEEP_YEARS)
    except ValueError:
        return datetime.date(made_on.year + KEEP_YEARS, 3, 1)


@transaction.atomic
def record(
    *,
    actor,
    customer,
    recipient: str,
    items: list[str],
    purpose: str,
    provided_on: datetime.date,
    basis: str,
    consent_obtained_at: datetime.datetime | None = None,
    other_basis: str = "",
    recipient_details: str = "",
) -> ThirdPartyProvision:
    """Record one provision. Refused without the customer's consent and its time, unless the
    manager records another legal basis; refused for a customer the actor may not see."""
    if not roles.has_role(actor, *roles.COUNTER):
        raise PermissionDenied
    if gate.admitted(customer.pk) is None:  # the caller decides the read of the customer first
        raise PermissionDenied
    today = timezone.localdate()
    if not (recipient or "").strip():
        raise ProvisionRefused(_("Name the third party who received the data."), "recipient")
    if not items or not set(items) <= set(ProvidedItem.values):
        raise ProvisionRefused(_("Choose the data that was given."), "items")
    if not (purpose or "").strip():
        raise ProvisionRefused(_("Say what the data was given for."), "purpose")
    if provided_on is None or provided_on < EARLIEST:
        raise ProvisionRefused(_("Check the date."), "provided_on")
    if consent_obtained_at is not None and consent_obtained_at.date() < EARLIEST:
        raise ProvisionRefused(_("Check the date."), "consent_obtained_at")
    if provided_on > today:
        raise ProvisionRefused(
            _("Record a provision once the data has been given: the date cannot be in the future."),
            "provided_on",
        )
    if basis == ProvisionBasis.CONSENT:
        if purposes.THIRD_PARTY in purposes.suspended_purposes(customer):
            raise ProvisionRefused(
                _(
                    "This customer asked us to stop giving their data to third parties "
                    "(第三者提供の停止): do not give it. Only the manager may record a provision "
                    "required by law."
                ),
                "basis",
            )
        if consent_obtained_at is None:
            raise ProvisionRefused(
                _(
                    "Without the customer's consent the data may not be given to a third party: "
                    "record when they consented."
                ),
                "consent_obtained_at",
            )
        if consent_obtained_at > timezone.now():
            raise ProvisionRefused(
                _("The time of consent cannot be in the future."), "consent_obtained_at"
            )
        if timezone.localtime(consent_obtained_at).date() > provided_on:
            raise ProvisionRefused(
                _("Consent must be given before the data is provided."), "consent_obtained_at"
            )
        other_basis = ""
    elif basis == ProvisionBasis.OTHER:
        if not roles.has_role(actor, roles.MANAGER):
            raise ProvisionRefused(
                _(
                    "Only the manager may record a basis other than the customer's consent. "
                    "Without consent, do not give the data; ask the manager."
                ),
                "basis",
            )
        if not (other_basis or "").strip():
            raise ProvisionRefused(
                _("Name the legal basis (for example, the law that requires it)."), "other_basis"
            )
        consent_obtained_at = None
    else:
        raise ProvisionRefused(_("Choose the basis of the provision."), "basis")
    provision = ThirdPartyProvision(
        customer=customer,
        subject_name=customer.display_name,
        recipient=recipient.strip(),
        recipient_details=(recipient_details or "").strip(),
        items=[code for code in ProvidedItem.values if code in items],
        purpose=purpose.strip(),
        provided_on=provided_on,
        basis=basis,
        consent_obtained_at=consent_obtained_at,
        other_basis=(other_basis or "").strip(),
        recorded_by=actor,
        keep_until=keep_until(max(provided_on, timezone.localdate())),
    )
    provision.save()
    audit.record(
        "privacy.third_party.recorded",
        target=customer,
        actor=actor,
        data={"provision": provision.reference, "basis": basis, "items": provision.items},
    )
    return provision


def records_exist(customer_column: str = "pk"):
    """An expression, true when the customer named by ``customer_column`` has a provision
    record."""
    from django.db.models import Exists, OuterRef

    return Exists(ThirdPartyProvision.objects.filter(customer=OuterRef(customer_column)))


@prepared(customer_id=uuid.UUID)
def _provisions_of(customer_id):
    return (
        ThirdPartyProvision.objects.filter(customer=customer_id)
        .select_related("recorded_by", "deletion_proposed_by")
        .order_by("-provided_on", "-created_at")
    )


def for_customer(customer) -> list[ThirdPartyProvision]:
    """The customer's provision records, newest first, each knowing its customer."""
    records = _provisions_of(customer_id=customer.pk)
    for record in records:
        record.customer = customer
    return records


def manager_list(
    manager, *, expired_only=False, basis="", date_from=None, date_to=None
) -> list[ThirdPartyProvision]:
    """Every record, for the manager, oldest first, so that those past their keeping time
    come first. Each record has its own key: the caller decides their read
    (privacy.access.decisions, purpose ``third_party_review``), which also logs it."""
    if not roles.has_role(manager, roles.MANAGER):
        raise PermissionDenied
    records = ThirdPartyProvision.objects.select_related(
        "customer", "recorded_by", "deletion_proposed_by"
    ).order_by("keep_until", "created_at")
    if expired_only:
        records = records.filter(keep_until__lt=timezone.localdate())
    if basis:
        records = records.filter(basis=basis)
    if date_from:
        records = records.filter(provided_on__gte=date_from)
    if date_to:
        records = records.filter(provided_on__lte=date_to)
    return list(records[:500])


def _locked(provision_id) -> ThirdPartyProvision:
    return (
        ThirdPartyProvision.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=provision_id)
    )


def _ensure_expired(provision) -> None:
    if not provision.retention_expired:
        raise ProvisionRefused(
            _("This record must be kept until %(date)s.")
            % {"date": provision.keep_until.isoformat()}
        )


@transaction.atomic
def propose_deletion(*, provision_id, by) -> ThirdPartyProvision:
    """The manager proposes to delete a record past its keeping time; a second person
    approves."""
    if not roles.has_role(by, roles.MANAGER):
        raise PermissionDenied
    provision = _locked(provision_id)
    _ensure_expired(provision)
    provision.deletion_proposed_by = by
    provision.deletion_proposed_at = timezone.now()
    provision.save(update_fields=["deletion_proposed_by", "deletion_proposed_at"])
    audit.record(
        "privacy.third_party.deletion_proposed",
        target=provision.customer,
        actor=by,
        data={"provision": provision.reference},
    )
    return provision


@transaction.atomic
def approve_deletion(*, provision_id, by) -> None:
    """A second staff member approves: the record is deleted and the deletion logged. The
    proposer cannot approve."""
    two_person.require_counter_staff(by, PermissionDenied)
    provision = _locked(provision_id)
    _ensure_expired(provision)
    if provision.deletion_proposed_by_id is None:
        raise ProvisionRefused(_("The manager must propose the deletion first."))
    two_person.require_second_person(provision.deletion_proposed_by_id, by, ProvisionRefused)
    customer, reference = provision.customer, provision.reference
    proposed_by = provision.deletion_proposed_by_id
    provided_on, kept_until = provision.provided_on, provision.keep_until
    provision_key = provision.data_subject_id()
    provision.delete()
    datakeys.destroy(provision_key)  # nothing of it is readable anywhere, backups included
    audit.record(
        "privacy.third_party.deleted",
        target=customer,
        actor=by,
        data={
            "provision": reference,
            "provided_on": provided_on.isoformat(),
            "keep_until": kept_until.isoformat(),
            "proposed_by": proposed_by,
        },
    )
