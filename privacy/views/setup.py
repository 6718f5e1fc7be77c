"""A person's own account: the one-time setup link (their password, their authenticator) and
the re-authentication asked before what a stolen session could abuse (issue 15)."""

import base64

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_safe
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from bookshop.http import safe_next
from privacy.audit import log as audit
from privacy.staff import reauth, setup_links
from privacy.staff.models import StaffProfile
from privacy.staff.sessions import LOGIN_AT
from privacy.views.accounts import _new_recovery_codes
from privacy.views.setup_forms import ReauthForm, SetupForm

# The token travels in the link once; the page that asks the password reads it from the
# session, so it is not in that page's address (nor in a Referer, the history or a log).
SETUP_TOKEN = "shiori_setup_token"  # noqa: S105 - a session key, not a secret


def _refused(request, reason: str, *, status: int = 410):
    request.session.pop(SETUP_TOKEN, None)
    return render(request, "registration/setup_refused.html", {"reason": reason}, status=status)


@never_cache
@login_not_required
@require_safe
def setup_link(request, token):
    """The link the administrator handed over: checked, kept in the session, then the page
    without the token in its address."""
    try:
        setup_links.check(token)
    except setup_links.LinkRefused as refused:
        return _refused(request, refused.reason, status=404 if refused.reason == "unknown" else 410)
    if request.user.is_authenticated:
        return render(request, "registration/setup_refused.html", {"reason": "signed_in"})
    request.session.cycle_key()
    request.session[SETUP_TOKEN] = token
    return redirect("account_setup")


def _enrolment_device(user) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def _qr(device: TOTPDevice) -> tuple[str, str]:
    svg = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).to_string()
    secret = device.config_url.split("secret=")[1].split("&")[0]
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode(), secret


@never_cache
@login_not_required
@sensitive_post_parameters("new_password1", "new_password2", "token")
@require_http_methods(["GET", "POST"])
def setup(request):
    """Choose one's password and, where the account has two-step login, enrol the
    authenticator (or, when it was kept, prove it is at hand) in the same step."""
    if request.user.is_authenticated:
        return render(request, "registration/setup_refused.html", {"reason": "signed_in"})
    token = request.session.get(SETUP_TOKEN)
    if not token:  # never opened in this browser, or left idle past the session's end
        return _refused(request, "no_session", status=404)
    try:
        link = setup_links.check(token)
    except setup_links.LinkRefused as refused:
        return _refused(request, refused.reason)
    user = link.user
    needs_code = setup_links.needs_authenticator(user)
    keeps_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    enrolling = needs_code and not keeps_device
    device = _enrolment_device(user) if enrolling else None
    form = SetupForm(
        user,
        request.POST if request.method == "POST" else None,
        needs_code=needs_code,
        code_help=(
            _("Scan the code above, then type the 6-digit code your app shows.")
            if enrolling
            else _("The 6-digit code your authenticator app shows now.")
        ),
    )
    if request.method == "POST" and form.is_valid():
        code_ok = True
        if enrolling:
            code_ok = device.verify_token(form.cleaned_data["token"])
        elif needs_code:
            code_ok = match_token(user, form.cleaned_data["token"]) is not None
        if code_ok:
            try:
                setup_links.complete(
                    token, password=form.cleaned_data["new_password1"], device=device
                )
            except setup_links.LinkRefused as refused:
                return _refused(request, refused.reason)
            request.session.pop(SETUP_TOKEN, None)
            if enrolling:
                codes = _new_recovery_codes(user)
                audit.record("auth.2fa.enrolled", target=user, actor=user)
                messages.success(request, _("Your account is ready. Log in with your password."))
                return render(
                    request, "registration/recovery_codes.html", {"codes": codes, "next": "/login/"}
                )
            messages.success(request, _("Your account is ready. Log in with your password."))
            return redirect("login")
        audit.record("accounts.setup_link.code_failed", target=user, data={"link": link.pk})
        form.add_error(
            "token",
            _(
                "This code is not right. Check that the time on your phone is right, wait "
                "for the next code and type it."
            ),
        )
    context = {"form": form, "account": user, "enrolling": enrolling, "link": link}
    if enrolling:
        context["qr_data_uri"], context["secret"] = _qr(device)
    return render(request, "registration/setup.html", context)


def _sessions_ended(request, user) -> bool:
    """The lockout that a failure may just have caused ends every session of the account."""
    revoked = (
        StaffProfile.objects.filter(user=user).values_list("sessions_revoked_at", flat=True).first()
    )
    login_at = request.session.get(LOGIN_AT)
    return revoked is not None and login_at is not None and revoked.timestamp() >= login_at


@never_cache
@sensitive_post_parameters("password", "token")
@require_http_methods(["GET", "POST"])
def reauth_view(request):
    """The password again (and the code, for whoever has an authenticator), then back to
    the page the person came from."""
    user = request.user
    next_url = safe_next(request, "/")
    needs_code = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    form = ReauthForm(request.POST if request.method == "POST" else None, needs_code=needs_code)
    if request.method == "POST" and form.is_valid():
        checked = authenticate(
            request, username=user.get_username(), password=form.cleaned_data["password"]
        )
        failure = None
        if checked is None or checked.pk != user.pk:
            failure = "password"
        elif needs_code and not any(
            device.verify_token(form.cleaned_data["token"])
            for device in TOTPDevice.objects.filter(user=user, confirmed=True)
        ):
            failure = "code"
            # Counted as a failed login: django-axes counts it towards the lockout and the
            # audit log records it (privacy.staff.signals).
            user_login_failed.send(
                sender=__name__, credentials={"username": user.get_username()}, request=request
            )
        if failure is None:
            reauth.mark(request)
            audit.record("auth.reauth", target=user, actor=user)
            if request.session.pop(reauth.PRESS_AGAIN, False):
                messages.info(request, _("Confirmed. Press the button again to continue."))
            return redirect(next_url)
        audit.record("auth.reauth.failed", target=user, actor=user, data={"reason": failure})
        if _sessions_ended(request, user):
            logout(request)
            messages.error(
                request,
                _("Too many wrong attempts: this account is locked. Ask the administrator."),
            )
            return redirect("login")
        if failure == "password":
            form.add_error("password", _("This password is not right. Type it again."))
        else:
            form.add_error(
                "token", _("This code is not right. Wait for the next code and type it.")
            )
    return render(
        request,
        "registration/reauth.html",
        {"form": form, "next": next_url, "needs_code": needs_code},
    )
