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
