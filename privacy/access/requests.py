"""Access requests: a clerk asks the manager to see a customer hidden from them, and the
manager grants or refuses. Filed by the counter when a new customer it was about to save
matches a record the clerk may not see (customers.selectors.hidden_duplicates), so that the
shop keeps one record per person without showing the clerk anything of the other one.

Every step is in the audit log under the customer (filed, granted, refused); the entries
name the request and the people, never the customer's data."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from privacy.access import grants
from privacy.access.models import AccessGrant, AccessOutcome, AccessRequest, GrantKind
from privacy.audit import log as audit
from privacy.staff import roles


class AccessRequestError(Exception):
    """A step the request's state or the person's role does not allow (shown to them)."""


# The reason a request filed by the counter carries (no personal data: the manager opens
# the customer to see who it is).
DUPLICATE_REASON = gettext_noop(
    "A new customer typed at the counter matched this record (phone and reading)."
)


def file_request(customer, *, by, reason: str = DUPLICATE_REASON) -> tuple[AccessRequest, bool]:
    """The clerk's open request on this customer: (request, True) when filed now, (the one
    already waiting, False) when the clerk asked before and the manager has not decided."""
    existing = AccessRequest.objects.filter(
        customer=customer, requested_by=by, outcome=AccessOutcome.PENDING
    ).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            request = AccessRequest.objects.create(
                customer=customer, requested_by=by, reason=reason
            )
    except IntegrityError:  # the same clerk's second click, a moment after the first
        return (
            AccessRequest.objects.get(
                customer=customer, requested_by=by, outcome=AccessOutcome.PENDING
            ),
            False,
        )
    audit.record(
        "privacy.access_request.filed",
        target=customer,
        actor=by,
        data={"request": request.reference, "requested_by": by.pk},
    )
    return request, True


def pending():
    """Requests waiting for the manager, oldest first."""
    return (
        AccessRequest.objects.filter(outcome=AccessOutcome.PENDING)
        .select_related("requested_by")
        .order_by("created_at")
    )


def _locked_pending(request_id, *, by) -> AccessRequest:
    if not roles.has_role(by, roles.MANAGER):
        raise AccessRequestError(_("Only a manager can do this."))
    request = (
        AccessRequest.objects.select_for_update(of=("self",))
        .select_related("customer", "requested_by")
        .get(pk=request_id)
    )
    if not request.is_pending:
        raise AccessRequestError(_("This access request was already decided."))
    return request


@transaction.atomic
def grant(request_id, *, by, expires_at=None) -> AccessGrant:
    """The manager lets the clerk see the customer: an access grant by name, through the
    grants service (guardian row, AccessGrant, its own audit entry), and the request closed."""
    request = _locked_pending(request_id, by=by)
    if request.customer.erased_at is not None:
        raise AccessRequestError(_("This customer was erased; there is nothing to grant."))
    if not request.requested_by.is_active:
        raise AccessRequestError(_("This staff account is no longer active."))
    record = grants.grant(
        request.customer,
        to=request.requested_by,
        reason=f"access request {request.reference}",
        by=by,
        kind=GrantKind.MANUAL,
        expires_at=expires_at,
    )
    request.outcome = AccessOutcome.GRANTED
    request.decided_by, request.decided_at = by, timezone.now()
    request.grant = record
    request.save(update_fields=["outcome", "decided_by", "decided_at", "grant"])
    audit.record(
        "privacy.access_request.granted",
        target=request.customer,
        actor=by,
        data={"request": request.reference, "grant": record.pk},
    )
    return record


@transaction.atomic
def refuse(request_id, *, by) -> AccessRequest:
    """The manager says no: the request is closed, the clerk still sees nothing."""
    request = _locked_pending(request_id, by=by)
    request.outcome = AccessOutcome.REFUSED
    request.decided_by, request.decided_at = by, timezone.now()
    request.save(update_fields=["outcome", "decided_by", "decided_at"])
    audit.record(
        "privacy.access_request.refused",
        target=request.customer,
        actor=by,
        data={"request": request.reference},
    )
    return request
