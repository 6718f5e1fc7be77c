"""No one person gives themselves (or a puppet) access: proposals a second person confirms.

A role or team that reaches customer data (clerk, manager, the counter team, any team the
manager can grant customers to) is not added to an account when the administrator chooses
it: a ``SecondPersonProposal`` is stored, and the group membership is added only when a
second person confirms it (``privacy.staff.two_person.confirmation_refusal`` says who). Every
access check reads groups, so none of them changes: until then the account logs in, sees
its own account and the approvals list, and no customer. Removing a role or team takes
effect at once (reducing access needs nobody's consent). The administrator role reads no
customer data and is added at once, recorded.

The manager's access to a customer for themselves and a long opening outside business
hours are proposals of the same kind; the access layer applies them
(``privacy.access.confirmations``).

Proposals expire after ``EXPIRY_DAYS`` days. Every proposal, confirmation, refusal, expiry
and withdrawal is in the audit log with the proposal's reference and the people, never
personal data (the reason stays on the proposal, where the confirmer reads it)."""

from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.audit import log as audit
from privacy.core import inbox
from privacy.staff import roles, two_person
from privacy.staff.models import ProposalKind, ProposalStatus, SecondPersonProposal

EXPIRY_DAYS = 7


class ProposalRefused(Exception):
    """A decision the proposal's state or the person's role does not allow (shown to them)."""


class ProposalExpired(ProposalRefused):
    """The proposal waited longer than ``EXPIRY_DAYS`` days (``mark_expired`` records it)."""

    def __init__(self, proposal_id):
        super().__init__(
            _(
                "This proposal expired (proposals wait %(days)s days); nothing was changed. "
                "If it is still needed, it must be proposed again."
            )
            % {"days": EXPIRY_DAYS}
        )
        self.proposal_id = proposal_id


def reaches_customer_data(group: Group) -> bool:
    """Every role and team but the administrator's: clerks and managers read customers,
    and the manager can grant customers to any team."""
    return group.name != roles.ADMINISTRATOR


def proposer_role(user) -> str:
    """The role a proposal is made as (who may confirm depends on it)."""
    held = roles.roles_of(user)
    for name in (roles.MANAGER, roles.ADMINISTRATOR, roles.CLERK):
        if name in held:
            return name
    return ""


def _audit_target(proposal: SecondPersonProposal):
    if proposal.kind == ProposalKind.ROLE:
        return proposal.account
    if proposal.kind == ProposalKind.GRANT_SELF:
        return proposal.customer
    return proposal


def _event_data(proposal: SecondPersonProposal, **extra) -> dict:
    """References only: the proposal, its kind, the people; the role or team by its code."""
    data = {
        "proposal": proposal.reference,
        "kind": proposal.kind,
        "proposed_by": proposal.proposed_by_id,
    }
    if proposal.kind == ProposalKind.ROLE:
        data.update(account=proposal.account_id, group=proposal.group.name)
    if proposal.kind == ProposalKind.HOURS:
        data["minutes"] = proposal.minutes
    data.update(extra)
    return data


def create(kind: str, *, by, event: str, **fields) -> tuple[SecondPersonProposal, bool]:
    """Store a proposal and record it: (proposal, True); or (the same one already waiting,
    False) when it was proposed before and nobody decided yet."""
    now = timezone.now()
    try:
        with transaction.atomic():
            proposal = SecondPersonProposal.objects.create(
                kind=kind,
                proposed_by=by,
                proposed_as=proposer_role(by),
                proposed_at=now,
                expires_at=now + timedelta(days=EXPIRY_DAYS),
                **fields,
            )
    except IntegrityError:  # one waiting proposal of a kind per account and team / customer
        existing = (
            SecondPersonProposal.objects.filter(kind=kind, status=ProposalStatus.PENDING)
            .filter(**{k: v for k, v in fields.items() if k in ("account", "group", "customer")})
            .first()
        )
        if existing is None:
            raise
        return existing, False
    audit.record(event, target=_audit_target(proposal), actor=by, data=_event_data(proposal))
    return proposal, True


