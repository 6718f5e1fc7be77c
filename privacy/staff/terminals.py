"""The shop's own terminals: customer data is shown only on them.

Most leaks come from inside; the shop's answer is that customer data stays on the shop's own
computers. The manager registers each one (a counter PC, the office PC) from that computer:
the server keeps a ``Terminal`` row and gives the browser a long-lived, signed device cookie
holding the terminal's id and a random secret, of which only a hash is stored. The secret is
replaced once a day when the terminal is used, so a copy of the cookie taken to another
browser profile stops working as soon as the real terminal is used again: the old secret is
then refused (and logged as a possible copy), and the terminal itself is left as it was.

``privacy.access.decisions.decide`` asks ``refusal()`` before any customer's data is read in
a request: a page served to a browser that is not a registered terminal shows no customer.
Commands and background work have no request: they run on the server, by the operator or
the scheduler, and are not terminals.

Logins use terminals too (``lockout_parameters``, ``TerminalAwareAxesHandler``): failures at
a terminal lock the account as before; failures anywhere else lock only that name from that
address, never the counter's terminals.
"""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from privacy.audit import log as audit
from privacy.core import context
from privacy.staff.models import Terminal

# The device cookie: a year, signed, sent to this site only and never to scripts.
COOKIE_AGE = timedelta(days=365)
SALT = "shiori.staff.terminal"
# A new secret once a day, on the first use after it.
ROTATE_AFTER = timedelta(hours=24)
# Requests the terminal sent before its rotation answered (two tabs) still pass this long.
ROTATION_GRACE = timedelta(seconds=60)
# last_seen_at is written at most this often.
SEEN_EVERY = timedelta(minutes=5)

# The reason ``decide`` refuses with; the page shows its own message for it.
NOT_A_TERMINAL = "not a registered terminal"

# Refusal reasons, as the audit log names them.
FORGED, UNKNOWN, REVOKED, STALE = "bad signature", "unknown terminal", "revoked", "old secret"

# django-axes: the user agent it records for a failure at a terminal (``_mark``).
TERMINAL_AGENT = "shiori-terminal"


def required() -> bool:
    return settings.BOOKSHOP_REQUIRE_TERMINAL


def cookie_name() -> str:
    # The __Host- prefix binds a Secure cookie to this host and path "/" (the browser
    # refuses it otherwise); a plain-HTTP demo cannot use it.
    return "__Host-shiori-terminal" if settings.SESSION_COOKIE_SECURE else "shiori-terminal"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _matches(secret: str, stored: str) -> bool:
    return bool(stored) and hmac.compare_digest(_hash(secret), stored)


@dataclass
class Presented:
    """What the middleware learnt from the request's cookie."""

    terminal: Terminal | None = None
    refused: str | None = None  # why a cookie that was presented is refused
    new_secret: str | None = None  # a rotation: the cookie to send back


def register(name: str, *, by) -> tuple[Terminal, str]:
    """A new terminal named ``name``, registered by ``by`` from the browser that will hold
    the returned secret (in the cookie ``set_cookie`` writes)."""
    secret = secrets.token_urlsafe(32)
    terminal = Terminal.objects.create(
        name=name.strip(), secret_hash=_hash(secret), registered_by=by, last_seen_at=None
    )
    audit.record(
        "privacy.terminal.registered",
        target=terminal,
        actor=by,
        data={"terminal": str(terminal.pk), "name": terminal.name},
    )
    return terminal, secret


def revoke(terminal: Terminal, *, by) -> bool:
    """The terminal shows no customer from its next request on (a lost laptop, a PC gone
    for repair). False if it was revoked already."""
    now = timezone.now()
    done = Terminal.objects.filter(pk=terminal.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=by
    )
    if done:
        terminal.revoked_at, terminal.revoked_by = now, by
        audit.record(
            "privacy.terminal.revoked",
            target=terminal,
            actor=by,
            data={"terminal": str(terminal.pk), "name": terminal.name},
        )
    return bool(done)


def active():
    return Terminal.objects.filter(revoked_at__isnull=True)


def _refuse(reason: str, terminal: Terminal | None = None) -> Presented:
    data = {"reason": reason}
    if terminal is not None:
        data |= {"terminal": str(terminal.pk), "name": terminal.name}
    audit.record("privacy.terminal.refused", target=terminal, data=data)
    return Presented(refused=reason)


def resolve(request) -> Presented:
    """The terminal this request comes from, if its cookie is a valid one. A cookie that is
    forged, unknown, revoked or carries a secret replaced since is refused and logged."""
    name = cookie_name()
    if name not in request.COOKIES:
        return Presented()
    value = request.get_signed_cookie(
        name, default=None, salt=SALT, max_age=COOKIE_AGE.total_seconds()
    )
    if not value or ":" not in value:
        return _refuse(FORGED)
    terminal_id, secret = value.split(":", 1)
    try:
        terminal = Terminal.objects.filter(pk=uuid.UUID(terminal_id)).first()
    except ValueError:
        terminal = None
    if terminal is None:
        return _refuse(UNKNOWN)
    if terminal.revoked_at is not None:
        return _refuse(REVOKED, terminal)
    now = timezone.now()
    if _matches(secret, terminal.secret_hash):
        return _seen(terminal, secret, now)
    if (
        _matches(secret, terminal.previous_secret_hash)
        and now - terminal.rotated_at <= ROTATION_GRACE
    ):
        return Presented(terminal=terminal)  # a request sent before the rotation answered
    # The secret was replaced and this browser did not get the new one: a copy of the
    # cookie (or the real terminal, if the copy was used first). Refused; nothing revoked.
    return _refuse(STALE, terminal)


