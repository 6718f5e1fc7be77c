"""Asking again who is at the keyboard before what a stolen session could abuse.

A session cookie taken from an unlocked till (or a browser left open) carries the staff
member's login, not their password or their phone. The actions that would let it do lasting
harm (replace the authenticator, change the password, download a bulk export, release a
disclosure, open customer data after hours) first ask for the password again, and the code
from the authenticator app where the person has one, unless the person logged in or
confirmed it within ``BOOKSHOP_REAUTH_MINUTES``. The time is kept in the session.

A wrong password or code here counts as a failed login: it is in the audit log, it counts
towards the account's lockout (django-axes), and the lockout ends every session.

A POST is never replayed after the question: the person is sent back to the page with the
button (``back``) and presses it again."""

import time
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from privacy.staff.sessions import LOGIN_AT

REAUTH_AT = "shiori_reauth_at"
# Set when a POST was interrupted: the confirmation then says to press the button again.
PRESS_AGAIN = "shiori_reauth_press_again"


def _window_seconds() -> int:
    return settings.BOOKSHOP_REAUTH_MINUTES * 60


def authenticated_at(request) -> float | None:
    """When this session last proved its person: the login, or the latest confirmation."""
    times = [
        t for t in (request.session.get(REAUTH_AT), request.session.get(LOGIN_AT)) if t is not None
    ]
    return max(times) if times else None


def is_recent(request) -> bool:
    at = authenticated_at(request)
    return at is not None and 0 <= time.time() - at < _window_seconds()


def mark(request) -> None:
    """The person just gave their password (and code) again."""
    request.session[REAUTH_AT] = time.time()


def reauth_url(next_url: str) -> str:
    return f"{reverse('reauth')}?{urlencode({'next': next_url})}"


def _back_url(request, back, kwargs) -> str:
    if back is None:
        return request.path
    if callable(back):
        return back(request, **kwargs)
    try:
        return reverse(back, kwargs={k: v for k, v in kwargs.items() if k != "action"})
    except NoReverseMatch:
        return reverse(back)


def recent_auth_required(view=None, *, actions=None, when=None, back=None):
    """Decorate a view: ask for the password (and code) again unless the person proved it
    within ``BOOKSHOP_REAUTH_MINUTES``.

    ``actions``: only for these values of the URL's ``action`` (one view, several buttons).
    ``when(request, **kwargs)``: only when this is true (for example, only a POST).
    ``back``: where a POST sends the person after the question, to press the button again:
    a URL name (reversed with the view's arguments other than ``action``), a callable
    ``back(request, **kwargs)``, or None for this same path (a view that shows its form on
    GET). A GET comes back to itself."""

    def decorator(func):
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            applies = (actions is None or kwargs.get("action") in actions) and (
                when is None or when(request, **kwargs)
            )
            if applies and not is_recent(request):
                if request.method in ("GET", "HEAD"):
                    next_url = request.get_full_path()
                else:
                    next_url = _back_url(request, back, kwargs)
                    request.session[PRESS_AGAIN] = True
                messages.info(
                    request,
                    _("For your safety, confirm it is you before you continue."),
                )
                return redirect(reauth_url(next_url))
            return func(request, *args, **kwargs)

        wrapper.recent_auth_required = True
        return wrapper

    if view is not None:
        return decorator(view)
    return decorator


def only_post(request, **kwargs) -> bool:
    """``when=only_post``: the form may be shown; sending it needs a recent confirmation."""
    return request.method == "POST"