# --- Roles and teams ---------------------------------------------------------------------


@transaction.atomic
def propose_membership(account, group: Group, *, by) -> SecondPersonProposal | None:
    """The administrator (or a manager) gives ``account`` a role or team: a proposal that a
    second person confirms; the administrator role is added at once. ``None`` when nothing
    waits (added at once, or the account already has it)."""
    if account.groups.filter(pk=group.pk).exists():
        return None
    if not reaches_customer_data(group):
        account.groups.add(group)
        audit.record("accounts.role_added", target=account, actor=by, data={"group": group.name})
        return None
    expired_now(account=account, group=group)
    proposal, _created = create(
        ProposalKind.ROLE,
        by=by,
        event="accounts.role_proposed",
        account=account,
        group=group,
    )
    return proposal


def propose_role(account, name: str, *, by) -> SecondPersonProposal | None:
    """``propose_membership`` by the group's name (a role code, or a team's name)."""
    return propose_membership(account, Group.objects.get_or_create(name=name)[0], by=by)


@transaction.atomic
def remove_membership(account, group: Group, *, by) -> None:
    """Take a role or team away: at once, recorded; a proposal of it still waiting is
    withdrawn (it would give back what was just taken)."""
    if account.groups.filter(pk=group.pk).exists():
        account.groups.remove(group)
        audit.record("accounts.role_removed", target=account, actor=by, data={"group": group.name})
    for proposal in SecondPersonProposal.objects.select_for_update().filter(
        kind=ProposalKind.ROLE, account=account, group=group, status=ProposalStatus.PENDING
    ):
        close(proposal, by=by, status=ProposalStatus.WITHDRAWN, event="accounts.role_withdrawn")


def pending_roles(account_ids) -> dict[int, list[str]]:
    """Per account, the roles and teams (as staff read them) proposed and not yet
    confirmed: shown 確認待ち on the staff list. One query."""
    rows = (
        SecondPersonProposal.objects.filter(
            kind=ProposalKind.ROLE,
            status=ProposalStatus.PENDING,
            expires_at__gt=timezone.now(),
            account_id__in=list(account_ids),
        )
        .order_by("proposed_at")
        .values_list("account_id", "group__name")
    )
    pending: dict[int, list[str]] = {}
    for account_id, name in rows:
        pending.setdefault(account_id, []).append(roles.group_label(name))
    return pending


def role_waits(account, *names: str) -> bool:
    """Whether one of these roles is proposed for ``account`` and not yet decided (a
    proposed manager enrols their authenticator when they set up their account)."""
    return SecondPersonProposal.objects.filter(
        kind=ProposalKind.ROLE,
        status=ProposalStatus.PENDING,
        account=account,
        group__name__in=names,
        expires_at__gt=timezone.now(),
    ).exists()


# --- Deciding ------------------------------------------------------------------------------


def expired_now(**filters) -> int:
    """Mark waiting proposals past their day as expired, each recorded. ``filters`` narrow
    which (an account and group, a proposer and customer)."""
    now = timezone.now()
    count = 0
    for proposal in SecondPersonProposal.objects.select_for_update().filter(
        status=ProposalStatus.PENDING, expires_at__lte=now, **filters
    ):
        close(proposal, by=None, status=ProposalStatus.EXPIRED, event=_event(proposal, "expired"))
        count += 1
    return count


# Every event a decision writes, spelt out (the audit page labels each, found by scanning the
# code for literal codes).
_EVENTS = {
    (ProposalKind.ROLE, "confirmed"): "accounts.role_confirmed",
    (ProposalKind.ROLE, "refused"): "accounts.role_refused",
    (ProposalKind.ROLE, "expired"): "accounts.role_expired",
    (ProposalKind.ROLE, "withdrawn"): "accounts.role_withdrawn",
    (ProposalKind.GRANT_SELF, "confirmed"): "privacy.access.grant_self_confirmed",
    (ProposalKind.GRANT_SELF, "refused"): "privacy.access.grant_self_refused",
    (ProposalKind.GRANT_SELF, "expired"): "privacy.access.grant_self_expired",
    (ProposalKind.GRANT_SELF, "withdrawn"): "privacy.access.grant_self_withdrawn",
    (ProposalKind.HOURS, "confirmed"): "privacy.hours.override_confirmed",
    (ProposalKind.HOURS, "refused"): "privacy.hours.override_refused",
    (ProposalKind.HOURS, "expired"): "privacy.hours.override_expired",
    (ProposalKind.HOURS, "withdrawn"): "privacy.hours.override_withdrawn",
}