def _seen(terminal: Terminal, secret: str, now) -> Presented:
    if now - terminal.rotated_at >= ROTATE_AFTER:
        new_secret = secrets.token_urlsafe(32)
        # Only if no other request rotated it in the meantime (that one sends the cookie).
        rotated = Terminal.objects.filter(pk=terminal.pk, secret_hash=terminal.secret_hash).update(
            secret_hash=_hash(new_secret),
            previous_secret_hash=terminal.secret_hash,
            rotated_at=now,
            last_seen_at=now,
        )
        if rotated:
            terminal.previous_secret_hash, terminal.secret_hash = (
                terminal.secret_hash,
                _hash(new_secret),
            )
            terminal.rotated_at = terminal.last_seen_at = now
            return Presented(terminal=terminal, new_secret=new_secret)
        return Presented(terminal=terminal)
    if terminal.last_seen_at is None or now - terminal.last_seen_at >= SEEN_EVERY:
        Terminal.objects.filter(pk=terminal.pk).update(last_seen_at=now)
        terminal.last_seen_at = now
    return Presented(terminal=terminal)


def set_cookie(response, terminal: Terminal, secret: str) -> None:
    response.set_signed_cookie(
        cookie_name(),
        f"{terminal.pk}:{secret}",
        salt=SALT,
        max_age=int(COOKIE_AGE.total_seconds()),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
        path="/",
    )


def delete_cookie(response) -> None:
    response.delete_cookie(cookie_name(), path="/", samesite="Strict")


def of_request(request) -> Terminal | None:
    return getattr(request, "shop_terminal", None)


def refusal() -> str | None:
    """Why the current scope may not read customer data, as far as terminals go: a request
    that does not come from a registered terminal. Commands and background work (no
    request) run on the server and are not refused here."""
    if not required():
        return None
    scope = context.current()
    request = scope.request if scope is not None else None
    if request is None:
        return None
    return None if of_request(request) is not None else NOT_A_TERMINAL


# --- Logins ------------------------------------------------------------------------------


def lockout_parameters(request_or_attempt, credentials=None) -> list:
    """``AXES_LOCKOUT_PARAMETERS``: at a terminal, the account (counted over the terminals'
    failures only); anywhere else, the typed name from that address only, so that nobody
    outside can lock the counter out of an account."""
    if isinstance(request_or_attempt, AccessAttempt):
        at_terminal = request_or_attempt.user_agent == TERMINAL_AGENT
    else:
        at_terminal = of_request(request_or_attempt) is not None
    if at_terminal:
        return [["username", "user_agent"]]
    return [["username", "ip_address"]]


def _mark(request) -> None:
    """A failure at a terminal is recorded under TERMINAL_AGENT as its user agent, which is
    what counts it towards the account's lockout; a browser elsewhere that sends that name
    as its user agent is recorded under another."""
    if request is None or not hasattr(request, "axes_user_agent"):
        return
    if of_request(request) is not None:
        request.axes_user_agent = TERMINAL_AGENT
    elif request.axes_user_agent == TERMINAL_AGENT:
        request.axes_user_agent = f"{TERMINAL_AGENT} (not a terminal)"


def terminal_failures(username) -> int:
    """This (hashed) name's failures at the terminals: the count that locks the account."""
    if not username:
        return 0
    failures = AccessAttempt.objects.filter(username=username, user_agent=TERMINAL_AGENT).aggregate(
        total=Sum("failures_since_start")
    )["total"]
    return failures or 0


class TerminalAwareAxesHandler(AxesDatabaseHandler):
    """django-axes' database handler, told which failures happened at a terminal. An account
    locked at the terminals is locked everywhere; a name locked from one address elsewhere
    is locked from there only."""

    def get_failures(self, request, credentials=None) -> int:
        _mark(request)
        failures = super().get_failures(request, credentials)
        if request is not None and of_request(request) is None:
            username = get_client_username(request, credentials)
            failures = max(failures, terminal_failures(username))
        return failures

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        _mark(request)
        return super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs):
        _mark(request)
        return super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender, request, user, **kwargs):
        _mark(request)
        return super().user_logged_out(sender, request, user, **kwargs)


def failed_logins_by_kind(username: str) -> dict:
    """For the staff list: a name's failures at the terminals (which lock the account) and
    elsewhere (which lock only the address they came from), and how many addresses are
    locked."""
    limit = settings.AXES_FAILURE_LIMIT
    at_terminals = elsewhere = locked_addresses = 0
    for agent, failures in AccessAttempt.objects.filter(username=username).values_list(
        "user_agent", "failures_since_start"
    ):
        if agent == TERMINAL_AGENT:
            at_terminals += failures
        else:
            elsewhere += failures
    for _address, failures in (
        AccessAttempt.objects.filter(username=username)
        .exclude(user_agent=TERMINAL_AGENT)
        .values("ip_address")
        .annotate(total=Sum("failures_since_start"))
        .values_list("ip_address", "total")
    ):
        if failures >= limit:
            locked_addresses += 1
    return {
        "at_terminals": at_terminals,
        "elsewhere": elsewhere,
        "account_locked": at_terminals >= limit,
        "locked_addresses": locked_addresses,
    }
