"""The manager's own reach, confirmed by a second person (issue 15).

Two things the manager could once do alone now wait for a second person
(``privacy.staff.two_person.confirmation_refusal``: another manager or the administrator,
never the manager who asked):

- access to a customer for themselves (「Find any customer」 → grant myself access): a
  proposal; the grant (``privacy.access.grants.grant``) is made when it is confirmed;
- an opening outside business hours longer than ``BOOKSHOP_OVERRIDE_CONFIRM_MINUTES``
  minutes: a proposal; the opening starts when it is confirmed and lasts the minutes asked
  for. A shorter one opens at once, as before.

Deciding any proposal (these, and the roles of ``privacy.staff.proposals``) is ``decide``:
it checks the rule, the state and the expiry, applies what was confirmed and records it, in
one transaction."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.access import grants, hours
from privacy.access.models import HoursOverride
from privacy.staff import proposals, roles
from privacy.staff.models import ProposalKind, ProposalStatus, SecondPersonProposal
from privacy.staff.proposals import ProposalRefused

__all__ = ["ProposalRefused", "decide", "open_or_propose_override", "propose_grant_self"]


def pending_grant_self(user) -> set:
    """The customers ``user`` asked to see and that wait for a second person (shown
    確認待ち on 「Find any customer」)."""
    return set(
        SecondPersonProposal.objects.filter(
            kind=ProposalKind.GRANT_SELF,
            status=ProposalStatus.PENDING,
            proposed_by=user,
            expires_at__gt=timezone.now(),
        ).values_list("customer_id", flat=True)
    )


@transaction.atomic
def propose_grant_self(customer, *, by, reason: str) -> tuple[SecondPersonProposal, bool]:
    """The manager asks to see ``customer`` themselves: nothing is granted until a second
    person confirms. (proposal, created now?)."""
    if not roles.has_role(by, roles.MANAGER):
        raise ProposalRefused(_("Only a manager can do this."))
    proposals.expired_now(kind=ProposalKind.GRANT_SELF, proposed_by=by, customer=customer)
    return proposals.create(
        ProposalKind.GRANT_SELF,
        by=by,
        event="privacy.access.grant_self_proposed",
        customer=customer,
        reason=reason,
    )


def pending_override(user) -> SecondPersonProposal | None:
    """The opening ``user`` asked for that waits for a second person, if any."""
    return (
        SecondPersonProposal.objects.filter(
            kind=ProposalKind.HOURS,
            status=ProposalStatus.PENDING,
            proposed_by=user,
            expires_at__gt=timezone.now(),
        )
        .order_by("-proposed_at")
        .first()
    )


@transaction.atomic
def open_or_propose_override(
    *, by, reason: str, minutes: int
) -> HoursOverride | SecondPersonProposal:
    """Up to ``BOOKSHOP_OVERRIDE_CONFIRM_MINUTES`` minutes: open at once (``hours``);
    longer: a proposal, opened when a second person confirms it."""
    if minutes <= settings.BOOKSHOP_OVERRIDE_CONFIRM_MINUTES:
        return hours.open_override(by=by, reason=reason, minutes=minutes)
    minutes = min(minutes, settings.BOOKSHOP_OVERRIDE_MAX_MINUTES)
    proposal, _created = proposals.create(
        ProposalKind.HOURS,
        by=by,
        event="privacy.hours.override_proposed",
        reason=reason,
        minutes=minutes,
    )
    return proposal


def _apply(proposal: SecondPersonProposal) -> None:
    if proposal.kind == ProposalKind.ROLE:
        proposals.apply_role(proposal)
        return
    # The manager's own reach: only while they still are an active manager.
    proposer = proposal.proposed_by
    if not (proposer.is_active and roles.has_role(proposer, roles.MANAGER)):
        raise ProposalRefused(
            _("The person who asked is no longer a manager; nothing was changed.")
        )
    if proposal.kind == ProposalKind.GRANT_SELF:
        grants.grant(proposal.customer, to=proposer, reason=proposal.reason, by=proposer)
    elif proposal.kind == ProposalKind.HOURS:
        hours.open_override(by=proposer, reason=proposal.reason, minutes=proposal.minutes)


def decide(proposal_id, *, by, confirm: bool) -> SecondPersonProposal:
    """Confirm (apply it) or refuse a proposal, as ``by``. ``ProposalRefused`` with what to
    do when ``by`` may not, or it was decided already or expired: nothing changed."""
    try:
        with transaction.atomic():
            proposal = proposals.lock_pending(proposal_id, by=by)
            if confirm:
                _apply(proposal)
                proposals.close(proposal, by=by, status=ProposalStatus.CONFIRMED)
            else:
                proposals.close(proposal, by=by, status=ProposalStatus.REFUSED)
    except proposals.ProposalExpired as expired:
        # Marked expired (and recorded) after the refused transaction, so that it holds.
        proposals.mark_expired(expired.proposal_id)
        raise
    return proposal
