"""Logins, failed logins, logouts and lockouts go to the audit log. The typed username of a
failed login is not kept (it may be a mistyped password)."""

import time

from axes.signals import user_locked_out
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from privacy.audit import log as audit


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    from privacy.staff.sessions import LOGIN_AT

    if request is not None and hasattr(request, "session"):
        request.session[LOGIN_AT] = time.time()
    audit.record("auth.login", target=user, actor=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record("auth.logout", target=user, actor=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    audit.record("auth.login.failed")


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    """Lock the account's open sessions too: whoever guessed may already be in."""
    from privacy.staff import accounts

    user = User.objects.filter(username=username).first()
    if user is None:
        audit.record("auth.lockout", data={"known_account": False})
        return
    audit.record("auth.lockout", target=user)
    accounts.end_sessions(user, event="auth.lockout.sessions_ended")
