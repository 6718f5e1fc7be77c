"""What Django's user lacks for a shop: an end date, handling rules and their acknowledgement."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.core.references import new_reference


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


class SetupLink(models.Model):
    """A one-time link with which a person sets their own password (and enrols their
    authenticator where their role needs one): for a new account, or after the administrator
    reset one. Only a hash of the link's token is kept, never the token itself
    (``privacy.staff.setup_links``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="setup_links"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Set once: when the person used it, or when it stopped counting (a newer link, expiry).
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    authenticator_reset = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["user", "used_at", "voided_at"])]

    def __str__(self):
        return f"SetupLink {self.pk} for {self.user_id}"


class Terminal(models.Model):
    """One of the shop's own computers (a counter PC, the office PC), registered from that
    computer by the manager: customer data is shown only to a browser holding its signed
    device cookie (``privacy.staff.terminals``). Only hashes of the cookie's secret are kept:
    the current one and, for a minute after each rotation, the one before."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("terminal name"), max_length=60)
    secret_hash = models.CharField(max_length=64, editable=False)
    previous_secret_hash = models.CharField(max_length=64, blank=True, editable=False)
    rotated_at = models.DateTimeField(default=timezone.now)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    def __str__(self):
        return f"Terminal {self.name}"


# --- Second person (issue 15): what one person proposes and another confirms -------------


class ProposalKind(models.TextChoices):
    ROLE = "role", _("Role or team")
    GRANT_SELF = "grant_self", _("Manager's own access to a customer")
    HOURS = "hours", _("Customer data open outside business hours")


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for confirmation")
    CONFIRMED = "confirmed", _("Confirmed")
    REFUSED = "refused", _("Refused")
    EXPIRED = "expired", _("Expired")
    WITHDRAWN = "withdrawn", _("Withdrawn")


def _proposal_reference() -> str:
    return new_reference("K")


class SecondPersonProposal(models.Model):
    """A step that widens who sees customer data, waiting for a second person
    (``privacy.staff.proposals``): a role or team for an account (its group membership is
    added only on confirmation, so every access check, which reads groups, stays as it is),
    the manager's access to a customer for themselves, and a long opening outside business
    hours. Holds references and the proposer's reason, never customer data."""

    reference = models.CharField(
        max_length=12, unique=True, default=_proposal_reference, editable=False
    )
    kind = models.CharField(max_length=12, choices=ProposalKind.choices)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="role_proposals",
    )
    group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        settings.SHIORI_SUBJECT_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    minutes = models.PositiveIntegerField(null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The proposer's role when they proposed: who may confirm depends on it.
    proposed_as = models.CharField(max_length=20)
    proposed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "group"],
                condition=models.Q(status="pending", kind="role"),
                name="privacy_one_pending_role_proposal",
            ),
            models.UniqueConstraint(
                fields=["proposed_by", "customer"],
                condition=models.Q(status="pending", kind="grant_self"),
                name="privacy_one_pending_grant_self",
            ),
        ]

    def __str__(self):
        return f"SecondPersonProposal {self.reference}"

    @property
    def is_pending(self) -> bool:
        return self.status == ProposalStatus.PENDING

    @property
    def customer_reference(self) -> str:
        """The customer's short reference (as Customer.reference), without loading the row."""
        return f"C-{self.customer_id.hex[:8].upper()}" if self.customer_id else ""
