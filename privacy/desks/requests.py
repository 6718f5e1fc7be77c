"""Customers' requests about their data, and complaints: intake, identity check, work,
a second person's approval, and deadlines. Every step is one guarded transition."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from privacy.access import decisions
from privacy.audit import log as audit
from privacy.audit.models import AuditLogEntry
from privacy.consent import purposes
from privacy.consent.models import PurposeSuspension
from privacy.desks.models import DataRequest, DisclosureRelease, RequestKind, RequestStatus
from privacy.staff import roles, two_person

S = RequestStatus

# What a request page shows of the person, named in its read entries.
FIELDS = ["requester_name", "requester_contact", "details", "reply", "extension_reason"]


def may_approve(item, user) -> bool:
    """Whether ``user`` may approve (or send back) the proposal now: it waits for approval,
    ``user`` is a member of the counter staff who did not propose it, and the manager chose
    ``user`` as the second person (or chose nobody)."""
    return (
        item.status == S.AWAITING_APPROVAL
        and two_person.may_decide(item.proposed_by_id, user)
        and item.second_person_id in (None, user.pk)
    )


def _reason_to_refuse(actor, item) -> str | None:
    if roles.has_role(actor, roles.MANAGER):
        return None
    handling = actor.pk in (item.owner_id, item.proposed_by_id)
    # Whoever took it at the counter may look at what they wrote until the manager takes it.
    receiving = item.status == S.RECEIVED and item.received_by_id == actor.pk
    if handling or receiving or may_approve(item, actor):
        return None
    return "neither handling nor approving this request"


def _may_read(actor, rows, purpose: str) -> str | None:
    """A request's personal fields are read by the manager, by the staff member handling it,
    by the staff member who took it at the counter while nobody has taken it up, and by the
    second person while it waits for their approval; nobody else."""
    for item in rows:
        reason = _reason_to_refuse(actor, item)
        if reason:
            return reason
    return None


def may_read(user, item) -> bool:
    """The request's own rule (not hours or handling rules: the gate asks those too)."""
    return _reason_to_refuse(user, item) is None


decisions.register(DataRequest, _may_read, event="privacy.request.read")


class RequestError(Exception):
    """A refused step; the message is shown to the staff member."""


TRANSITIONS = {
    S.RECEIVED: {S.IDENTITY_VERIFIED, S.AWAITING_APPROVAL},
    S.IDENTITY_VERIFIED: {S.IN_PROGRESS, S.AWAITING_APPROVAL},
    S.IN_PROGRESS: {S.AWAITING_APPROVAL},
    S.AWAITING_APPROVAL: {S.COMPLETED, S.REJECTED, S.IN_PROGRESS},
    S.COMPLETED: set(),
    S.REJECTED: set(),
}
WRONG_STEP = gettext_lazy("This request is “%(current)s”; that step is not possible now.")
NO_CUSTOMER_TO_ERASE = gettext_lazy(
    "No customer is linked to this erasure request, so there is nothing to erase. Send it "
    "back: a customer is linked at the identity check; if the person is not a customer, "
    "reject the request with that reason."
)
NOT_THE_SECOND_PERSON = gettext_lazy(
    "The manager chose another staff member to approve this request."
)


def _due(received_at) -> object:
    return timezone.localdate(received_at) + timedelta(days=settings.BOOKSHOP_REQUEST_DUE_DAYS)


def received_recently_from(address: str | None) -> int:
    """How many public-form submissions this address made in the last hour (from the
    audit log, so no address is kept with the request itself)."""
    if not address:
        return 0
    return AuditLogEntry.objects.filter(
        event="privacy.request.received_web",
        remote_addr=address,
        timestamp__gte=timezone.now() - timedelta(hours=1),
    ).count()


@transaction.atomic
def intake(
    *, kind: str, channel: str, name: str, contact: str, details: str, by=None
) -> DataRequest:
    """Record a request or complaint. Nothing here looks the person up: the answer is the
    same whether or not they are a customer."""
    now = timezone.now()
    request = DataRequest(
        kind=kind,
        channel=channel,
        requester_name=name,
        requester_contact=contact,
        details=details,
        received_at=now,
        received_by=by,
        due_date=_due(now),
    )
    request.full_clean()
    request.save()
    event = "privacy.request.received_web" if channel == "web" else "privacy.request.received"
    audit.record(event, target=request, actor=by, data={"kind": kind})
    return request


def _step(request_id, *, to: str, by, event: str, **changes) -> DataRequest:
    request = DataRequest.objects.select_for_update().get(pk=request_id)
    if to not in TRANSITIONS[request.status]:
        raise RequestError(WRONG_STEP % {"current": request.get_status_display()})
    # Its encrypted fields are written under its key: the actor must be one who may read it.
    decisions.decide(by, [request], purpose="request_handling", fields=["status", *changes])
    request.status = to
    for name, value in changes.items():
        setattr(request, name, value)
    request.save()
    audit.record(event, target=request, actor=by, data={"status": to})
    return request


