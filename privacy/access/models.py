"""Why a person or team may see a customer, and the manager's hours overrides."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from privacy.core import inbox
from privacy.core.querysets import AuditedManager
from privacy.core.references import new_reference
from privacy.staff import roles


class GrantKind(models.TextChoices):
    ORDER = "order", _("Open special order")
    MANUAL = "manual", _("Granted by the manager")


class AccessGrant(models.Model):
    """Why a person or team may see one customer. Mirrors the guardian permission row that
    enforces it, with the reason, who granted it, and when it ends."""

    customer = models.ForeignKey(
        settings.SHIORI_SUBJECT_MODEL, on_delete=models.CASCADE, related_name="access_grants"
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


class AccessOutcome(models.TextChoices):
    PENDING = "pending", _("Waiting for the manager")
    GRANTED = "granted", _("Access granted")
    REFUSED = "refused", _("Refused")


def _access_request_reference() -> str:
    return new_reference("A")


class AccessRequest(models.Model):
    """A clerk asks the manager to see a customer they may not see: filed when a new
    customer typed at the counter matches, by phone and reading, a record hidden from the
    clerk, so that no second record is made. The clerk is told only that a request went to
    the manager, never anything of the record; the manager grants (an AccessGrant, through
    ``privacy.access.grants``) or refuses (privacy.access.requests)."""

    reference = models.CharField(
        max_length=12, unique=True, default=_access_request_reference, editable=False
    )
    customer = models.ForeignKey(
        settings.SHIORI_SUBJECT_MODEL, on_delete=models.CASCADE, related_name="access_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(
        max_length=10, choices=AccessOutcome.choices, default=AccessOutcome.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    grant = models.ForeignKey(
        AccessGrant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AuditedManager()

    class Meta:
        indexes = [models.Index(fields=["outcome", "created_at"])]
        constraints = [  # one open request per clerk and customer
            models.UniqueConstraint(
                fields=["customer", "requested_by"],
                condition=models.Q(outcome="pending"),
                name="privacy_one_pending_access_request",
            )
        ]

    def __str__(self):
        return f"AccessRequest {self.reference}"

    @property
    def is_pending(self) -> bool:
        return self.outcome == AccessOutcome.PENDING

    @property
    def customer_reference(self) -> str:
        """The customer's short reference (as Customer.reference), without loading the row."""
        return f"C-{self.customer_id.hex[:8].upper()}"


@inbox.register("access_request")
def _access_requests_waiting(user) -> list[inbox.Waiting]:
    """The manager's share of the approvals inbox: clerks' access requests not decided yet
    (labels and links only; the customer is not named)."""
    if not roles.has_role(user, roles.MANAGER):
        return []
    pending = (
        AccessRequest.objects.filter(outcome=AccessOutcome.PENDING)
        .order_by("created_at")
        .values_list("pk", "reference", "created_at")
    )
    return [
        inbox.Waiting(
            kind="access_request",
            label=gettext("Access request %(ref)s") % {"ref": reference},
            url=reverse("privacy:access_request", args=[pk]),
            since=created_at,
        )
        for pk, reference, created_at in pending
    ]
