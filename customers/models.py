import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from privacy.core.querysets import AuditedManager
from privacy.core.references import new_reference
from privacy.vault.blind_index import BlindIndexField
from privacy.vault.fields import EncryptedTextField


class ContactChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    COUNTER = "counter", _("At the counter")


class Customer(models.Model):
    """A customer of the shop. Every personal field is encrypted under the customer's own
    data key; the blind indexes let staff find them by exact phone, kana or email."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    family_name = EncryptedTextField(_("family name"), max_length=50, blank=False)
    given_name = EncryptedTextField(_("given name"), max_length=50)
    family_name_kana = EncryptedTextField(_("family name (kana)"), max_length=50, blank=False)
    given_name_kana = EncryptedTextField(_("given name (kana)"), max_length=50)
    phone = EncryptedTextField(_("phone"), max_length=20, blank=False)
    email = EncryptedTextField(_("email"), max_length=254)
    postal_code = EncryptedTextField(_("postal code"), max_length=8)
    address = EncryptedTextField(_("address"), max_length=200)
    notes = EncryptedTextField(_("notes"), max_length=1000, multiline=True)
    preferred_contact = models.CharField(
        _("preferred contact"),
        max_length=10,
        choices=ContactChannel.choices,
        default=ContactChannel.PHONE,
    )
    phone_bidx = BlindIndexField(source="phone", normalizer="phone")
    phone_last4_bidx = BlindIndexField(source="phone", normalizer="phone_last4")
    email_bidx = BlindIndexField(source="email", normalizer="email")
    family_name_kana_bidx = BlindIndexField(source="family_name_kana", normalizer="kana")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Optimistic locking: a save based on an older version is refused, never silently merged.
    version = models.PositiveIntegerField(default=1, editable=False)
    # When a clerk last confirmed the details with the customer (accuracy, APPI art. 22).
    last_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the customer's data was erased (crypto-shredded); the row stays for sales figures.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AuditedManager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["family_name_kana_bidx", "phone_last4_bidx"]),
        ]

    def __str__(self):
        # Never personal data: this string reaches logs and the audit trail.
        return f"Customer {self.reference}"

    def get_absolute_url(self):
        return reverse("customers:customer_detail", args=[self.pk])

    def data_subject_id(self):
        return self.pk

    @property
    def reference(self) -> str:
        """A short pseudonymous reference, safe to show to the administrator."""
        return f"C-{self.pk.hex[:8].upper()}"

    @property
    def display_name(self) -> str:
        return f"{self.family_name} {self.given_name}".strip()

    @property
    def display_kana(self) -> str:
        return f"{self.family_name_kana} {self.given_name_kana}".strip()

    @property
    def masked_phone(self) -> str:
        digits = "".join(ch for ch in self.phone or "" if ch.isdigit())
        return "•••-••••-" + digits[-4:] if digits else ""


class OrderStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ORDERED = "ordered", _("Ordered from distributor")
    ARRIVED = "arrived", _("Arrived")
    NOTIFIED = "notified", _("Customer notified")
    PICKED_UP = "picked_up", _("Picked up")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATUSES = (
    OrderStatus.REQUESTED,
    OrderStatus.ORDERED,
    OrderStatus.ARRIVED,
    OrderStatus.NOTIFIED,
)


class SpecialOrder(models.Model):
    """A special order (取り寄せ注文). What a person reads can reveal health, beliefs or
    politics, so the book's details are encrypted under the customer's key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    title = EncryptedTextField(_("title"), max_length=300)
    author = EncryptedTextField(_("author"), max_length=200)
    publisher = EncryptedTextField(_("publisher"), max_length=200)
    isbn = EncryptedTextField(_("ISBN"), max_length=17)
    isbn_bidx = BlindIndexField(source="isbn", normalizer="isbn")
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    deposit_paid = models.PositiveIntegerField(_("deposit paid (yen)"), default=0)
    status = models.CharField(
        _("status"), max_length=12, choices=OrderStatus.choices, default=OrderStatus.REQUESTED
    )
    requested_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ordered_at = models.DateTimeField(null=True, blank=True)
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    arrived_at = models.DateTimeField(null=True, blank=True)
    arrived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notified_channel = models.CharField(
        max_length=10, choices=ContactChannel.choices, blank=True, default=""
    )
    picked_up_at = models.DateTimeField(null=True, blank=True)
    picked_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = EncryptedTextField(_("reason for cancelling"), max_length=500)
    # The arrival-notice mail's state (customers/outbox.py), kept on the order so that the
    # board shows it without a query per card; blank when no mail was asked for.
    notice_mail = models.CharField(max_length=10, blank=True, default="")
    # Set when retention cleared the book details of this closed order (privacy/retention.py).
    details_cleared_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = AuditedManager()

    class Meta:
        verbose_name = _("special order")
        verbose_name_plural = _("special orders")
        indexes = [models.Index(fields=["status", "requested_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1, quantity__lte=99),
                name="order_quantity_1_to_99",
                violation_error_message=_("The quantity must be between 1 and 99."),
            ),
        ]

    def __str__(self):
        return f"Order O-{self.pk.hex[:8].upper()}"

    def get_absolute_url(self):
        return reverse("customers:customer_detail", args=[self.customer_id])

    def data_subject_id(self):
        return self.customer_id

    @property
    def reference(self) -> str:
        return f"O-{self.pk.hex[:8].upper()}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CustomerUserObjectPermission(UserObjectPermissionBase):
    """Guardian's direct foreign-key permission: one staff member may see one customer."""

    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE)