@transaction.atomic
def verify_identity(*, request_id, method: str, customer=None, by) -> DataRequest:
    """Record how the person proved who they are (the method, never the document)."""
    return _step(
        request_id,
        to=S.IDENTITY_VERIFIED,
        by=by,
        event="privacy.request.identity_verified",
        identity_method=method,
        identity_checked_by=by,
        identity_checked_at=timezone.now(),
        customer=customer,
        owner=by,
    )


@transaction.atomic
def start_work(*, request_id, by) -> DataRequest:
    return _step(request_id, to=S.IN_PROGRESS, by=by, event="privacy.request.started", owner=by)


@transaction.atomic
def propose(*, request_id, outcome: str, reply: str, by, second_person=None) -> DataRequest:
    """Hand the finished work to a second person: complete it, or reject it with the reason
    the person will be told. ``second_person``: the staff member who is to approve it (None:
    any other member of the counter staff)."""
    if second_person is not None and not (
        second_person.is_active and two_person.may_decide(by.pk, second_person)
    ):
        raise RequestError(_("Choose another member of the counter staff as the second person."))
    if outcome not in ("complete", "reject"):
        raise RequestError(_("Choose to complete or to reject the request."))
    if not reply.strip():
        raise RequestError(
            _("Write the reason the person will be told.")
            if outcome == "reject"
            else _("Write the reply the person will be given.")
        )
    request = DataRequest.objects.get(pk=request_id)
    if (
        outcome == "complete"
        and request.kind != RequestKind.COMPLAINT
        and not request.identity_method
    ):
        raise RequestError(_("Check the person's identity before completing the request."))
    if outcome == "complete" and request.kind == RequestKind.ERASURE and not request.customer_id:
        raise RequestError(NO_CUSTOMER_TO_ERASE)
    return _step(
        request_id,
        to=S.AWAITING_APPROVAL,
        by=by,
        event="privacy.request.proposed",
        proposed_outcome=outcome,
        proposed_by=by,
        second_person=second_person,
        reply=reply.strip(),
    )


@transaction.atomic
def approve(*, request_id, by) -> DataRequest:
    """The second person approves the proposed outcome. The proposer cannot approve it."""
    request = DataRequest.objects.select_for_update().get(pk=request_id)
    two_person.require_second_person(request.proposed_by_id, by, RequestError)
    if request.second_person_id not in (None, by.pk):
        raise RequestError(str(NOT_THE_SECOND_PERSON))
    if request.status != S.AWAITING_APPROVAL:
        raise RequestError(WRONG_STEP % {"current": request.get_status_display()})
    target = S.COMPLETED if request.proposed_outcome == "complete" else S.REJECTED
    if target == S.COMPLETED and request.kind == RequestKind.ERASURE:
        from privacy.desks import erasure

        if request.customer is None:
            raise RequestError(str(NO_CUSTOMER_TO_ERASE))
        try:
            erasure.erase_customer(request.customer, by=by)
        except erasure.ErasureRefused as refused:
            raise RequestError(str(refused)) from None
    approved = _step(
        request_id,
        to=target,
        by=by,
        event="privacy.request.approved",
        decided_by=by,
        decided_at=timezone.now(),
    )
    return approved


def may_correct(item, user) -> bool:
    """A correction (訂正等) goes through the request only while it is worked, by the
    manager handling it, for the customer linked at the identity check."""
    return (
        item.kind == RequestKind.CORRECTION
        and item.customer_id is not None
        and item.status == S.IN_PROGRESS
        and item.owner_id == user.pk
    )


def may_release(item, user) -> bool:
    """The one-time disclosure link goes to the manager who handled the request, after a
    second person approved it, and only once; never to the approver."""
    return (
        item.kind == RequestKind.DISCLOSURE
        and item.status == S.COMPLETED
        and item.customer_id is not None
        and roles.has_role(user, roles.MANAGER)
        and user.pk == (item.owner_id or item.proposed_by_id)
        and not DisclosureRelease.objects.filter(request=item).exists()
    )


@transaction.atomic
def release_disclosure(*, request_id, by) -> str:
    """Issue the one-time link for an approved disclosure to the manager handling it; the
    token is returned once."""
    from privacy.desks import disclosure

    item = DataRequest.objects.select_for_update().get(pk=request_id)
    if not may_release(item, by):
        raise RequestError(
            _("Only the manager handling this approved disclosure can issue its link, once.")
        )
    return disclosure.release(item, by=by)


def stoppable_codes() -> set[str]:
    """The uses a request can stop: the current notice's purposes, and giving the data to
    third parties."""
    notice = purposes.current_notice()
    return {purposes.THIRD_PARTY, *(notice.codes if notice else ())}


