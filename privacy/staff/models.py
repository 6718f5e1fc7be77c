"""What Django's user lacks for a shop: an end date, handling rules and their acknowledgement."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
