from django import forms
from django.utils.translation import gettext_lazy as _

from customers import isbn, validators
from customers.models import OPEN_STATUSES, ContactChannel, Customer, SpecialOrder
from privacy.vault import normalize

NAME_FIELDS = ("family_name", "given_name")
KANA_FIELDS = ("family_name_kana", "given_name_kana")


class CleanTextMixin:
    """NFKC, no control characters, on every text field of the form."""

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, str) and name not in self.errors:
                try:
                    validators.reject_control_characters(value)
                except forms.ValidationError as error:
                    self.add_error(name, error)
                    continue
                cleaned[name] = normalize.text(value) if "\n" not in value else value.strip()
        return cleaned


class CustomerForm(CleanTextMixin, forms.ModelForm):
    class Meta:
        model = Customer
        fields = [
            "family_name",
            "given_name",
            "family_name_kana",
            "given_name_kana",
            "phone",
            "email",
            "postal_code",
            "address",
            "preferred_contact",
            "notes",
        ]
        widgets = {"email": forms.EmailInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"] = forms.EmailField(label=_("Email"), required=False, max_length=254)
        self.fields["phone"].widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})

    def _clean_name(self, name):
        value = self.cleaned_data.get(name, "")
        validators.reject_control_characters(value)
        validators.reject_symbols(value)
        return value

    def clean_family_name(self):
        return self._clean_name("family_name")

    def clean_given_name(self):
        return self._clean_name("given_name")

    def _clean_kana(self, name):
        value = self.cleaned_data.get(name, "")
        if value:
            validators.validate_kana(value)
            value = normalize.kana(value)
        return value

    def clean_family_name_kana(self):
        return self._clean_kana("family_name_kana")

    def clean_given_name_kana(self):
        return self._clean_kana("given_name_kana")

    def clean_phone(self):
        return validators.clean_phone(self.cleaned_data.get("phone", ""))

    def clean_email(self):
        return normalize.email(self.cleaned_data.get("email", ""))

    def clean_postal_code(self):
        value = self.cleaned_data.get("postal_code", "")
        return validators.clean_postal_code(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("preferred_contact") == ContactChannel.EMAIL and not cleaned.get("email"):
            self.add_error("email", _("Enter an email address to be contacted by email."))
        return cleaned


class OrderForm(CleanTextMixin, forms.ModelForm):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=99, initial=1)
    deposit_paid = forms.IntegerField(
        label=_("Deposit paid (yen)"), min_value=0, max_value=1_000_000, initial=0
    )

    class Meta:
        model = SpecialOrder
        fields = ["isbn", "title", "author", "publisher", "quantity", "deposit_paid"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["isbn"].help_text = _(
            "10 or 13 digits; hyphens and full-width digits are fine."
        )
        self.fields["isbn"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})

    def clean_isbn(self):
        value = self.cleaned_data.get("isbn", "")
        return validators.clean_isbn(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("isbn") and not cleaned.get("title") and "isbn" not in self.errors:
            self.add_error("title", _("Enter the ISBN, or the title when the book has no ISBN."))
        elif cleaned.get("isbn") and not cleaned.get("title") and "title" not in self.errors:
            self._fill_from_isbn(cleaned)
        return cleaned

    def _fill_from_isbn(self, cleaned) -> None:
        """An ISBN and no title: the book's details from openBD or NDL Search (only the ISBN
        leaves the shop). When the lookup is off the ISBN alone is enough, as before; when
        it finds nothing or cannot be reached, the clerk types the title."""
        found = isbn.lookup(cleaned["isbn"].replace("-", ""))
        self.isbn_lookup = found
        if found.state == isbn.OFF:
            return
        if found.book is None:
            self.add_error("title", found.message)
            return
        for name in ("title", "author", "publisher"):
            if not cleaned.get(name):
                cleaned[name] = getattr(found.book, name)


class CustomerSearchForm(forms.Form):
    """Phone, or family-name kana plus the phone's last four digits."""

    phone = forms.CharField(label=_("Phone"), required=False, max_length=30)
    family_name_kana = forms.CharField(label=_("Family name (kana)"), required=False, max_length=50)
    last4 = forms.CharField(label=_("Last four digits of the phone"), required=False, max_length=8)

    def clean_phone(self):
        value = self.cleaned_data.get("phone", "")
        return validators.clean_phone(value) if value.strip() else ""

    def clean_family_name_kana(self):
        value = self.cleaned_data.get("family_name_kana", "")
        if value.strip():
            validators.reject_control_characters(value)
            validators.validate_kana(value)
            return normalize.kana(value)
        return ""

    def clean_last4(self):
        value = self.cleaned_data.get("last4", "")
        return validators.clean_last4(value) if value.strip() else ""

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("phone"):
            return cleaned
        if cleaned.get("family_name_kana") and cleaned.get("last4"):
            return cleaned
        if cleaned.get("family_name_kana"):
            self.add_error("last4", _("Add the last four digits of the phone number."))
        elif cleaned.get("last4"):
            self.add_error("family_name_kana", _("Add the family name in kana."))
        else:
            raise forms.ValidationError(
                _("Enter a phone number, or the family name in kana with the last four digits."),
                code="empty",
            )
        return cleaned


class BoardFilterForm(forms.Form):
    """The board's filters, read from the URL (?status=arrived&arrived=2025-04-01&mine=1&page=2):
    nothing personal, so a filtered board can be bookmarked and shared between clerks."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    arrived = forms.DateField(
        label=_("Arrived on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    mine = forms.BooleanField(label=_("Only orders I took"), required=False)
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            ("", _("Every open status")),
            *((status.value, status.label) for status in OPEN_STATUSES),
        ]

    def filters(self, board_filters):
        """The filters to apply (``board_filters``: the selectors' BoardFilters); a value
        that does not parse is left out, and the form shows why."""
        self.is_valid()  # a field that does not parse is left out of cleaned_data
        data = getattr(self, "cleaned_data", {})
        return board_filters(
            status=data.get("status") or "",
            arrived=data.get("arrived"),
            mine=bool(data.get("mine")),
            page=data.get("page") or 1,
        )


class ShipmentForm(forms.Form):
    isbn = forms.CharField(label=_("ISBN"), max_length=30)

    def clean_isbn(self):
        return validators.clean_isbn(self.cleaned_data["isbn"])


class NotifyForm(forms.Form):
    channel = forms.ChoiceField(label=_("Told by"), choices=ContactChannel.choices)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason for cancelling"), max_length=500)

    def clean_reason(self):
        value = self.cleaned_data["reason"]
        validators.reject_control_characters(value)
        return normalize.text(value)
