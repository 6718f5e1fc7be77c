"""The records themselves: contractors and their supervision, which staff accounts belong to a
contractor, training sessions, and access reviews. Free text here (what a contractor handles,
what a check found, what a review changed) is the shop's own wording about its staff and
contractors, never a customer's data; the audit log names these rows, never their text."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from privacy.core import inbox
from privacy.staff import roles


class Contractor(models.Model):
    """An outside company that handles the shop's personal data for it (委託先): what data,
    for what, under which contract and confidentiality agreement."""

    name = models.CharField(_("company name"), max_length=200)
    data_handled = models.TextField(_("data handled"))
    purpose = models.TextField(_("purpose of the work"))
    contract_starts_on = models.DateField(_("contract starts on"))
    contract_ends_on = models.DateField(
        _("contract ends on"),
        null=True,
        blank=True,
        help_text=_("Its staff's accounts stop working after this day."),
    )
    confidentiality_agreed_on = models.DateField(
        _("confidentiality agreement signed on"), null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return f"Contractor {self.pk}"

    def contract_ended(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.contract_ends_on is not None and self.contract_ends_on < today


class CheckResult(models.TextChoices):
    SATISFACTORY = "satisfactory", _("Satisfactory")
    NEEDS_ACTION = "needs_action", _("Needs action")


class SupervisionCheck(models.Model):
    """One check of how a contractor handles the data (a visit, a questionnaire, a report)."""

    contractor = models.ForeignKey(Contractor, on_delete=models.PROTECT, related_name="checks")
    checked_on = models.DateField(_("checked on"))
    what_checked = models.TextField(_("what was checked"))
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("checked by"),
    )
    result = models.CharField(_("result"), max_length=20, choices=CheckResult.choices)
    findings = models.TextField(_("findings and follow-up"), blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-checked_on", "-pk"]

    def __str__(self):
        return f"SupervisionCheck {self.pk}"


class ContractorStaff(models.Model):
    """A staff account that belongs to a contractor's employee: it ends with the contract
    (``privacy.staff.records.contractors``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contractor_link"
    )
    contractor = models.ForeignKey(Contractor, on_delete=models.PROTECT, related_name="staff")
    linked_at = models.DateTimeField(default=timezone.now)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self):
        return f"ContractorStaff {self.user_id} of {self.contractor_id}"


class TrainingSession(models.Model):
    """A training session on handling personal data (従業者の教育), and who attended."""

    held_on = models.DateField(_("held on"), db_index=True)
    topic = models.CharField(_("topic"), max_length=200)
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", verbose_name=_("attendees")
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-held_on", "-pk"]

    def __str__(self):
        return f"TrainingSession {self.pk}"


class AccessReview(models.Model):
    """The manager reviewed who may see what, on this day, and says what was changed."""

    reviewed_on = models.DateField(_("reviewed on"), db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changes = models.TextField(_("what was changed"))
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-reviewed_on", "-pk"]

    def __str__(self):
        return f"AccessReview {self.pk}"


def access_review_due():
    """The day the next access review is due: ``BOOKSHOP_ACCESS_REVIEW_DAYS`` after the last
    one, or, before the first, after the shop's first account was made. None with no account."""
    days = timedelta(days=settings.BOOKSHOP_ACCESS_REVIEW_DAYS)
    last = AccessReview.objects.order_by("-reviewed_on").values_list("reviewed_on", flat=True)
    last = last.first()
    if last is not None:
        return last + days
    first_account = get_user_model().objects.aggregate(first=Min("date_joined"))["first"]
    if first_account is None:
        return None
    return timezone.localdate(first_account) + days


@inbox.register("access_review")
def _access_review_waiting(user) -> list[inbox.Waiting]:
    """The manager's share of the approvals inbox: the access review, once it is due (one
    query, two before the first review)."""
    if not roles.has_role(user, roles.MANAGER):
        return []
    due = access_review_due()
    if due is None or due > timezone.localdate():
        return []
    return [
        inbox.Waiting(
            kind="access_review",
            label=gettext("Access review due since %(date)s") % {"date": due.isoformat()},
            url=reverse("privacy:access_review"),
            since=timezone.make_aware(datetime.combine(due, time.min)),
        )
    ]
