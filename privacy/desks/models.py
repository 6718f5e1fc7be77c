"""The manager's desks: customers' requests, disclosure releases, retention batches and
bulk exports."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.core.querysets import AuditedManager
from privacy.core.references import new_reference
from privacy.vault.fields import EncryptedTextField


def _request_reference() -> str:
    return new_reference("R")


class RequestKind(models.TextChoices):
    DISCLOSURE = "disclosure", _("Disclosure of the data we hold (開示)")
    CORRECTION = "correction", _("Correction, addition or deletion (訂正等)")
    SUSPENSION = "suspension", _("Stop using the data (利用停止)")
    ERASURE = "erasure", _("Erase the data (消去)")
    THIRD_PARTY_STOP = (
        "third_party_stop",
        _("Stop giving the data to third parties (第三者提供停止)"),
    )
    COMPLAINT = "complaint", _("Complaint (苦情)")


class RequestStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    IDENTITY_VERIFIED = "identity_verified", _("Identity verified")
    IN_PROGRESS = "in_progress", _("In progress")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    COMPLETED = "completed", _("Completed")
    REJECTED = "rejected", _("Rejected")


class IdentityMethod(models.TextChoices):
    DRIVING_LICENCE = "driving_licence", _("Driving licence seen at the counter")
    INSURANCE_CARD = "insurance_card", _("Health insurance card seen at the counter")
    PASSPORT = "passport", _("Passport seen at the counter")
    RESIDENCE_CARD = "residence_card", _("Residence card seen at the counter")
    REGISTERED_CONTACT = "registered_contact", _("Answered through the contact details on record")
    OTHER = "other", _("Other method")


class DataRequest(models.Model):
    """A customer's request about their data, or a complaint. What the person wrote is
    encrypted under the request's own key. Identity checks record the method, never an
    image or number of the document."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(
        max_length=12, unique=True, default=_request_reference, editable=False
    )
    kind = models.CharField(_("type"), max_length=20, choices=RequestKind.choices)
    channel = models.CharField(
        max_length=10, choices=[("counter", _("At the counter")), ("web", _("Web form"))]
    )
    requester_name = EncryptedTextField(_("name"), max_length=100, blank=False)
    requester_contact = EncryptedTextField(_("how to reach them"), max_length=200, blank=False)
    details = EncryptedTextField(_("what they ask"), max_length=4000, multiline=True)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
    )
    status = models.CharField(
        max_length=20, choices=RequestStatus.choices, default=RequestStatus.RECEIVED
    )
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    due_date = models.DateField(db_index=True)
    extension_reason = EncryptedTextField(_("reason for the extension"), max_length=500)
    identity_method = models.CharField(max_length=20, choices=IdentityMethod.choices, blank=True)
    identity_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    identity_checked_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proposed_outcome = models.CharField(max_length=10, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The staff member the manager chose to approve the proposal (None: any other member of
    # the counter staff may). Only they see it waiting, and only they may approve it.
    second_person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("second person"),
    )
    # The uses of the customer's data this request stopped (purpose codes), so the request
    # shows them; each stop itself is a consent.PurposeSuspension.
    stopped_purposes = models.JSONField(default=list, blank=True)
    reply = EncryptedTextField(_("reply to the person"), max_length=4000, multiline=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedManager()

    class Meta:
        indexes = [models.Index(fields=["status", "due_date"])]

    def __str__(self):
        return f"Request {self.reference}"

    def data_subject_id(self):
        return self.pk

    @property
    def is_open(self) -> bool:
        return self.status not in (RequestStatus.COMPLETED, RequestStatus.REJECTED)

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_date < timezone.localdate()


class DisclosureRelease(models.Model):
    """A one-time, expiring link to a customer's disclosure package. Only a hash of the
    token is stored; the package itself is built in memory when the link is opened."""

    request = models.OneToOneField(DataRequest, on_delete=models.CASCADE, related_name="release")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"DisclosureRelease {self.pk}"


def _batch_reference() -> str:
    return new_reference("B")


class ApprovalStatus(models.TextChoices):
    PROPOSED = "proposed", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
    DONE = "done", _("Done")


class RetentionBatch(models.Model):
    """Customers and closed orders whose retention period has ended, frozen when the manager
    proposes the batch. Nothing is erased until a second person approves it, and each one is
    checked again then: a customer who ordered in between is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(
        max_length=12, unique=True, default=_batch_reference, editable=False
    )
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PROPOSED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    # Primary keys (strings) of the customers to erase and of the orders to clear.
    customer_ids = models.JSONField(default=list)
    order_ids = models.JSONField(default=list)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    customers_erased = models.PositiveIntegerField(default=0)
    customers_kept = models.PositiveIntegerField(default=0)
    orders_cleared = models.PositiveIntegerField(default=0)
    orders_kept = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-proposed_at"]

    def __str__(self):
        return f"RetentionBatch {self.reference}"

    @property
    def customer_count(self) -> int:
        return len(self.customer_ids)

    @property
    def order_count(self) -> int:
        return len(self.order_ids)


def _export_reference() -> str:
    return new_reference("E")


class ExportScope(models.TextChoices):
    ALL = "all", _("Every customer")
    ORDERED_BETWEEN = "ordered_between", _("Customers with an order placed between two dates")


class ExportRequest(models.Model):
    """A bulk export of customers' personal data: asked for with a reason, approved by a
    second person, downloaded once by the person who asked, within a short window. The
    customers are frozen when it is asked for, so the approver approves exactly them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(
        max_length=12, unique=True, default=_export_reference, editable=False
    )
    scope = models.CharField(_("which customers"), max_length=20, choices=ExportScope.choices)
    date_from = models.DateField(_("from"), null=True, blank=True)
    date_to = models.DateField(_("to"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PROPOSED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    customer_ids = models.JSONField(default=list)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    download_until = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    customers_exported = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self):
        return f"ExportRequest {self.reference}"

    @property
    def customer_count(self) -> int:
        return len(self.customer_ids)

    @property
    def may_download_now(self) -> bool:
        return (
            self.status == ApprovalStatus.APPROVED
            and self.downloaded_at is None
            and self.download_until is not None
            and self.download_until > timezone.now()
        )
