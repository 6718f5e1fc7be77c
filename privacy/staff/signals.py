"""Logins, failed logins, logouts and lockouts go to the audit log. The typed username of a
failed login is not kept (it may be a customer's name, or a mistyped password): the entry
names the account when the name is an existing account's, and says nothing of it otherwise.
django-axes hands the lockout signal the keyed hash of the name (``backends.axes_username``),
never the name."""

import time

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from privacy.audit import log as audit
from privacy.staff import terminals
from privacy.staff.backends import account_for_digest, login_name_digest


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
    typed = (credentials or {}).get("username")
    user = account_for_digest(login_name_digest(typed if isinstance(typed, str) else None))
    if user is None:
        audit.record("auth.login.failed", data={"known_account": False})
    else:
        audit.record("auth.login.failed", target=user)


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    """Lock the account's open sessions too: whoever guessed may already be in."""
    from privacy.staff import accounts

    user = account_for_digest(username)
    # Terminals (issue 15): failures away from the shop's terminals lock only that name from
    # that address (privacy.staff.terminals.lockout_parameters); the account and its open
    # sessions at the counter are left alone, or anyone outside could end them.
    at_terminal = terminals.of_request(request) is not None
    scope = {"lockout": "account" if at_terminal else "address"}
    if user is None:
        audit.record("auth.lockout", data={"known_account": False, **scope})
        return
    audit.record("auth.lockout", target=user, data=scope)
    if at_terminal:
        accounts.end_sessions(user, event="auth.lockout.sessions_ended")
