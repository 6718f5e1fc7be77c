from django import forms
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from privacy.consent.models import NoticeMethod
from privacy.desks.models import ExportScope, IdentityMethod, RequestKind
from privacy.vault import normalize


class ReasonField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Reason"))
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if normalize.has_control_characters(value):
            raise forms.ValidationError(_("Remove the invisible control characters."))
        return normalize.text(value)


def _staff_label(user) -> str:
    name = f"{user.last_name} {user.first_name}".strip()
    return f"{name} ({user.username})" if name else user.username


class GrantForm(forms.Form):
    """Grant one customer to a named person or a named team."""

    user = forms.ModelChoiceField(
        label=_("Staff member"), queryset=User.objects.none(), required=False
    )
    group = forms.ModelChoiceField(label=_("Team"), queryset=Group.objects.none(), required=False)
    reason = ReasonField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from privacy.staff import roles

        self.fields["user"].queryset = (
            User.objects.filter(is_active=True, groups__name__in=roles.COUNTER)
            .distinct()
            .order_by("username")
        )
        self.fields["group"].queryset = Group.objects.exclude(name__in=roles.ALL).order_by("name")
        # Teams and staff as people read them, not as codes (カウンター担当, 田中 花子).
        self.fields["group"].label_from_instance = lambda group: roles.group_label(group.name)
        self.fields["user"].label_from_instance = _staff_label

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("user")) == bool(cleaned.get("group")):
            raise forms.ValidationError(_("Choose either one staff member or one team."))
        return cleaned


class RevokeForm(forms.Form):
    reason = ReasonField(required=False)


class OverrideForm(forms.Form):
    reason = ReasonField()
    minutes = forms.IntegerField(
        label=_("For how many minutes"), min_value=5, max_value=120, initial=30
    )


STOPPED_WARNING = _(
    "Stopped: the customer asked us to stop this use. Do not offer it; it stays stopped "
    "unless the customer asks again and the manager lifts the stop."
)


class NoticeForm(forms.Form):
    """The clerk records how the customer was told the purposes, and the customer's choices
    for the optional ones (off unless the customer says yes)."""

    method = forms.ChoiceField(
        label=_("How the customer was told the purposes"),
        choices=[("", "---------")] + list(NoticeMethod.choices),
    )

    def __init__(self, *args, notice=None, suspended=(), **kwargs):
        super().__init__(*args, **kwargs)
        from django.utils import translation

        self.notice = notice
        language = "ja" if translation.get_language() == "ja" else "en"
        for purpose in notice.purposes if notice else []:
            if purpose.get("optional"):
                name = f"opt_{purpose['code']}"
                self.fields[name] = forms.BooleanField(
                    label=purpose[language], required=False, initial=False
                )
                if purpose["code"] in suspended:  # stopped at the customer's request
                    self.fields[name].disabled = True
                    self.fields[name].help_text = STOPPED_WARNING

    def notice_data(self) -> dict:
        choices = {
            name.removeprefix("opt_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("opt_")
        }
        return {"method": self.cleaned_data["method"], "choices": choices}


class PurposeNoticeForm(forms.Form):
    """A new version of the purpose notice. Purposes, one a line: code | Japanese | English
    | optional (yes/no)."""

    text_ja = forms.CharField(
        label=_("Notice (Japanese)"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000
    )
    text_en = forms.CharField(
        label=_("Notice (English)"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000
    )
    purposes = forms.CharField(
        label=_("Purposes"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
        help_text=_("One a line: code | Japanese | English | optional (yes or no)."),
    )
    effective_from = forms.DateField(
        label=_("Effective from"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_purposes(self):
        import re

        parsed, seen = [], set()
        for number, line in enumerate(self.cleaned_data["purposes"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|")]
            if (
                len(parts) != 4
                or not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", parts[0])
                or not parts[1]
                or not parts[2]
            ):
                raise forms.ValidationError(
                    _("Line %(n)s: write code | Japanese | English | yes or no.") % {"n": number}
                )
            if parts[0] in seen:
                raise forms.ValidationError(
                    _("Line %(n)s: this code appears twice.") % {"n": number}
                )
            seen.add(parts[0])
            parsed.append(
                {
                    "code": parts[0],
                    "ja": parts[1],
                    "en": parts[2],
                    "optional": parts[3].lower() in {"yes", "はい", "y", "true"},
                }
            )
        from privacy.consent import purposes

        if purposes.ORDER_CONTACT not in seen:
            raise forms.ValidationError(
                _("The purposes must include order_contact: orders need it.")
            )
        return parsed


def purposes_as_text(purposes) -> str:
    return "\n".join(
        f"{p['code']} | {p['ja']} | {p['en']} | {'yes' if p.get('optional') else 'no'}"
        for p in purposes
    )


class RequestForm(forms.Form):
    """A request about one's data, or a complaint: at the counter or on the public form."""

    kind = forms.ChoiceField(label=_("What would you like?"), choices=RequestKind.choices)
    name = forms.CharField(label=_("Your name"), max_length=100)
    contact = forms.CharField(
        label=_("How we can reach you"),
        max_length=200,
        help_text=_("A phone number or an email address."),
    )
    details = forms.CharField(
        label=_("Details"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def clean(self):
        cleaned = super().clean()
        for name in ("name", "contact", "details"):
            value = cleaned.get(name)
            if value and normalize.has_control_characters(value):
                self.add_error(name, _("Remove the invisible control characters."))
            elif value and name != "details":
                cleaned[name] = normalize.text(value)
        return cleaned


class IdentityForm(forms.Form):
    method = forms.ChoiceField(
        label=_("How the identity was checked"), choices=IdentityMethod.choices
    )
    customer_reference = forms.CharField(
        label=_("Customer reference"),
        max_length=20,
        required=False,
        help_text=_(
            "Such as C-1A2B3C4D, from Find any customer. Leave empty if they are not a customer."
        ),
    )

    def clean_customer_reference(self):
        import re

        from customers.models import Customer

        value = self.cleaned_data.get("customer_reference", "").strip().upper()
        if not value:
            return None
        match = re.fullmatch(r"C-?([0-9A-F]{8})", value)
        if not match:
            raise forms.ValidationError(_("A reference looks like C-1A2B3C4D."))
        prefix = match.group(1).lower()
        found = list(Customer.objects.filter(pk__startswith=prefix).only("pk")[:2])
        if len(found) != 1:
            raise forms.ValidationError(_("No single customer has this reference."))
        return found[0]


class ProposeForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[("complete", _("Complete")), ("reject", _("Reject"))]
    )
    reply = forms.CharField(
        label=_("Reply or reason the person will be told"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class ExtendForm(forms.Form):
    days = forms.IntegerField(label=_("Extend by (days)"), min_value=1, max_value=60)
    reason = ReasonField()


class ExportRequestForm(forms.Form):
    """Ask for a bulk export: which customers, and why."""

    scope = forms.ChoiceField(
        label=_("Which customers"), choices=ExportScope.choices, widget=forms.RadioSelect
    )
    date_from = forms.DateField(
        label=_("Orders placed from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        label=_("Orders placed until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reason = ReasonField(help_text=_("What the data is for; the approver and the log see it."))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == ExportScope.ORDERED_BETWEEN:
            start, end = cleaned.get("date_from"), cleaned.get("date_to")
            if start is None and "date_from" not in self.errors:
                self.add_error("date_from", _("Give the first day."))
            if end is None and "date_to" not in self.errors:
                self.add_error("date_to", _("Give the last day."))
            if start and end and start > end:
                self.add_error("date_to", _("The last day cannot be before the first."))
        return cleaned
