import re

from django import forms
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers import validators
from privacy.incidents import rules
from privacy.incidents.models import Incident, NoticeMethod, SelectedBy

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
_REFERENCE = re.compile(r"C-?([0-9A-F]{8})")


def _not_in_future(value):
    if value and value > timezone.now():
        raise forms.ValidationError(_("This cannot be in the future."))
    return value


class IncidentForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = [
            "discovered_at",
            "summary",
            "sensitive_data",
            "property_damage",
            "malicious",
            "over_thousand",
            "encrypted_with_key_safe",
        ]
        widgets = {"discovered_at": DATETIME_INPUT}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["summary"].widget.attrs["rows"] = 6

    def clean_discovered_at(self):
        return _not_in_future(self.cleaned_data.get("discovered_at"))

    def clean_summary(self):
        value = self.cleaned_data.get("summary", "")
        validators.reject_control_characters(value)
        return value.strip()


class ReportForm(forms.Form):
    reported_at = forms.DateTimeField(
        label=_("Sent to the Commission at"), widget=DATETIME_INPUT, initial=timezone.now
    )

    def __init__(self, *args, incident=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.incident = incident

    def clean_reported_at(self):
        value = _not_in_future(self.cleaned_data.get("reported_at"))
        if (
            value
            and self.incident is not None
            and value < self.incident.discovered_at.replace(second=0, microsecond=0)
        ):
            raise forms.ValidationError(_("The report cannot be earlier than the discovery."))
        return value


class AffectedForm(forms.Form):
    """Who may be affected: everyone, a list of references, or everyone a staff member
    touched between two dates (an insider's leak)."""

    how = forms.ChoiceField(
        label=_("Which customers"), choices=SelectedBy.choices, widget=forms.RadioSelect
    )
    references = forms.CharField(
        label=_("Customer references"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Such as C-1A2B3C4D, separated by spaces, commas or new lines."),
    )
    staff = forms.ModelChoiceField(
        label=_("Staff member"),
        queryset=User.objects.order_by("username"),
        required=False,
        help_text=_("Former staff are listed too."),
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label=_("To"), required=False, widget=DATE_INPUT)

    def clean(self):
        from customers.models import Customer

        cleaned = super().clean()
        how = cleaned.get("how")
        if how == SelectedBy.REFERENCE:
            raw = cleaned.get("references", "")
            tokens = [t for t in re.split(r"[\s,、，]+", raw.upper()) if t]
            if not tokens:
                self.add_error("references", _("Give at least one reference."))
                return cleaned
            wrong = [t for t in tokens if not _REFERENCE.fullmatch(t)]
            if wrong:
                self.add_error(
                    "references",
                    _("A reference looks like C-1A2B3C4D: %(wrong)s")
                    % {"wrong": ", ".join(wrong[:5])},
                )
                return cleaned
            found, unknown = [], []
            for token in dict.fromkeys(tokens):
                prefix = _REFERENCE.fullmatch(token).group(1).lower()
                matches = list(Customer.objects.filter(pk__startswith=prefix).values_list("pk")[:2])
                if len(matches) == 1:
                    found.append(matches[0][0])
                else:
                    unknown.append(token)
            if unknown:
                self.add_error(
                    "references",
                    _("No single customer has these references: %(refs)s")
                    % {"refs": ", ".join(unknown[:10])},
                )
            cleaned["customer_ids"] = found
        elif how == SelectedBy.STAFF_ACTIVITY:
            for name in ("staff", "date_from", "date_to"):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, self.fields[name].error_messages["required"])
            start, end = cleaned.get("date_from"), cleaned.get("date_to")
            if start and end and end < start:
                self.add_error("date_to", _("The end comes before the start."))
        return cleaned


class NoticeForm(forms.Form):
    method = forms.ChoiceField(label=_("How they were told"), choices=NoticeMethod.choices)
    notified_on = forms.DateField(label=_("Told on"), widget=DATE_INPUT, initial=rules.today)
    scope = forms.ChoiceField(
        label=_("Who"),
        choices=[
            ("ticked", _("The ticked customers")),
            ("all_remaining", _("Every customer not told yet")),
        ],
        initial="ticked",
        widget=forms.RadioSelect,
    )

    def clean_notified_on(self):
        value = self.cleaned_data.get("notified_on")
        if value and value > rules.today():
            raise forms.ValidationError(_("This cannot be in the future."))
        return value
