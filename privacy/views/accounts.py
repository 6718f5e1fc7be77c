"""Two-factor login, the handling rules, and the administrator's staff accounts."""

import base64

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import User
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from bookshop.http import safe_next
from privacy.audit import log as audit
from privacy.staff import accounts, backends, roles, setup_links, terminals
from privacy.staff.models import RulesAcknowledgement
from privacy.staff.reauth import only_post, recent_auth_required
from privacy.staff.roles import administrator_only, manager_only
from privacy.views.account_forms import (
    AcknowledgeForm,
    EndDateForm,
    RulesForm,
    StaffCreateForm,
    StaffPasswordChangeForm,
    TokenForm,
)
from privacy.views.setup_forms import ResetLinkForm

RECOVERY_CODES = 10


def _enrolment_needs_reauth(request, **kwargs) -> bool:
    """Replacing an authenticator, or a clerk choosing to enrol one, asks for the password
    again: a stolen session must not put its own phone on the account. The enrolment that
    the middleware makes a manager do before their second step (no authenticator yet) is
    part of the login itself."""
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return True
    return not roles.has_role(request.user, roles.MANAGER, roles.ADMINISTRATOR)


@never_cache
@recent_auth_required(when=_enrolment_needs_reauth)
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
@recent_auth_required(when=only_post)
@require_http_methods(["GET", "POST"])
def staff_list(request):
    """The accounts, and a new one: created without a password; its person sets their own
    with the one-time setup link shown here once (privacy.staff.setup_links)."""
    form = StaffCreateForm(request.POST if request.method == "POST" else None)
    new_account = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user, issued = setup_links.create_account(
            by=request.user,
            username=data["username"],
            last_name=data["last_name"],
            first_name=data["first_name"],
            role=data["role"],
            valid_until=data["valid_until"],
            counter=data["counter"] and data["role"] != roles.ADMINISTRATOR,
        )
        new_account = _link_shown_once(request, user, issued, created=True)
        form = StaffCreateForm()
    return _staff_page(request, form, new_account)


def _link_shown_once(request, user, issued, *, created) -> dict:
    return {
        "username": user.username,
        "link": request.build_absolute_uri(reverse("account_setup_link", args=[issued.token])),
        "expires_at": issued.link.expires_at,
        "created": created,
        "authenticator_reset": issued.link.authenticator_reset,
    }


def _staff_page(request, form, new_account):
    from axes.models import AccessAttempt

    rules = accounts.current_rules()
    acknowledged = (
        set(RulesAcknowledgement.objects.filter(rules=rules).values_list("user_id", flat=True))
        if rules
        else set()
    )
    failed_logins = _failed_logins(AccessAttempt)
    locked = {row["user"].pk for row in failed_logins if row["user"] and row["locked"]}
    two_factor = set(TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True))
    pending = setup_links.pending_for(User.objects.values_list("pk", flat=True))
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
                "roles": sorted(roles.group_label(g.name) for g in user.groups.all()),
                "valid_until": profile.valid_until if profile else None,
                "acknowledged": user.pk in acknowledged,
                "locked": user.pk in locked,
                "two_factor": user.pk in two_factor,
                "setup_pending": not user.has_usable_password(),
                "setup_link": pending.get(user.pk),
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
            "reset_form": ResetLinkForm(),
            "failed_logins": failed_logins,
        },
    )


def _failure_limit() -> int:
    from django.conf import settings

    return settings.AXES_FAILURE_LIMIT


def _failed_logins(attempt_model) -> list[dict]:
    """django-axes' failure counts, by the keyed hash of the typed name: named when the hash
    is an existing account's, "unknown name" otherwise (the name itself is not kept)."""
    known = backends.accounts_by_digest()
    rows: dict[str, dict] = {}
    for digest, failures, last in attempt_model.objects.values_list(
        "username", "failures_since_start", "attempt_time"
    ):
        row = rows.setdefault(
            digest, {"user": known.get(digest), "failures": 0, "last": last, "locked": False}
        )
        row["failures"] += failures
        row["last"] = max(row["last"], last)
    for digest, row in rows.items():
        # Terminals (issue 15): failures at the shop's terminals lock the account; failures
        # elsewhere lock only that name from that address (privacy/staff/terminals.py).
        kinds = terminals.failed_logins_by_kind(digest)
        row["locked"] = kinds["account_locked"]
        row["at_terminals"], row["elsewhere"] = kinds["at_terminals"], kinds["elsewhere"]
        row["locked_addresses"] = kinds["locked_addresses"]
    return sorted(rows.values(), key=lambda row: row["last"], reverse=True)


@never_cache
@administrator_only
@require_POST
@recent_auth_required(actions={"setup_link"}, back="staff_list")
def staff_action(request, user_id, action):
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise Http404
    if action == "setup_link":
        # A new setup link: the password stops working now, every session ends, an earlier
        # link is void; the authenticator goes too only when the administrator says so.
        if user == request.user:
            messages.error(
                request, _("To change your own password, use 「Change password」 in the top bar.")
            )
        elif not user.is_active:
            messages.error(request, _("This account is deactivated."))
        else:
            form = ResetLinkForm(request.POST)
            form.is_valid()
            issued = setup_links.issue(
                user,
                by=request.user,
                reset=True,
                reset_authenticator=form.cleaned_data.get("reset_authenticator", False),
            )
            return _staff_page(
                request, StaffCreateForm(), _link_shown_once(request, user, issued, created=False)
            )
    elif action == "deactivate":
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


@method_decorator(never_cache, name="dispatch")
@method_decorator(recent_auth_required(when=only_post), name="dispatch")
class PasswordChange(auth_views.PasswordChangeView):
    """Django's password change for every staff member: the current password (and a current
    code where two-step login is enrolled), the new one twice, the configured validators.
    This session stays signed in (``update_session_auth_hash``); every other session of the
    account stops at its next request, as its stored hash no longer matches."""

    form_class = StaffPasswordChangeForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["request"] = self.request
        return kwargs

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            audit.record(
                "accounts.password_changed",
                target=form.user,
                actor=form.user,
                data={"other_sessions_ended": True},
            )
        return response
