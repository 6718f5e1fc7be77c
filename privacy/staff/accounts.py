"""Staff accounts: created, end-dated, deactivated (never deleted, so the audit log keeps its
actors), released from lockout, and made to acknowledge the shop's handling rules."""

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from privacy.audit import log as audit
from privacy.core.prepared import prepared
from privacy.staff import proposals, roles
from privacy.staff.models import HandlingRules, RulesAcknowledgement, StaffProfile


class RulesNotAcknowledged(Exception):
    """The user has not acknowledged the current handling rules yet."""


def profile_for(user) -> StaffProfile:
    profile, _ = StaffProfile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def create_staff(*, by, username, last_name, first_name, role, valid_until=None, counter=False):
    """A personal account without a usable password: nobody can log in with it until its
    person sets their own password with a setup link (``privacy.staff.setup_links``)."""
    user = User.objects.create_user(
        username=username, password=None, last_name=last_name, first_name=first_name
    )
    # Issue 15: a role or team that reaches customer data is proposed, and added only when a
    # second person confirms it (privacy.staff.proposals); the administrator role at once.
    proposals.propose_role(user, role, by=by)
    if counter:
        proposals.propose_membership(user, roles.counter_team(), by=by)
    StaffProfile.objects.create(user=user, valid_until=valid_until)
    audit.record("accounts.created", target=user, actor=by, data={"role": role})
    return user


@transaction.atomic
def end_sessions(user, *, by=None, event="accounts.sessions_ended") -> None:
    """Every open session of the account stops working at its next request."""
    profile = profile_for(user)
    profile.sessions_revoked_at = timezone.now()
    profile.save(update_fields=["sessions_revoked_at"])
    audit.record(event, target=user, actor=by)


@transaction.atomic
def deactivate(user, *, by) -> None:
    """Deactivate, never delete: the audit log keeps its actor."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    end_sessions(user, by=by, event="accounts.deactivated")


@transaction.atomic
def set_end_date(user, *, valid_until, by) -> None:
    profile = profile_for(user)
    profile.valid_until = valid_until
    profile.save(update_fields=["valid_until"])
    audit.record(
        "accounts.end_date_set",
        target=user,
        actor=by,
        data={"valid_until": valid_until.isoformat() if valid_until else None},
    )


def release_lockout(user, *, by) -> None:
    """Forget the account's failed logins (kept by the keyed hash of its name)."""
    from axes.utils import reset

    from privacy.staff.backends import login_name_digest

    reset(username=login_name_digest(user.username))
    audit.record("auth.lockout.released", target=user, actor=by)


def current_rules() -> HandlingRules | None:
    return HandlingRules.objects.order_by("-version").first()


@transaction.atomic
def publish_rules(*, text: str, by) -> HandlingRules:
    """A new version of the handling rules; every staff member must acknowledge it."""
    latest = current_rules()
    rules = HandlingRules.objects.create(
        version=(latest.version + 1) if latest else 1, text=text, published_by=by
    )
    audit.record(
        "accounts.rules_published", target=rules, actor=by, data={"version": rules.version}
    )
    return rules


def acknowledge(user, rules: HandlingRules) -> None:
    _, created = RulesAcknowledgement.objects.get_or_create(rules=rules, user=user)
    if created:
        audit.record(
            "accounts.rules_acknowledged", target=rules, actor=user, data={"version": rules.version}
        )


def rules_pending(user_id: int):
    """An expression, true when the latest handling rules wait for this user's
    acknowledgement (false while there are no rules at all)."""
    from django.db.models import Exists, OuterRef, Subquery

    latest = HandlingRules.objects.order_by("-version").values("pk")[:1]
    acked = RulesAcknowledgement.objects.filter(rules=OuterRef("pk"), user=user_id)
    return Exists(HandlingRules.objects.filter(pk=Subquery(latest)).filter(~Exists(acked)))


@prepared(user_id=int)
def _latest_rules_acknowledged(user_id):
    from django.db.models import Exists, OuterRef

    return (
        HandlingRules.objects.order_by("-version")
        .annotate(
            acked=Exists(RulesAcknowledgement.objects.filter(rules=OuterRef("pk"), user=user_id))
        )
        .values_list("acked", flat=True)[:1]
    )


def has_acknowledged(user) -> bool:
    """The latest rules and whether this user acknowledged them, in one query."""
    latest = _latest_rules_acknowledged(user_id=user.pk) if user.pk is not None else [False]
    return not latest or bool(latest[0])


def ensure_acknowledged(user) -> None:
    """Called before customer data is read."""
    if not has_acknowledged(user):
        raise RulesNotAcknowledged


def requires_two_factor(user) -> bool:
    return roles.has_role(user, roles.MANAGER, roles.ADMINISTRATOR) or has_confirmed_device(user)


def has_confirmed_device(user) -> bool:
    """django_otp.user_has_device in one query (it asks each device model in turn): every
    installed device model's confirmed devices of this user, joined by UNION."""
    from django_otp import device_classes

    if user is None or user.is_anonymous:
        return False
    queries = [
        model.objects.devices_for_user(user, confirmed=True).values_list("user_id", flat=True)
        for model in device_classes()
    ]
    if not queries:
        return False
    union = queries[0].union(*queries[1:]) if len(queries) > 1 else queries[0]
    return union.exists()