def _event(proposal: SecondPersonProposal, what: str) -> str:
    return _EVENTS[(proposal.kind, what)]


def close(proposal: SecondPersonProposal, *, by, status: str, event: str | None = None) -> None:
    proposal.status = status
    proposal.decided_by = by
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    event = event or _event(proposal, status)
    audit.record(
        event,
        target=_audit_target(proposal),
        actor=by,
        data=_event_data(proposal, decided_by=by.pk if by else None),
    )


def lock_pending(proposal_id, *, by) -> SecondPersonProposal:
    """The proposal, locked, if ``by`` may decide it now; else ``ProposalRefused`` with what
    to do (nothing changed, but an expired proposal is marked expired, and recorded)."""
    found = (
        SecondPersonProposal.objects.filter(pk=proposal_id)
        .values_list("proposed_by_id", "proposed_as", "account_id")
        .first()
    )
    if found is None:
        raise ProposalRefused(_("This proposal does not exist."))
    two_person.require_confirmer(found[0], found[1], by, ProposalRefused, account_id=found[2])
    proposal = (
        SecondPersonProposal.objects.select_for_update(of=("self",))
        .select_related("account", "group", "proposed_by")
        .get(pk=proposal_id)
    )
    if not proposal.is_pending:
        raise ProposalRefused(
            _("This proposal was already decided (%(status)s); nothing was changed.")
            % {"status": proposal.get_status_display()}
        )
    if proposal.expires_at <= timezone.now():
        raise ProposalExpired(proposal.pk)
    return proposal


@transaction.atomic
def mark_expired(proposal_id) -> None:
    """A waiting proposal found past its day: expired from now on, recorded once."""
    proposal = (
        SecondPersonProposal.objects.select_for_update(of=("self",))
        .select_related("account", "group")
        .filter(pk=proposal_id, status=ProposalStatus.PENDING)
        .first()
    )
    if proposal is not None:
        close(proposal, by=None, status=ProposalStatus.EXPIRED)


def apply_role(proposal: SecondPersonProposal) -> None:
    """The confirmed role or team, added to the account (an account closed meanwhile gets
    nothing)."""
    if not proposal.account.is_active:
        raise ProposalRefused(_("This account is deactivated; nothing was changed."))
    proposal.account.groups.add(proposal.group)


# --- The approvals inbox ------------------------------------------------------------------


def _waiting_rows(user, allowed_roles):
    return (
        SecondPersonProposal.objects.filter(
            status=ProposalStatus.PENDING,
            expires_at__gt=timezone.now(),
            proposed_as__in=sorted(allowed_roles),
        )
        .exclude(proposed_by=user.pk)
        .exclude(account=user.pk)
        .order_by("proposed_at")
        .values_list("pk", "reference", "kind", "proposed_at")
    )


def label(kind: str, reference: str) -> str:
    if kind == ProposalKind.ROLE:
        return _("Role for an account %(ref)s") % {"ref": reference}
    if kind == ProposalKind.GRANT_SELF:
        return _("Manager's own access %(ref)s") % {"ref": reference}
    return _("Opening outside hours %(ref)s") % {"ref": reference}


@inbox.register("second_person")
def waiting(user) -> list[inbox.Waiting]:
    """What ``user`` may confirm: one query, for the manager and the administrator only
    (everyone else answers without one)."""
    allowed = two_person.confirmer_roles_for(user)
    if not allowed:
        return []
    return [
        inbox.Waiting(
            "second_person",
            label(kind, reference),
            reverse("privacy:confirmation", args=[pk]),
            at,
        )
        for pk, reference, kind, at in _waiting_rows(user, allowed)
    ]
