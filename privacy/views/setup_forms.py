"""Forms of the setup link, the reset, and the re-authentication (issue 15)."""

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.utils.translation import gettext_lazy as _

from privacy.vault import normalize

CODE_ATTRS = {"autocomplete": "one-time-code", "inputmode": "numeric"}


def _code(value: str) -> str:
    return normalize.text(value).replace(" ", "")


class SetupForm(SetPasswordForm):
    """The person's own password, twice, checked by AUTH_PASSWORD_VALIDATORS (with the
    account's names, so a password made of one's own name is refused); and, where two-step
    login is part of the account, a code from the authenticator."""

    token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=16,
        widget=forms.TextInput(attrs=CODE_ATTRS),
    )

    def __init__(self, user, *args, code_help=None, needs_code=False, **kwargs):
        super().__init__(user, *args, **kwargs)
        for name in ("new_password1", "new_password2"):
            self.fields[name].widget.attrs["autocomplete"] = "new-password"
        self.fields["new_password1"].widget.attrs["autofocus"] = True
        if needs_code:
            self.fields["token"].help_text = code_help or ""
        else:
            del self.fields["token"]

    def clean_token(self):
        return _code(self.cleaned_data["token"])


class ReauthForm(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=16,
        widget=forms.TextInput(attrs=CODE_ATTRS),
        help_text=_("The 6-digit code your authenticator app shows now."),
    )

    def __init__(self, *args, needs_code=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not needs_code:
            del self.fields["token"]

    def clean_token(self):
        return _code(self.cleaned_data["token"])


class ResetLinkForm(forms.Form):
    reset_authenticator = forms.BooleanField(
        label=_("Also reset the authenticator"), required=False
    )
