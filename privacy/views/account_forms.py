from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from django_otp.plugins.otp_totp.models import TOTPDevice

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
    # Nothing chosen in advance (issue 15): the administrator picks the role and the team.
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[
            ("", _("Choose a role")),
            (roles.CLERK, _("Clerk")),
            (roles.MANAGER, _("Manager")),
            (roles.ADMINISTRATOR, _("Administrator")),
        ],
    )
    counter = forms.BooleanField(
        label=_("Member of the counter team"), required=False, initial=False
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
    """Django's login form, refusing an over-long username before it reaches the database.
    (django-axes keeps a keyed hash of the typed name, never the name: privacy.staff.backends.)"""

    def clean_username(self):
        username = self.cleaned_data.get("username") or ""
        if len(username) > User._meta.get_field("username").max_length:
            raise forms.ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )
        return username


class StaffPasswordChangeForm(PasswordChangeForm):
    """Django's password change (the current password, the new one twice, the validators of
    AUTH_PASSWORD_VALIDATORS), plus a current code from the authenticator app for whoever
    enrolled one.

    The current password is checked by ``authenticate``, as a login is: a wrong one counts
    towards the account's lockout, so a session left open cannot be used to guess it. The
    code is checked last, once everything else is right: a code can be used only once, and
    a mistyped new password should not spend it."""

    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=_("The 6-digit code your authenticator app shows now."),
    )

    field_order = ["old_password", "otp_token", "new_password1", "new_password2"]

    def __init__(self, user, *args, request=None, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.request = request
        self.fields["old_password"].label = _("Current password")
        self.totp_devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
        if not self.totp_devices:
            del self.fields["otp_token"]

    @sensitive_variables("old_password")
    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        checked = authenticate(
            self.request, username=self.user.get_username(), password=old_password
        )
        if checked is None or checked.pk != self.user.pk:
            raise forms.ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password

    def clean_otp_token(self):
        return normalize.text(self.cleaned_data["otp_token"]).replace(" ", "")

    def clean(self):
        cleaned = super().clean()
        if self.totp_devices and not self.errors:
            token = cleaned.get("otp_token", "")
            if not any(device.verify_token(token) for device in self.totp_devices):
                self.add_error("otp_token", _("This code is not right."))
        return cleaned
