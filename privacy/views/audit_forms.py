"""The administrator's filters over the audit log, all in the URL (GET), so that paging,
the CSV and a flag's link keep them."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from privacy.audit.review import ACTION_FILTERS, EVENT_LABELS, customer_reference_filter

User = get_user_model()

# The filter keys a link may carry (the page number comes on top).
FILTER_KEYS = ("actor", "action", "event", "reference", "date_from", "date_to", "job")


class AuditFilterForm(forms.Form):
    actor = forms.ModelChoiceField(
        label=_("Staff member"),
        queryset=User.objects.order_by("username"),
        required=False,
        empty_label=_("Everyone"),
    )
    action = forms.ChoiceField(
        label=_("Kind"),
        required=False,
        choices=[("", _("All"))] + [(key, label) for key, (label, _q) in ACTION_FILTERS.items()],
    )
    event = forms.ChoiceField(label=_("Event"), required=False)
    reference = forms.CharField(
        label=_("Reference"),
        required=False,
        max_length=40,
        help_text=_("Such as C-1A2B3C4D (customer) or O-, R-, P-; names are never shown here."),
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    # A scheduled job's name (the administrator's inbox links to a job's entries).
    job = forms.CharField(required=False, max_length=80, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labelled = sorted(
            ((code, str(label)) for code, label in EVENT_LABELS.items()), key=lambda c: c[1]
        )
        self.fields["event"].choices = [("", _("All"))] + labelled

    def clean_reference(self):
        value = self.cleaned_data.get("reference", "").strip()
        if value and customer_reference_filter(value) is None:
            raise forms.ValidationError(_("A reference looks like C-1A2B3C4D."))
        return value

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("date_from")
            and cleaned.get("date_to")
            and cleaned["date_from"] > cleaned["date_to"]
        ):
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned
