"""The incident register (漏えい等): what happened, who may be affected, whether the PPC must
be told, by when, and whether the affected customers have been told.

What happened (``summary``) is free text that may mention customers: it is encrypted under
the incident's own data key (like a customer's request) and shown to the manager only, never
to the administrator. Staff are asked to name customers in the affected list, not there.
The affected list links customers by id and holds no personal value; the administrator sees
its count, never the customers.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from privacy.core.querysets import AuditedManager
from privacy.core.references import new_reference
from privacy.incidents import rules
from privacy.vault.fields import EncryptedTextField


def _reference() -> str:
    return new_reference("I")


class IncidentStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("incident", "Open")
    CLOSED = "closed", _("Closed")


class NoticeMethod(models.TextChoices):
    LETTER = "letter", _("Letter")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    IN_PERSON = "in_person", _("In person")
    PUBLIC = "public", _("Public announcement (the person could not be reached)")


class SelectedBy(models.TextChoices):
    ALL = "all", _("All customers")
    REFERENCE = "reference", _("Picked by reference")
    STAFF_ACTIVITY = "staff_activity", _("Touched by a staff member (audit log)")


class Incident(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=12, unique=True, default=_reference, editable=False)
    discovered_at = models.DateTimeField(
        _("found at"),
        help_text=_("When the shop learnt of it (the deadlines count from this day)."),
    )
    summary = EncryptedTextField(
        _("what happened"),
        max_length=4000,
        multiline=True,
        blank=False,
        help_text=_(
            "What, how, which data. Do not write customers' names here: add them to the "
            "affected list."
        ),
    )
    sensitive_data = models.BooleanField(
        _("sensitive data (要配慮個人情報) may be involved"), default=False
    )
    property_damage = models.BooleanField(
        _("the data could cause financial loss if misused"),
        default=False,
        help_text=_("Card numbers, bank accounts with passwords and the like."),
    )
    malicious = models.BooleanField(
        _("it may have been done on purpose (不正の目的)"),
        default=False,
        help_text=_("Unauthorized access, theft, a staff member taking data out."),
    )
    over_thousand = models.BooleanField(
        _("more than 1,000 people may be affected"),
        default=False,
        help_text=_("Tick it when the number is not known yet but may be over 1,000."),
    )
    encrypted_with_key_safe = models.BooleanField(
        _("the data was protected by strong encryption and the key did not leak"),
        default=False,
        help_text=_(
            "Shiori's database and backups are encrypted: a stolen copy without the keyring "
            "counts. A printed list, a photo of a screen or a leaked keyring does not."
        ),
    )
    status = models.CharField(
        max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN, db_index=True
    )
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    preliminary_reported_at = models.DateTimeField(null=True, blank=True, editable=False)
    preliminary_reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    final_reported_at = models.DateTimeField(null=True, blank=True, editable=False)
    final_reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )

    objects = AuditedManager()

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-discovered_at"]

    def __str__(self):
        return f"Incident {self.reference}"

    def data_subject_id(self):
        return self.pk

    @property
    def is_open(self) -> bool:
        return self.status == IncidentStatus.OPEN

    @cached_property
    def affected_count(self) -> int:
        annotated = self.__dict__.get("n_affected")
        return annotated if annotated is not None else self.affected.count()

    @cached_property
    def pending_notices(self) -> int:
        annotated = self.__dict__.get("n_pending")
        if annotated is not None:
            return annotated
        return self.affected.filter(notified_on__isnull=True).count()

    @property
    def more_than_thousand(self) -> bool:
        return rules.over_thousand(declared=self.over_thousand, affected_count=self.affected_count)

    @property
    def categories(self) -> list:
        return rules.categories(
            sensitive=self.sensitive_data,
            property_damage=self.property_damage,
            malicious=self.malicious,
            more_than_thousand=self.more_than_thousand,
        )

    @property
    def report_required(self) -> bool:
        return rules.report_required(
            self.categories, encrypted_with_key_safe=self.encrypted_with_key_safe
        )

    @property
    def notice_required(self) -> bool:
        """APPI art. 26(2): the persons are told in the same cases as the PPC."""
        return self.report_required

    @property
    def deadlines(self) -> rules.Deadlines:
        return rules.deadlines(self.discovered_at, malicious=self.malicious)

    @property
    def preliminary_done(self) -> bool:
        return self.preliminary_reported_at is not None or self.final_reported_at is not None

    @property
    def final_done(self) -> bool:
        return self.final_reported_at is not None


class AffectedCustomer(models.Model):
    """A customer whose data may have leaked in an incident, and the notice they were given.
    Only the link: no personal value, so erasure leaves it (the register must still count
    them); the customer's page shows the data to those granted it."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="affected")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="incident_links"
    )
    selected_by = models.CharField(max_length=20, choices=SelectedBy.choices)
    added_at = models.DateTimeField(default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    notified_on = models.DateField(null=True, blank=True)
    notice_method = models.CharField(max_length=12, choices=NoticeMethod.choices, blank=True)
    notice_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "customer"], name="affected_once")
        ]
        indexes = [models.Index(fields=["incident", "notified_on"])]

    def __str__(self):
        return f"AffectedCustomer {self.customer_reference}"

    @property
    def customer_reference(self) -> str:
        """The customer's pseudonymous reference, without loading the customer."""
        return f"C-{self.customer_id.hex[:8].upper()}"
