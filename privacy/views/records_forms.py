"""Forms of the records pages: access reviews, contractors and their checks, training."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.staff.records.models import CheckResult, Contractor


def _date(label, *, required=True, help_text=""):
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _staff_label(user) -> str:
    """Family name first, as staff are called in the shop, and the username."""
    name = f"{user.last_name} {user.first_name}".strip()
    return f"{name} ({user.username})" if name else user.username


class StaffChoice(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return _staff_label(user)


class StaffChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user):
        return _staff_label(user)


def _staff():
    return get_user_model().objects.filter(is_active=True).order_by("last_name", "username")


class NotInTheFuture:
    def clean_day(self, name):
        day = self.cleaned_data[name]
        if day and day > timezone.localdate():
            raise forms.ValidationError(_("This day has not come yet."))
        return day


class AccessReviewForm(NotInTheFuture, forms.Form):
    reviewed_on = _date(_("Reviewed on"))
    changes = forms.CharField(
        label=_("What was changed"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Accounts deactivated, roles or grants removed, or “no change” with what you "
            "checked. Do not write customers' data here."
        ),
    )

    def clean_reviewed_on(self):
        return self.clean_day("reviewed_on")


class ContractorForm(forms.ModelForm):
    class Meta:
        model = Contractor
        fields = [
            "name",
            "data_handled",
            "purpose",
            "contract_starts_on",
            "contract_ends_on",
            "confidentiality_agreed_on",
        ]
        widgets = {
            "data_handled": forms.Textarea(attrs={"rows": 2}),
            "purpose": forms.Textarea(attrs={"rows": 2}),
            "contract_starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "contract_ends_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "confidentiality_agreed_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {
            "data_handled": _("For example: customers' names and addresses for delivery."),
            "purpose": _("What the contractor does with it for the shop."),
        }

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("contract_starts_on"), cleaned.get("contract_ends_on")
        if starts and ends and ends < starts:
            self.add_error("contract_ends_on", _("The contract cannot end before it starts."))
        return cleaned


class SupervisionCheckForm(NotInTheFuture, forms.Form):
    checked_on = _date(_("Checked on"))
    what_checked = forms.CharField(
        label=_("What was checked"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: on-site visit, security questionnaire, deletion report."),
    )
    checked_by = StaffChoice(label=_("Checked by"), queryset=_staff())
    result = forms.ChoiceField(label=_("Result"), choices=CheckResult.choices)
    findings = forms.CharField(
        label=_("Findings and follow-up"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["checked_by"].queryset = _staff()

    def clean_checked_on(self):
        return self.clean_day("checked_on")


class TrainingForm(NotInTheFuture, forms.Form):
    held_on = _date(_("Held on"))
    topic = forms.CharField(label=_("Topic"), max_length=200)
    attendees = StaffChoices(
        label=_("Attendees"), queryset=_staff(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = _staff()

    def clean_held_on(self):
        return self.clean_day("held_on")


class ContractorStaffForm(forms.Form):
    """The administrator's choice for one account: the shop's own staff, or a contractor's."""

    user = forms.ModelChoiceField(queryset=get_user_model().objects.all())
    contractor = forms.ModelChoiceField(
        label=_("Contractor"),
        queryset=Contractor.objects.all(),
        required=False,
        empty_label=_("The shop's own staff"),
    )
