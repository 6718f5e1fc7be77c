"""Two-factor login, the handling rules, and the administrator's staff accounts."""

import base64

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from bookshop.http import safe_next
from privacy.audit import log as audit
from privacy.staff import accounts, roles
from privacy.staff.models import RulesAcknowledgement
from privacy.staff.roles import administrator_only, manager_only
from privacy.views.account_forms import (
    AcknowledgeForm,
    EndDateForm,
    RulesForm,
    StaffCreateForm,
    TokenForm,
)

RECOVERY_CODES = 10


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup(request):
    """Enrol an authenticator app: scan, confirm with one code, receive recovery codes once."""
    user = request.user
    if (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        and not request.user.is_verified()
    ):
        return redirect("two_factor_verify")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            otp_login(request, device)
            codes = _new_recovery_codes(user)
            audit.record("auth.2fa.enrolled", target=user, actor=user)
            return render(
                request,
                "registration/recovery_codes.html",
                {"codes": codes, "next": safe_next(request, "/")},
            )
        form.add_error(
            "token", _("This code is not right. Check the time on your phone and try again.")
        )
    svg = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).to_string()
    secret = device.config_url.split("secret=")[1].split("&")[0]
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "form": form,
            # An image, not inline markup: nothing is marked safe, and CSP allows data: images.
            "qr_data_uri": "data:image/svg+xml;base64," + base64.b64encode(svg).decode(),
            "secret": secret,
            "next": safe_next(request, ""),
        },
    )


def _new_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes")
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    for code in codes:
        device.token_set.create(token=code)
    return codes


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            audit.record(
                "auth.2fa.verified",
                target=request.user,
                actor=request.user,
                data={"recovery_code": isinstance(device, StaticDevice)},
            )
            return redirect(safe_next(request, "home"))
        audit.record("auth.2fa.failed", target=request.user, actor=request.user)
        form.add_error("token", _("This code is not right."))
    return render(
        request,
        "registration/two_factor_verify.html",
        {"form": form, "next": safe_next(request, "")},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def rules_acknowledge(request):
    rules = accounts.current_rules()
    if rules is None:
        return redirect("home")
    form = AcknowledgeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        accounts.acknowledge(request.user, rules)
        return redirect(safe_next(request, "home"))
    acknowledged = RulesAcknowledgement.objects.filter(rules=rules, user=request.user).exists()
    return render(
        request,
        "privacy/rules_acknowledge.html",
        {
            "rules": rules,
            "form": form,
            "acknowledged": acknowledged,
            "next": safe_next(request, ""),
        },
    )


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def rules_edit(request):
    current = accounts.current_rules()
    form = RulesForm(
        request.POST if request.method == "POST" else None,
        initial={"text": current.text if current else ""},
    )
    if request.method == "POST" and form.is_valid():
        rules = accounts.publish_rules(text=form.cleaned_data["text"], by=request.user)
        accounts.acknowledge(request.user, rules)
        messages.success(
            request,
            _("Version %(version)s published. Every staff member will be asked to read it.")
            % {"version": rules.version},
        )
        return redirect("rules_edit")
    return render(request, "privacy/rules_edit.html", {"form": form, "current": current})


@never_cache
@administrator_only
@require_http_methods(["GET", "POST"])
def staff_list(request):
    from axes.models import AccessAttempt

    form = StaffCreateForm(request.POST if request.method == "POST" else None)
    new_account = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user, password = accounts.create_staff(
            by=request.user,
            username=data["username"],
            last_name=data["last_name"],
            first_name=data["first_name"],
            role=data["role"],
            valid_until=data["valid_until"],
            counter=data["counter"] and data["role"] != roles.ADMINISTRATOR,
        )
        new_account = {"username": user.username, "password": password}
        form = StaffCreateForm()
    rules = accounts.current_rules()
    acknowledged = (
        set(RulesAcknowledgement.objects.filter(rules=rules).values_list("user_id", flat=True))
        if rules
        else set()
    )
    locked = set(
        AccessAttempt.objects.filter(failures_since_start__gte=_failure_limit()).values_list(
            "username", flat=True
        )
    )
    two_factor = set(TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True))
    staff = []
    for user in (
        User.objects.prefetch_related("groups")
        .select_related("staff_profile")
        .order_by("-is_active", "username")
    ):
        profile = getattr(user, "staff_profile", None)
        staff.append(
            {
                "user": user,
                "roles": sorted(g.name for g in user.groups.all()),
                "valid_until": profile.valid_until if profile else None,
                "acknowledged": user.pk in acknowledged,
                "locked": user.username in locked,
                "two_factor": user.pk in two_factor,
            }
        )
    return render(
        request,
        "privacy/staff_list.html",
        {
            "form": form,
            "staff": staff,
            "rules": rules,
            "new_account": new_account,
            "end_date_form": EndDateForm(),
        },
    )


def _failure_limit() -> int:
    from django.conf import settings

    return settings.AXES_FAILURE_LIMIT


@administrator_only
@require_POST
def staff_action(request, user_id, action):
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise Http404
    if action == "deactivate":
        if user == request.user:
            messages.error(request, _("You cannot deactivate your own account."))
        else:
            accounts.deactivate(user, by=request.user)
            messages.success(request, _("Account deactivated; its sessions have ended."))
    elif action == "end_sessions":
        accounts.end_sessions(user, by=request.user)
        messages.success(request, _("Every session of this account has ended."))
    elif action == "release":
        accounts.release_lockout(user, by=request.user)
        messages.success(request, _("Lockout released."))
    elif action == "end_date":
        form = EndDateForm(request.POST)
        if form.is_valid():
            accounts.set_end_date(
                user, valid_until=form.cleaned_data["valid_until"], by=request.user
            )
            messages.success(request, _("End date saved."))
        else:
            messages.error(request, _("Enter a valid date."))
    else:
        raise Http404
    return redirect("staff_list")
