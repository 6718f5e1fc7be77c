from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.consent.models import ProvidedItem, ProvisionBasis
from privacy.vault import normalize

TEXT_FIELDS = ("recipient", "recipient_details", "purpose", "other_basis")


class ProvisionForm(forms.Form):
    """A record of data given to a third party. The basis rules (consent and its time, or
    another basis by the manager) are the service's: its refusal is shown on the field."""

    recipient = forms.CharField(
        label=_("Recipient (the third party)"),
        max_length=200,
        help_text=_("The company or person who received the data, such as the distributor."),
    )
    recipient_details = forms.CharField(
        label=_("Recipient's address or other details"),
        max_length=300,
        required=False,
        help_text=_("Enough to tell which company or person it was."),
    )
    items = forms.MultipleChoiceField(
        label=_("Data given"), choices=ProvidedItem.choices, widget=forms.CheckboxSelectMultiple
    )
    purpose = forms.CharField(
        label=_("Purpose of the provision"),
        max_length=500,
        help_text=_("For example: delivery straight to the customer's home."),
    )
    provided_on = forms.DateField(
        label=_("Provided on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    basis = forms.ChoiceField(
        label=_("Basis"), choices=ProvisionBasis.choices, widget=forms.RadioSelect
    )
    consent_obtained_at = forms.DateTimeField(
        label=_("Consent given at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("When the customer agreed to this provision."),
    )
    other_basis = forms.CharField(
        label=_("Legal basis (manager only)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Only when there is no consent: the law or other ground that allows it."),
    )

    def __init__(self, *args, manager: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not manager:
            # A clerk records consent only; a forged "other" is refused by the service.
            self.fields["basis"].widget.choices = [
                (ProvisionBasis.CONSENT.value, ProvisionBasis.CONSENT.label)
            ]
            del self.fields["other_basis"]

    def clean(self):
        cleaned = super().clean()
        for name in TEXT_FIELDS:
            value = cleaned.get(name)
            if value and normalize.has_control_characters(value):
                self.add_error(name, _("Remove the invisible control characters."))
            elif value:
                cleaned[name] = normalize.text(value)
        return cleaned


class ProvisionFilterForm(forms.Form):
    expired_only = forms.BooleanField(label=_("Past their keeping time only"), required=False)
    basis = forms.ChoiceField(
        label=_("Basis"), required=False, choices=[("", _("All")), *ProvisionBasis.choices]
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
