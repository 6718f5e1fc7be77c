from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from privacy.staff import roles
from privacy.vault import normalize


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        help_text=_("The 6-digit code from your authenticator app, or one of your recovery codes."),
    )

    def clean_token(self):
        return normalize.text(self.cleaned_data["token"]).replace(" ", "")


class RulesForm(forms.Form):
    text = forms.CharField(
        label=_("Handling rules"), widget=forms.Textarea(attrs={"rows": 16}), max_length=20000
    )


class AcknowledgeForm(forms.Form):
    agree = forms.BooleanField(label=_("I have read these rules and will follow them."))


class StaffCreateForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"),
        regex=r"^[a-z0-9][a-z0-9._-]{2,29}$",
        max_length=30,
        help_text=_("Lower-case letters, digits, dots and hyphens. One person, one account."),
        error_messages={"invalid": _("Use 3 to 30 lower-case letters, digits, dots or hyphens.")},
    )
    last_name = forms.CharField(label=_("Family name"), max_length=50)
    first_name = forms.CharField(label=_("Given name"), max_length=50, required=False)
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[
            (roles.CLERK, _("Clerk")),
            (roles.MANAGER, _("Manager")),
            (roles.ADMINISTRATOR, _("Administrator")),
        ],
    )
    counter = forms.BooleanField(
        label=_("Member of the counter team"), required=False, initial=True
    )
    valid_until = forms.DateField(
        label=_("Account ends on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("For part-time staff and outside contractors."),
    )

    def clean_username(self):
        username = self.cleaned_data["username"]
        if User.objects.filter(username=username).exists():
            raise forms.ValidationError(_("This username is taken."))
        return username

    def clean(self):
        cleaned = super().clean()
        for name in ("last_name", "first_name"):
            if normalize.has_control_characters(cleaned.get(name, "")):
                self.add_error(name, _("Remove the invisible control characters."))
        return cleaned


class EndDateForm(forms.Form):
    valid_until = forms.DateField(
        label=_("Account ends on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class StaffLoginForm(AuthenticationForm):
    """Django's login form, refusing an over-long username before it reaches the database
    (django-axes records failed usernames in a 255-character column)."""

    def clean_username(self):
        username = self.cleaned_data.get("username") or ""
        if len(username) > User._meta.get_field("username").max_length:
            raise forms.ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )
        return username
