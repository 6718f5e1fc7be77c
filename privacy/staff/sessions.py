"""Session rules for staff: an absolute timeout of one shift, sessions voided when an account
is deactivated or locked, two factors for the manager and the administrator (and for any
clerk who enrolled), and the handling rules acknowledged before customer data is read."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from privacy.staff import accounts

LOGIN_AT = "shiori_login_at"
SEEN_AT = "shiori_seen_at"
# The idle timeout (SESSION_COOKIE_AGE) counts from the session's last save. Saving it on
# every request costs a write per page; saving it when the last save is this old keeps the
# timeout right within this many seconds (a session idle for 15 minutes ends after 14 to 15).
ACTIVITY_WRITE_SECONDS = 60
# Pages a signed-in user may open before the second factor.
_BEFORE_SECOND_FACTOR = {"login", "logout", "set_language", "two_factor_setup", "two_factor_verify"}


def _url_name(request) -> str:
    try:
        return resolve(request.path_info).url_name or ""
    except Resolver404:
        return ""


class StaffSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not request.path_info.startswith(
            "/" + settings.STATIC_URL.lstrip("/")
        ):
            ended = self._session_ended(request, user)
            if ended:
                return ended
            self._note_activity(request)
            if (
                accounts.requires_two_factor(user)
                and not user.is_verified()
                and _url_name(request) not in _BEFORE_SECOND_FACTOR
            ):
                from django_otp import user_has_device

                target = "two_factor_verify" if user_has_device(user) else "two_factor_setup"
                next_url = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse(target)}?{next_url}")
        return self.get_response(request)

    @staticmethod
    def _note_activity(request):
        """Renew the idle timeout: the session is saved (its expiry moved on) when its
        last save is a minute old, or whenever anything else changed it."""
        now = time.time()
        seen_at = request.session.get(SEEN_AT)
        if seen_at is None or not (0 <= now - seen_at < ACTIVITY_WRITE_SECONDS):
            request.session[SEEN_AT] = now

    @staticmethod
    def _session_ended(request, user):
        now = time.time()
        login_at = request.session.setdefault(LOGIN_AT, now)
        # The backend already loaded the profile to check the end date: reuse it.
        profile = getattr(user, "staff_profile", None)
        revoked = profile.sessions_revoked_at if profile else None
        too_old = now - login_at > settings.BOOKSHOP_SESSION_ABSOLUTE_HOURS * 3600
        if too_old or (revoked is not None and revoked.timestamp() >= login_at):
            logout(request)
            messages.info(request, _("Your session has ended. Please log in again."))
            return redirect_to_login(request.get_full_path())
        return None

    def process_exception(self, request, exception):
        if isinstance(exception, accounts.RulesNotAcknowledged):
            next_url = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('rules_acknowledge')}?{next_url}")
        return None
