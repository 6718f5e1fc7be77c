"""Plaintext and fernet mirrors of customers.Customer and customers.SpecialOrder: the same
columns, the same indexes on what is in clear (status, requested_at), and, for the plaintext
one, ordinary indexes on phone and kana (what a plaintext app would search on). The fernet
package cannot search: its lookups scan and decrypt. It stores an empty value as NULL, so its
optional columns are nullable."""

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from encrypted_fields.fields import EncryptedCharField
from encrypted_fields.fields import EncryptedTextField as FernetTextField

from customers.models import OPEN_STATUSES, ContactChannel, OrderStatus


class CustomerLike(models.Model):
    """What the templates read from a customer, as customers.Customer has it."""

    preferred_contact = models.CharField(
        max_length=10, choices=ContactChannel.choices, default=ContactChannel.PHONE
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)
    last_confirmed_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self):
        return f"Customer {self.reference}"

    def get_absolute_url(self):
        return reverse("customers:customer_detail", args=[self.pk])

    @property
    def reference(self) -> str:
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


class OrderLike(models.Model):
    quantity = models.PositiveSmallIntegerField(default=1)
    deposit_paid = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=12, choices=OrderStatus.choices, default=OrderStatus.REQUESTED
    )
    requested_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    notified_channel = models.CharField(
        max_length=10, choices=ContactChannel.choices, blank=True, default=""
    )
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        abstract = True

    def __str__(self):
        return f"Order {self.reference}"

    @property
    def reference(self) -> str:
        return f"O-{self.pk.hex[:8].upper()}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class PlainCustomer(CustomerLike):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    family_name = models.CharField(max_length=50)
    given_name = models.CharField(max_length=50, blank=True)
    family_name_kana = models.CharField(max_length=50, db_index=True)
    given_name_kana = models.CharField(max_length=50, blank=True)
    phone = models.CharField(max_length=20, db_index=True)
    email = models.CharField(max_length=254, blank=True)
    postal_code = models.CharField(max_length=8, blank=True)
    address = models.CharField(max_length=200, blank=True)
    notes = models.TextField(max_length=1000, blank=True)


class PlainOrder(OrderLike):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(PlainCustomer, on_delete=models.PROTECT, related_name="orders")
    title = models.CharField(max_length=300, blank=True)
    author = models.CharField(max_length=200, blank=True)
    publisher = models.CharField(max_length=200, blank=True)
    isbn = models.CharField(max_length=17, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "requested_at"])]


class FernetCustomer(CustomerLike):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    family_name = EncryptedCharField(max_length=50)
    given_name = EncryptedCharField(max_length=50, blank=True, null=True)
    family_name_kana = EncryptedCharField(max_length=50)
    given_name_kana = EncryptedCharField(max_length=50, blank=True, null=True)
    phone = EncryptedCharField(max_length=20)
    email = EncryptedCharField(max_length=254, blank=True, null=True)
    postal_code = EncryptedCharField(max_length=8, blank=True, null=True)
    address = EncryptedCharField(max_length=200, blank=True, null=True)
    notes = FernetTextField(max_length=1000, blank=True, null=True)


class FernetOrder(OrderLike):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(FernetCustomer, on_delete=models.PROTECT, related_name="orders")
    title = EncryptedCharField(max_length=300, blank=True, null=True)
    author = EncryptedCharField(max_length=200, blank=True, null=True)
    publisher = EncryptedCharField(max_length=200, blank=True, null=True)
    isbn = EncryptedCharField(max_length=17, blank=True, null=True)
    cancel_reason = EncryptedCharField(max_length=500, blank=True, null=True)

    class Meta:
        indexes = [models.Index(fields=["status", "requested_at"])]


class BenchMarker(models.Model):
    """One row: this database was made by the benchmark, at this size."""

    customers = models.BigIntegerField()
    orders = models.BigIntegerField()
    audit_entries = models.BigIntegerField()
    index_bits = models.PositiveSmallIntegerField()
    fernet = models.BooleanField()
    made_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"bench data: {self.customers} customers"


KINDS = {
    "plain": (PlainCustomer, PlainOrder),
    "fernet": (FernetCustomer, FernetOrder),
}
BASELINE_MODELS = [PlainCustomer, PlainOrder, FernetCustomer, FernetOrder, BenchMarker]
