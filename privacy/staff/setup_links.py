"""One-time setup links: how a person gets, or gets back, the use of their account.

The administrator never chooses, sees or hands over a password. Creating an account (or
resetting one) issues a link, shown once on the administrator's page to be handed over in
person; with it the person sets their own password and, where their role needs two-step
login, enrols their authenticator in the same step. A link:

- is valid for ``LINK_HOURS`` hours, and works once;
- is kept only as the SHA-256 of its token: the database, its dumps and backups hold nothing
  that opens it (the token has 256 random bits, so its hash cannot be guessed back);
- is void once a newer link is issued for the same account;
- is in the audit log when issued, used, voided and found expired, never with its token.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from privacy.audit import log as audit
from privacy.staff import accounts, proposals, roles
from privacy.staff.models import SetupLink

LINK_HOURS = 24
TOKEN_BYTES = 32


class LinkRefused(Exception):
    """The link cannot be used: unknown, used, voided, expired, or its account is closed.
    ``reason`` is one of ``unknown``, ``used``, ``expired``, ``inactive``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Issued:
    link: SetupLink
    token: str  # shown once, never stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _void_unused(user, *, by, now) -> None:
    for link in SetupLink.objects.select_for_update().filter(
        user=user, used_at=None, voided_at=None
    ):
        link.voided_at = now
        link.save(update_fields=["voided_at"])
        audit.record(
            "accounts.setup_link.voided",
            target=user,
            actor=by,
            data={"link": link.pk, "expired": link.expires_at <= now},
        )


@transaction.atomic
def create_account(*, by, **details) -> tuple[User, "Issued"]:
    """A new personal account without a password (``accounts.create_staff``) and its first
    setup link, in one transaction."""
    user = accounts.create_staff(by=by, **details)
    return user, issue(user, by=by)


@transaction.atomic
def issue(user, *, by, reset: bool = False, reset_authenticator: bool = False) -> Issued:
    """A new link for ``user``; any earlier unused one is void. With ``reset`` (an existing
    account), the password stops working now and every session of the account ends; with
    ``reset_authenticator`` the authenticator and recovery codes are removed too, and the
    person enrols again through the link."""
    now = timezone.now()
    _void_unused(user, by=by, now=now)
    if reset:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        accounts.end_sessions(user, by=by, event="accounts.password_reset")
    if reset_authenticator:
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit.record("accounts.authenticator_reset", target=user, actor=by)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = SetupLink.objects.create(
        user=user,
        token_hash=token_hash(token),
        issued_by=by,
        issued_at=now,
        expires_at=now + timedelta(hours=LINK_HOURS),
        authenticator_reset=reset_authenticator,
    )
    audit.record(
        "accounts.setup_link.issued",
        target=user,
        actor=by,
        data={
            "link": link.pk,
            "reset": reset,
            "authenticator_reset": reset_authenticator,
            "expires_at": link.expires_at.isoformat(),
        },
    )
    return Issued(link=link, token=token)


def _find(token: str, *, for_update: bool = False) -> SetupLink | None:
    if not token or len(token) > 128:
        return None
    digest = token_hash(token)
    rows = SetupLink.objects.select_related("user")
    if for_update:
        rows = rows.select_for_update()
    link = rows.filter(token_hash=digest).first()
    # The lookup is by an index on the hash; compare once more in constant time.
    if link is None or not hmac.compare_digest(link.token_hash, digest):
        return None
    return link


def check(token: str, *, for_update: bool = False) -> SetupLink:
    """The link this token opens, if it may still be used; else ``LinkRefused``. An expired
    link seen for the first time is recorded as expired (and void from then on)."""
    link = _find(token, for_update=for_update)
    if link is None:
        raise LinkRefused("unknown")
    if link.used_at is not None:
        raise LinkRefused("used")
    if link.voided_at is not None:
        raise LinkRefused("expired")
    now = timezone.now()
    if link.expires_at <= now:
        with transaction.atomic():
            updated = SetupLink.objects.filter(pk=link.pk, voided_at=None, used_at=None).update(
                voided_at=now
            )
            if updated:
                audit.record(
                    "accounts.setup_link.expired", target=link.user, data={"link": link.pk}
                )
        raise LinkRefused("expired")
    if not link.user.is_active:
        raise LinkRefused("inactive")
    return link


def needs_authenticator(user) -> bool:
    """Whether setting up this account includes two-step login: the roles that need it, and
    anyone who already has an authenticator; and a proposed manager, whose role waits for a
    second person (issue 15: privacy.staff.proposals)."""
    return accounts.requires_two_factor(user) or proposals.role_waits(user, roles.MANAGER)


@transaction.atomic
def complete(token: str, *, password: str, device: TOTPDevice | None = None) -> SetupLink:
    """Use the link: set the password (already checked by the validators) and, when given,
    confirm the authenticator the person just enrolled. All or nothing; the link is used."""
    from axes.utils import reset as axes_reset

    from privacy.staff.backends import login_name_digest

    link = check(token, for_update=True)
    user = link.user
    now = timezone.now()
    link.used_at = now
    link.save(update_fields=["used_at"])
    user.set_password(password)
    user.save(update_fields=["password"])
    enrolled = False
    if device is not None:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        enrolled = True
    # The person proved they hold the link the administrator gave them: failed logins
    # counted before (a forgotten password) no longer lock the account.
    axes_reset(username=login_name_digest(user.username))
    audit.record(
        "accounts.setup_link.used",
        target=user,
        actor=user,
        data={"link": link.pk, "authenticator_enrolled": enrolled},
    )
    return link


def pending_for(user_ids) -> dict[int, SetupLink]:
    """The open link of each account, if any (for the staff list)."""
    now = timezone.now()
    rows = SetupLink.objects.filter(
        user_id__in=list(user_ids), used_at=None, voided_at=None, expires_at__gt=now
    ).order_by("issued_at")
    return {link.user_id: link for link in rows}
