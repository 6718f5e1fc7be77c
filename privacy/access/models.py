"""Why a person or team may see a customer, and the manager's hours overrides."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.core.querysets import AuditedManager


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