class CustomerGroupObjectPermission(GroupObjectPermissionBase):
    """Guardian's direct foreign-key permission: one team may see one customer."""

    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE)


class PrintKind(models.TextChoices):
    PICKUP_LIST = "pickup_list", _("Pickup list")
    ORDER_SLIP = "order_slip", _("Order slip")


def _print_id() -> str:
    return new_reference("P")


class PrintJob(models.Model):
    """One printed pickup list or order slip. Its print id is on every page, so a sheet found
    lying around leads back to who printed it, when, and whose orders were on it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    print_id = models.CharField(max_length=12, unique=True, default=_print_id, editable=False)
    kind = models.CharField(max_length=12, choices=PrintKind.choices)
    printed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    printed_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Customers on the sheet (orders can share a customer).
    count = models.PositiveIntegerField(default=0)
    orders = models.ManyToManyField(SpecialOrder, related_name="print_jobs")
    # The printer's first look at the page is the print itself; any later look is logged.
    first_opened_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-printed_at"]

    def __str__(self):
        return f"PrintJob {self.print_id}"


# --- Arrival notices by mail: the outbox (customers/outbox.py) -------------------------------


class NoticeMail(models.TextChoices):
    """Where an order's arrival-notice mail stands (shown on the order's card)."""

    QUEUED = "queued", _("Notice mail queued")
    SENT = "sent", _("Notice mail sent")
    FAILED = "failed", _("Notice mail failed")
    # The order closed, or the clerk told the customer by phone instead: never sent.
    WITHDRAWN = "withdrawn", _("Notice mail withdrawn")


class OutboxMessage(models.Model):
    """One mail waiting to go out, written in the same transaction as the order's step. It
    holds no personal data and no rendered text: the worker decides as ``queued_by``, through
    the gate, then renders and sends (customers/outbox.py says why)."""

    ARRIVAL_NOTICE = "arrival_notice"
    KINDS = [(ARRIVAL_NOTICE, _("Arrival notice"))]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=KINDS, default=ARRIVAL_NOTICE)
    order = models.ForeignKey(SpecialOrder, on_delete=models.PROTECT, related_name="+")
    queued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    queued_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=NoticeMail.choices, default=NoticeMail.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # The exception's class name only (never its message: an SMTP refusal quotes addresses).
    last_error = models.CharField(max_length=80, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"OutboxMessage {self.kind} {self.pk.hex[:8].upper()}"


# --- Book details found by ISBN (customers/isbn.py) ----------------------------------------


class BookInfo(models.Model):
    """A cached answer of openBD or NDL Search. Book details are not personal data, but
    which books the shop looked up, and when, could be matched with an order's date: the row
    is found by a keyed hash of the ISBN and its details are sealed (customers/isbn.py)."""

    isbn_hash = models.CharField(max_length=64, unique=True)
    sealed = models.BinaryField()
    source = models.CharField(max_length=10)
    fetched_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"BookInfo {self.isbn_hash[:8]}"
