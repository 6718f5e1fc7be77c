import uuid

from auditlog.models import AbstractLogEntry
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.fields import EncryptedTextField
from privacy.querysets import AuditedManager
from privacy.references import new_reference


class DataKey(models.Model):
    """One data subject's data key (DEK), wrapped by a key-encryption key from the keyring.

    Deleting the row crypto-shreds every value encrypted under it, wherever a copy lies.
    """

    subject_id = models.UUIDField(primary_key=True)
    kek_id = models.CharField(max_length=64, db_index=True)
    wrapped = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("data key")

    def __str__(self):
        return f"DataKey {self.subject_id} ({self.kek_id})"


class KeyCanary(models.Model):
    """A known value sealed under one key-encryption key and the index root. At start-up it
    must open with the configured keyring, or the keyring does not belong to this database."""

    kek_id = models.CharField(max_length=64, primary_key=True)
    sealed = models.BinaryField()
    index_check = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"KeyCanary {self.kek_id}"


class AuditLogEntry(AbstractLogEntry):
    """django-auditlog's log entry, chained by hash so that any change, gap or cut shows.

    Holds the write log (create, update, delete), the read log (access) and events such as
    logins and grants, each named by a dotted ``event``.
    """

    # Every page writes a batch of entries, and each index costs each entry a B-tree
    # insert: auditlog's indexes that no query here uses are left off (action, object_id,
    # cid) or folded (object_pk: the (object_pk, timestamp) index finds a customer's
    # entries, a pattern index the prefix search of the audit review).
    object_pk = models.CharField(max_length=255, verbose_name=_("object pk"))
    object_id = models.BigIntegerField(blank=True, null=True, verbose_name=_("object id"))
    action = models.PositiveSmallIntegerField(
        choices=AbstractLogEntry.Action.choices, verbose_name=_("action")
    )
    cid = models.CharField(max_length=255, blank=True, null=True, verbose_name=_("Correlation ID"))
    event = models.CharField(max_length=80, db_index=True, blank=True)
    seq = models.BigIntegerField(unique=True, null=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    entry_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log entries")
        indexes = [
            models.Index(fields=["object_pk", "timestamp"]),
            models.Index(  # object_pk LIKE 'prefix%' on PostgreSQL (a plain index on SQLite)
                fields=["object_pk"],
                name="privacy_audit_object_pk_like",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def save(self, *args, **kwargs):
        from privacy import audit_chain

        if self._state.adding and self.seq is None:
            audit_chain.append([self])
            return
        raise ValueError("Audit log entries are append-only.")


class GrantKind(models.TextChoices):
    ORDER = "order", _("Open special order")
    MANUAL = "manual", _("Granted by the manager")


class AccessGrant(models.Model):
    """Why a person or team may see one customer. Mirrors the guardian permission row that
    enforces it, with the reason, who granted it, and when it ends."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="access_grants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=GrantKind.choices)
    reason = models.CharField(_("reason"), max_length=200)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AuditedManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, group__isnull=True)
                    | models.Q(user__isnull=True, group__isnull=False)
                ),
                name="grant_to_user_or_group",
            )
        ]
        indexes = [  # the grants in force by their end: the next one due is its first entry
            models.Index(
                fields=["expires_at"],
                condition=models.Q(revoked_at__isnull=True),
                name="privacy_grant_in_force_end",
            )
        ]

    def __str__(self):
        return f"AccessGrant {self.pk}"

    @property
    def grantee(self):
        return self.user or self.group

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )


class AuditVerification(models.Model):
    """The result of one run of ``verify_audit_log``, for the administrator's chain panel."""

    ran_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    entries = models.BigIntegerField()
    head_seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    problem = models.TextField(blank=True)

    class Meta:
        get_latest_by = "ran_at"

    def __str__(self):
        return f"AuditVerification {self.ran_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'BROKEN'}"


class HoursOverride(models.Model):
    """The manager opens customer data outside business hours for a short time, with a reason."""

    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"HoursOverride until {self.ends_at:%Y-%m-%d %H:%M}"


class StaffProfile(models.Model):
    """What Django's user lacks for a shop: an end date for part-time staff and outside
    contractors, and a moment before which every session of the account is void."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    valid_until = models.DateField(_("account ends on"), null=True, blank=True)
    sessions_revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"StaffProfile {self.user_id}"


class HandlingRules(models.Model):
    """The shop's rules for handling customer data, written by the manager. Each staff
    member acknowledges the current version before reading customer data."""

    version = models.PositiveIntegerField(unique=True)
    text = models.TextField(_("rules"))
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        get_latest_by = "version"

    def __str__(self):
        return f"HandlingRules v{self.version}"


class RulesAcknowledgement(models.Model):
    rules = models.ForeignKey(
        HandlingRules, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rules", "user"], name="acknowledge_rules_once")
        ]

    def __str__(self):
        return f"RulesAcknowledgement v{self.rules.version} by {self.user_id}"


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
        "customers.Customer", on_delete=models.CASCADE, related_name="notice_records"
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
        "customers.Customer", on_delete=models.CASCADE, related_name="suspensions"
    )
    purpose = models.CharField(max_length=40)
    since = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self):
        return f"PurposeSuspension {self.purpose}"


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
        "customers.Customer", on_delete=models.PROTECT, related_name="third_party_provisions"
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
