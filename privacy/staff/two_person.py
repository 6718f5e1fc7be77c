"""The two-person rule (four eyes), written once: a step that needs a second person is decided
by a member of the counter staff (a shop has one manager, so a clerk may be the second
person) who did not propose it. Retention batches, bulk exports, customers' requests and the
deletion of third-party provision records all ask here."""

from django.utils.translation import gettext_lazy as _

from privacy.staff import roles

OWN_PROPOSAL = _("A second staff member must approve this; you proposed it.")
OWN_REQUEST = _("A second staff member must approve this; you asked for it.")
NOT_COUNTER_STAFF = _("Only a member of the counter staff can approve this.")


def _refusal(proposer_id, user, own):
    if not roles.has_role(user, *roles.COUNTER):
        return NOT_COUNTER_STAFF
    if proposer_id is not None and proposer_id == user.pk:
        return own
    return None


def may_decide(proposer_id, user) -> bool:
    """Whether ``user`` may be the second person for what ``proposer_id`` proposed (False
    while nothing is proposed)."""
    return proposer_id is not None and _refusal(proposer_id, user, OWN_PROPOSAL) is None


def require_counter_staff(user, error_class: type[Exception]) -> None:
    """Raise ``error_class`` unless ``user`` may be a second person at all: for the steps
    that need no proposal of someone else (refusing a batch, withdrawing an export), and to
    refuse before a row is locked."""
    require_second_person(None, user, error_class)


def require_second_person(
    proposer_id, user, error_class: type[Exception], *, own=OWN_PROPOSAL
) -> None:
    """Raise ``error_class`` with the translated reason unless ``user`` may decide what
    ``proposer_id`` proposed. ``own`` is the reason given to the proposer themselves
    (``OWN_REQUEST`` where they asked rather than proposed)."""
    refusal = _refusal(proposer_id, user, own)
    if refusal is not None:
        raise error_class(str(refusal))


# --- Confirmations (issue 15): what widens someone's reach to customer data --------------
#
# A role or team for an account, the manager's access to a customer for themselves, and a
# long opening outside business hours take effect only when a second person confirms them
# (privacy.staff.proposals). The rule, once:
#
# - the confirmer is the manager or the administrator, and never the person who proposed it
#   nor the account that would gain the role;
# - what an administrator proposed, only a manager confirms: the administrator makes
#   accounts but never reads customer data, so two administrators together must not be able
#   to make someone who does;
# - what a manager proposed (a role, access to a customer for themselves, a long opening),
#   another manager or the administrator confirms. Not a clerk: a clerk works for the
#   manager and is not independent of them. The administrator may: confirming that the
#   manager may open customer C-1A2B3C4D for a stated reason shows the administrator only
#   that reference and the reason (the form asks the manager not to name the customer in
#   it), never the customer's data, and a shop has one manager, so the administrator is
#   usually the only person independent of them.

OWN_ROLE = _("Nobody confirms a role given to themselves: the manager or the administrator must.")
CONFIRM_OWN_PROPOSAL = _(
    "You proposed this, so someone else must confirm it: the manager for what the "
    "administrator proposed, the administrator (or another manager) for what a manager "
    "proposed."
)
ADMINISTRATOR_PROPOSED = _(
    "An administrator proposed this: only the manager can confirm it. Ask the manager to "
    "open it from 「Awaiting approval」."
)
NOT_CONFIRMER = _("Only the manager or the administrator can confirm this.")


def confirmation_refusal(proposer_id, proposed_as, user, *, account_id=None):
    """Why ``user`` may not confirm (or refuse) what ``proposer_id``, acting as the role
    ``proposed_as``, proposed (for ``account_id``, when it gives someone a role); ``None``
    when they may."""
    held = roles.roles_of(user)
    if not held & {roles.MANAGER, roles.ADMINISTRATOR}:
        return NOT_CONFIRMER
    if proposer_id == user.pk:
        return CONFIRM_OWN_PROPOSAL
    if account_id is not None and account_id == user.pk:
        return OWN_ROLE
    if roles.MANAGER not in held and proposed_as != roles.MANAGER:
        return ADMINISTRATOR_PROPOSED
    return None


def confirmer_roles_for(user) -> set[str] | None:
    """The proposers' roles whose proposals ``user`` may confirm (the inbox's filter), or
    ``None`` when they confirm nothing."""
    held = roles.roles_of(user)
    if roles.MANAGER in held:
        return {roles.MANAGER, roles.ADMINISTRATOR, roles.CLERK}
    if roles.ADMINISTRATOR in held:
        return {roles.MANAGER}
    return None


def require_confirmer(
    proposer_id, proposed_as, user, error_class: type[Exception], *, account_id=None
) -> None:
    """Raise ``error_class`` with the translated reason unless ``user`` may confirm."""
    refusal = confirmation_refusal(proposer_id, proposed_as, user, account_id=account_id)
    if refusal is not None:
        raise error_class(str(refusal))
