"""How a typed login name becomes an account, and what the lockout keeps of it.

A failed login's typed name is often not a username at all: a customer's name or phone
number typed into the wrong field, or a password typed one field too early. django-axes
counts failures by that name and keeps it in its tables, which reach dumps, the WAL and
backups. So axes is given a keyed hash of the name (``AXES_USERNAME_CALLABLE``), never the
name: enough to count failures and lock the account, and the administrator's pages turn a
hash back into a name only when it is an existing account's (``accounts_by_digest``)."""

import hmac

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.utils import timezone

from privacy.staff.records import contractors
from privacy.vault import crypto, keyring, normalize

# The name of the key derived from the keyring's index root for login names. A new index
# root (key rotation) starts the failure counts afresh: a lockout does not survive it.
LOGIN_NAME_KEY = "staff.login_name"
DIGEST_PREFIX = "hmac:"


def login_name(typed: str | None) -> str:
    """One spelling for one login name: NFKC (full-width letters become half-width), no
    control characters or outer spaces, lower case. 「Ｔａｎａｋａ」 and "tanaka" are one name."""
    return normalize.text(typed or "").lower()


def _digester():
    """Digests under the current keyring's login-name key (read once for many names)."""
    key = keyring.load().index_key(LOGIN_NAME_KEY)

    def digest(typed: str | None) -> str | None:
        name = login_name(typed)
        if not name:
            return None
        return DIGEST_PREFIX + crypto.keyed_hash(key, name.encode()).hex()

    return digest


def login_name_digest(typed: str | None) -> str | None:
    """The keyed hash that stands for a typed login name wherever a failed login is kept;
    None for an empty name."""
    return _digester()(typed)


def accounts_by_digest() -> dict[str, User]:
    """Every account by the digest of its username: staff accounts are few."""
    digest = _digester()
    return {digest(user.username): user for user in User.objects.all()}


def account_for_digest(digest: str | None) -> User | None:
    """The account whose username has this digest, if any."""
    if not digest:
        return None
    for known, user in accounts_by_digest().items():
        if known and hmac.compare_digest(known, digest):
            return user
    return None


def axes_username(request, credentials=None) -> str | None:
    """``AXES_USERNAME_CALLABLE``: what django-axes keeps and counts instead of the name."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        typed = credentials.get(field)
    else:
        typed = getattr(request, "data", None) or getattr(request, "POST", {})
        typed = typed.get(field) if hasattr(typed, "get") else None
    return login_name_digest(typed if isinstance(typed, str) else None)


class StaffBackend(ModelBackend):
    """Django's backend, refusing deactivated accounts and accounts past their end date.

    Because ``get_user`` asks the same question, a session of such an account stops working
    at its next request. The typed name is normalized as ``login_name`` does, so the lockout
    (which counts by that normalized name) and the login agree on who was meant."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None:
            username = self._account_username(username)
        return super().authenticate(request, username=username, password=password, **kwargs)

    @staticmethod
    def _account_username(typed: str) -> str:
        name = login_name(typed)
        if not name:
            return typed
        # Accounts made by the staff page are lower case; one made by ``createsuperuser``
        # may not be: the exact name first, else the single account that differs in case.
        found = list(
            User.objects.filter(username__iexact=name).values_list("username", flat=True)[:3]
        )
        if name in found or len(found) != 1:
            return name
        return found[0]

    def get_user(self, user_id):
        """The session's user, with its staff profile and whether a contractor's contract has
        ended, in one query (this runs on every request)."""
        try:
            user = (
                User._default_manager.select_related("staff_profile")
                .annotate(_contract_ended=contractors.contract_ended_expression())
                .get(pk=user_id)
            )
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def user_can_authenticate(self, user):
        if not super().user_can_authenticate(user):
            return False
        profile = getattr(user, "staff_profile", None)
        if profile and profile.valid_until and profile.valid_until < timezone.localdate():
            return False
        return not contractors.contract_ended(user)  # a contractor's account ends with it
