"""Purpose-of-use notices, what each customer was told and chose, suspensions, and
records of data given to third parties."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.core.querysets import AuditedManager
from privacy.vault.fields import EncryptedTextField


class NoticeMethod(models.TextChoices):
    SCREEN = "screen", _("Shown on the screen")
    PRINTED = "printed", _("Printed notice handed over")
    READ_ALOUD = "read_aloud", _("Read aloud")


class PurposeNotice(models.Model):
    """A version of the purpose-of-use notice (利用目的の通知). ``purposes`` is a list of
    {"code", "ja", "en", "optional"}; an optional purpose needs the customer's yes."""

    version = models.PositiveIntegerField(unique=True)
    text_ja = models.TextField(_("notice (Japanese)"))
    text_en = models.TextField(_("notice (English)"))
    purposes = models.JSONField(default=list)
    effective_from = models.DateField(_("effective from"))
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]

    def __str__(self):
        return f"PurposeNotice v{self.version}"

    @property
    def codes(self) -> set[str]:
        return {p["code"] for p in self.purposes}

    @property
    def optional_codes(self) -> set[str]:
        return {p["code"] for p in self.purposes if p.get("optional")}


class NoticeRecord(models.Model):
    """How and when one customer was told the purposes, and what they chose."""

    customer = models.ForeignKey(
        settings.SHIORI_SUBJECT_MODEL, on_delete=models.CASCADE, related_name="notice_records"
    )
    notice = models.ForeignKey(PurposeNotice, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=12, choices=NoticeMethod.choices)
    choices = models.JSONField(default=dict)
    told_at = models.DateTimeField(default=timezone.now)
    told_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["customer", "-told_at"])]

    def __str__(self):
        return f"NoticeRecord {self.pk}"


class PurposeSuspension(models.Model):
    """The customer asked to stop one use of their data (利用停止)."""

    customer = models.ForeignKey(
        settings.SHIORI_SUBJECT_MODEL, on_delete=models.CASCADE, related_name="suspensions"
    )
    purpose = models.CharField(max_length=40)
    since = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Lifting: the manager, and why (the audit log says it was lifted, not the reason's words).
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lift_reason = models.CharField(_("reason for lifting"), max_length=200, blank=True)

    def __str__(self):
        return f"PurposeSuspension {self.purpose}"


class ProvisionBasis(models.TextChoices):
    CONSENT = "consent", _("The customer's consent")
    OTHER = "other", _("Another legal basis (recorded by the manager)")


class ProvidedItem(models.TextChoices):
    NAME = "name", _("Name")
    KANA = "kana", _("Name in kana")
    PHONE = "phone", _("Phone number")
    EMAIL = "email", _("Email address")
    ADDRESS = "address", _("Postal code and address")
    ORDER = "order", _("What they ordered (title, ISBN)")


class ThirdPartyProvision(models.Model):
    """A record of personal data given to a third party (第三者提供記録, APPI art. 29), for
    example a distributor delivering straight to the customer. Kept for three years from the
    day it is recorded; then flagged for review and deleted with a second person's approval.

    The record has its own data key, not the customer's: the law keeps it for its three years
    even when the customer is erased (by request or by retention), so crypto-shredding the
    customer must leave it readable. It therefore carries the customer's name as it was when
    the data was given, which is what the record must identify (Enforcement Rules art. 20)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(
        settings.SHIORI_SUBJECT_MODEL,
        on_delete=models.PROTECT,
        related_name="third_party_provisions",
    )
    subject_name = EncryptedTextField(_("customer's name when the data was given"), max_length=200)
    recipient = EncryptedTextField(_("recipient"), max_length=200, blank=False)
    recipient_details = EncryptedTextField(
        _("recipient's address or other details"), max_length=300
    )
    items = models.JSONField(_("data given"), default=list)
    purpose = EncryptedTextField(_("purpose of the provision"), max_length=500, blank=False)
    provided_on = models.DateField(_("provided on"))
    basis = models.CharField(_("basis"), max_length=10, choices=ProvisionBasis.choices)
    consent_obtained_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    other_basis = EncryptedTextField(_("legal basis"), max_length=500)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    keep_until = models.DateField(_("kept until"), db_index=True)
    deletion_proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deletion_proposed_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedManager()

    class Meta:
        verbose_name = _("third-party provision record")
        verbose_name_plural = _("third-party provision records")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(basis="other") | models.Q(consent_obtained_at__isnull=False),
                name="provision_consent_has_a_time",
            )
        ]

    def __str__(self):
        return f"ThirdPartyProvision {self.reference}"

    def data_subject_id(self):
        return self.pk

    @property
    def reference(self) -> str:
        return f"T-{self.pk.hex[:8].upper()}"

    @property
    def retention_expired(self) -> bool:
        return self.keep_until < timezone.localdate()

    def item_labels(self) -> list[str]:
        labels = dict(ProvidedItem.choices)
        return [str(labels.get(code, code)) for code in self.items]