@transaction.atomic
def suspend(*, request_id, purpose_codes: list[str], by) -> DataRequest:
    """Stop the chosen uses of the linked customer's data (利用停止), everywhere at once. The
    request keeps which uses it stopped."""
    request = DataRequest.objects.select_for_update().get(pk=request_id)
    if request.customer_id is None:
        raise RequestError(_("Link the customer (their reference) at the identity check first."))
    if request.status != S.IN_PROGRESS:
        raise RequestError(WRONG_STEP % {"current": request.get_status_display()})
    codes = list(dict.fromkeys(purpose_codes))
    if not codes:
        raise RequestError(_("Choose at least one use to stop."))
    if not set(codes) <= stoppable_codes():
        raise RequestError(_("Choose among the uses listed."))
    for code in codes:
        PurposeSuspension.objects.get_or_create(
            customer=request.customer, purpose=code, lifted_at=None, defaults={"recorded_by": by}
        )
    request.stopped_purposes = list(dict.fromkeys([*request.stopped_purposes, *codes]))
    request.save(update_fields=["stopped_purposes"])
    audit.record(
        "privacy.purposes.suspended",
        target=request.customer,
        actor=by,
        data={"purposes": codes, "request": request.reference},
    )
    return request


def stopped_uses(item) -> list[dict]:
    """What this request stopped, each with its label and its suspension: in force (since
    when) or lifted (when, by whom, why). One query."""
    if not item.stopped_purposes or item.customer_id is None:
        return []
    found = {}
    for suspension in (
        PurposeSuspension.objects.filter(
            customer_id=item.customer_id, purpose__in=item.stopped_purposes
        )
        .select_related("lifted_by")
        .order_by("since")
    ):
        found[suspension.purpose] = suspension  # the latest of each use
    return [
        {"code": code, "label": purposes.purpose_label(code), "suspension": found.get(code)}
        for code in item.stopped_purposes
    ]


@transaction.atomic
def lift_suspension(*, request_id, purpose: str, reason: str, by) -> None:
    """The manager lifts a stop this request made (the customer asked to be told again, or
    the stop was recorded in error): with a reason, kept with the suspension; the audit log
    records that it was lifted, by whom, for which use, and not the reason's words."""
    if not roles.has_role(by, roles.MANAGER):
        raise RequestError(_("Only a manager can do this."))
    reason = (reason or "").strip()
    if not reason:
        raise RequestError(_("Give a reason for lifting the stop."))
    request = DataRequest.objects.select_for_update().get(pk=request_id)
    if purpose not in request.stopped_purposes or request.customer_id is None:
        raise RequestError(_("This request did not stop that use."))
    suspension = (
        PurposeSuspension.objects.select_for_update()
        .filter(customer_id=request.customer_id, purpose=purpose, lifted_at__isnull=True)
        .first()
    )
    if suspension is None:
        raise RequestError(_("That use is not stopped any more."))
    suspension.lifted_at = timezone.now()
    suspension.lifted_by = by
    suspension.lift_reason = reason[:200]
    suspension.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    audit.record(
        "privacy.purposes.lifted",
        target=request.customer,
        actor=by,
        data={"purposes": [purpose], "request": request.reference},
    )


@transaction.atomic
def send_back(*, request_id, by) -> DataRequest:
    """The second person does not agree: the work goes back in progress."""
    request = DataRequest.objects.select_for_update().get(pk=request_id)
    manager = roles.has_role(by, roles.MANAGER)  # the manager may withdraw a proposal
    if request.status == S.AWAITING_APPROVAL and not (manager or may_approve(request, by)):
        raise RequestError(str(NOT_THE_SECOND_PERSON))
    return _step(
        request_id,
        to=S.IN_PROGRESS,
        by=by,
        event="privacy.request.sent_back",
        proposed_by=None,
        second_person=None,
    )


@transaction.atomic
def extend(*, request_id, days: int, reason: str, by) -> DataRequest:
    """Move the due date; a reason is required, and it is kept."""
    if not reason.strip():
        raise RequestError(_("Give a reason for the extension."))
    if not 1 <= days <= 60:
        raise RequestError(_("Extend by 1 to 60 days."))
    request = DataRequest.objects.select_for_update().get(pk=request_id)
    if not request.is_open:
        raise RequestError(WRONG_STEP % {"current": request.get_status_display()})
    request.due_date = request.due_date + timedelta(days=days)
    request.extension_reason = reason.strip()
    request.save()
    audit.record("privacy.request.extended", target=request, actor=by, data={"days": days})
    return request


def board():
    """Open requests and complaints by due date: the overdue ones come first."""
    return (
        DataRequest.objects.exclude(status__in=[S.COMPLETED, S.REJECTED])
        .select_related("owner", "customer")
        .order_by("due_date", "received_at")
    )


@transaction.atomic
def record_correction(*, request_id, fields: list[str], by) -> DataRequest:
    """Note which fields were corrected (their labels, never the values) as the draft reply
    to the person: the reply box of the proposal starts from it."""
    request = DataRequest.objects.select_for_update().get(pk=request_id)
    request.reply = (
        _("Corrected: %(fields)s.") % {"fields": ", ".join(fields)}
        if fields
        else _("Nothing needed correcting: the details were already right.")
    )
    request.save()
    audit.record(
        "privacy.request.corrected", target=request, actor=by, data={"fields": len(fields)}
    )
    return request
