"""Every write of the order desk. Keyword-only, one verb each; each runs in one transaction
and writes its audit entry in it."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers import outbox
from customers.models import (
    OPEN_STATUSES,
    ContactChannel,
    Customer,
    NoticeMail,
    OrderStatus,
    SpecialOrder,
)
from privacy.access import decisions
from privacy.access import grants as access
from privacy.audit import log as audit
from privacy.consent import purposes


class OrderError(Exception):
    """A refused order action; the message is shown to the clerk."""


class StaleEdit(Exception):
    """Someone else saved this record after it was opened; nothing was overwritten."""


STALE = gettext_lazy(
    "Someone else changed this record after you opened it. Nothing was saved: reload the page, "
    "check their change, and enter yours again."
)


# status -> statuses it may move to
TRANSITIONS = {
    OrderStatus.REQUESTED: {OrderStatus.ORDERED, OrderStatus.CANCELLED},
    OrderStatus.ORDERED: {OrderStatus.ARRIVED, OrderStatus.CANCELLED},
    # A customer may come in before being told: arrived -> picked up is allowed.
    OrderStatus.ARRIVED: {OrderStatus.NOTIFIED, OrderStatus.PICKED_UP, OrderStatus.CANCELLED},
    OrderStatus.NOTIFIED: {OrderStatus.PICKED_UP, OrderStatus.CANCELLED},
    OrderStatus.PICKED_UP: set(),
    OrderStatus.CANCELLED: set(),
}

_STEP_FIELDS = {
    OrderStatus.ORDERED: ("ordered_at", "ordered_by"),
    OrderStatus.ARRIVED: ("arrived_at", "arrived_by"),
    OrderStatus.NOTIFIED: ("notified_at", "notified_by"),
    OrderStatus.PICKED_UP: ("picked_up_at", "picked_up_by"),
    OrderStatus.CANCELLED: ("cancelled_at", "cancelled_by"),
}

_EVENTS = {
    OrderStatus.ORDERED: "customers.order.ordered",
    OrderStatus.ARRIVED: "customers.order.arrived",
    OrderStatus.NOTIFIED: "customers.order.notified",
    OrderStatus.PICKED_UP: "customers.order.picked_up",
    OrderStatus.CANCELLED: "customers.order.cancelled",
}

WRONG_TRANSITION = gettext_lazy("This order is “%(current)s” and cannot be marked “%(target)s”.")


def customer_create(*, actor, data: dict) -> Customer:
    """Create a customer from cleaned form data. The caller holds a transaction."""
    customer = Customer(**data, last_confirmed_at=timezone.now())
    customer.full_clean()
    customer.save()
    return customer


@transaction.atomic
def order_create(
    *, actor, customer: Customer, data: dict, notice: dict | None = None
) -> SpecialOrder:
    """Record a special order for a customer the clerk may see (or has just created); the
    clerk and the counter team get access to the customer while the order is open.

    ``notice`` ({"method", "choices"}) records that the customer was told the current
    purposes just now; without it, the customer must have been told before."""
    if notice is not None:
        purposes.record_notice(
            customer, method=notice["method"], choices=notice["choices"], by=actor
        )
    try:
        purposes.check(customer, purposes.ORDER_CONTACT)
    except purposes.PurposeNotPermitted as refused:
        raise OrderError(str(refused)) from None
    order = SpecialOrder(customer=customer, requested_by=actor, requested_at=timezone.now(), **data)
    order.full_clean(exclude=["customer", "requested_by"])
    order.save()
    access.open_order_access(customer, clerk=actor)
    audit.record(
        "customers.order.created", target=customer, actor=actor, data={"order": order.reference}
    )
    return order


@transaction.atomic
def order_create_with_customer(
    *, actor, customer_data: dict, order_data: dict, notice: dict
) -> SpecialOrder:
    """A new customer, the record that they were told the purposes, and their first order:
    saved together or not at all."""
    customer = customer_create(actor=actor, data=customer_data)
    return order_create(actor=actor, customer=customer, data=order_data, notice=notice)


def _transition(order_id, *, actor, target: str, expected_version=None, **changes) -> SpecialOrder:
    order = SpecialOrder.objects.select_for_update().select_related("customer").get(pk=order_id)
    decisions.decide(
        actor, [order], purpose="order_desk", fields=["status", *changes], subject="customer_id"
    )
    if expected_version is not None and expected_version != order.version:
        raise OrderError(STALE)
    if target not in TRANSITIONS[order.status]:
        raise OrderError(
            WRONG_TRANSITION
            % {"current": order.get_status_display(), "target": OrderStatus(target).label}
        )
    at_field, by_field = _STEP_FIELDS[target]
    order.status = target
    setattr(order, at_field, timezone.now())
    setattr(order, by_field, actor)
    for name, value in changes.items():
        setattr(order, name, value)
    order.version += 1
    order.save(update_fields=["status", at_field, by_field, "updated_at", "version", *changes])
    audit.record(
        _EVENTS[target], target=order.customer, actor=actor, data={"order": order.reference}
    )
    if (
        target not in OPEN_STATUSES
        and not order.customer.orders.filter(status__in=OPEN_STATUSES).exists()
    ):
        access.schedule_order_access_end(order.customer)
    return order


@transaction.atomic
def order_mark_ordered(*, actor, order_id, expected_version=None) -> SpecialOrder:
    """The book has been ordered from the distributor."""
    return _transition(
        order_id, actor=actor, target=OrderStatus.ORDERED, expected_version=expected_version
    )


@transaction.atomic
def order_mark_arrived(*, actor, order_id, expected_version=None) -> SpecialOrder:
    """The book has arrived at the shop."""
    return _transition(
        order_id, actor=actor, target=OrderStatus.ARRIVED, expected_version=expected_version
    )


@transaction.atomic
def order_notify(*, actor, order_id, channel: str, expected_version=None) -> SpecialOrder:
    """The customer has been told the book is here. By email, the notice goes into the
    outbox in this same transaction (customers/outbox.py); the worker sends it, to the stored
    address only, and retries while the mail server is down."""
    if channel not in ContactChannel.values:
        raise OrderError(_("Choose how the customer was told."))
    changes = {"notified_channel": channel}
    if channel == ContactChannel.EMAIL:
        changes["notice_mail"] = NoticeMail.QUEUED
    order = _transition(
        order_id,
        actor=actor,
        target=OrderStatus.NOTIFIED,
        expected_version=expected_version,
        **changes,
    )
    if channel != ContactChannel.COUNTER:  # told in person when they came in: no contact
        try:
            purposes.check(order.customer, purposes.ARRIVAL_NOTICE)
        except purposes.PurposeNotPermitted as refused:
            raise OrderError(str(refused)) from None
    if channel == ContactChannel.EMAIL:
        if not order.customer.email:
            raise OrderError(_("This customer has no email address on record."))
        outbox.queue_arrival_notice(order=order, actor=actor)
    return order


def _failed_notice(order_id, *, actor, allowed: tuple) -> SpecialOrder:
    order = SpecialOrder.objects.select_for_update().select_related("customer").get(pk=order_id)
    decisions.decide(
        actor,
        [order],
        purpose="order_desk",
        fields=["status", "notified_channel", "notice_mail"],
        subject="customer_id",
    )
    if (
        order.status != OrderStatus.NOTIFIED
        or order.notified_channel != ContactChannel.EMAIL
        or order.notice_mail not in allowed
    ):
        raise OrderError(_("This order has no notice mail waiting or failed."))
    try:
        purposes.check(order.customer, purposes.ARRIVAL_NOTICE)
    except purposes.PurposeNotPermitted as refused:
        raise OrderError(str(refused)) from None
    return order


@transaction.atomic
def notice_resend(*, actor, order_id) -> SpecialOrder:
    """Send a failed arrival-notice mail again: queued anew, as ``actor``, with all its
    tries."""
    order = _failed_notice(order_id, actor=actor, allowed=(NoticeMail.FAILED,))
    if not order.customer.email:
        raise OrderError(_("This customer has no email address on record."))
    outbox.queue_arrival_notice(order=order, actor=actor)
    order.notice_mail = NoticeMail.QUEUED
    order.save(update_fields=["notice_mail", "updated_at"])
    audit.record(
        "customers.order.notice_requeued",
        target=order.customer,
        actor=actor,
        data={"order": order.reference, "channel": "email"},
    )
    return order


@transaction.atomic
def notice_by_phone(*, actor, order_id) -> SpecialOrder:
    """The mail did not go (or has not yet): the clerk phoned the customer instead. The
    waiting mail is withdrawn and the order records the phone call, by whom and when."""
    order = _failed_notice(order_id, actor=actor, allowed=(NoticeMail.FAILED, NoticeMail.QUEUED))
    outbox.withdraw(order)
    order.notified_channel = ContactChannel.PHONE
    order.notified_at = timezone.now()
    order.notified_by = actor
    order.notice_mail = NoticeMail.WITHDRAWN
    order.version += 1
    order.save(
        update_fields=[
            "notified_channel",
            "notified_at",
            "notified_by",
            "notice_mail",
            "version",
            "updated_at",
        ]
    )
    audit.record(
        "customers.order.notified_by_phone",
        target=order.customer,
        actor=actor,
        data={"order": order.reference, "channel": "phone", "instead_of": "email"},
    )
    return order


@transaction.atomic
def order_pick_up(*, actor, order_id, expected_version=None) -> SpecialOrder:
    """The customer has collected the book."""
    return _transition(
        order_id, actor=actor, target=OrderStatus.PICKED_UP, expected_version=expected_version
    )


@transaction.atomic
def order_cancel(*, actor, order_id, reason: str, expected_version=None) -> SpecialOrder:
    """Cancel an open order; a reason is required."""
    if not reason.strip():
        raise OrderError(_("Give a reason for cancelling."))
    return _transition(
        order_id,
        actor=actor,
        target=OrderStatus.CANCELLED,
        expected_version=expected_version,
        cancel_reason=reason.strip(),
    )


@transaction.atomic
def customer_update(
    *, actor, customer_id, data: dict, expected_version: int, purpose: str = "correction"
) -> Customer:
    """Correct a customer's details. Refused if someone saved the customer after the form
    was opened (optimistic locking): nothing is overwritten silently. ``purpose``:
    ``request_correction`` when the manager corrects on a customer's request."""
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    decisions.decide(actor, [customer], purpose=purpose, fields=list(data))
    if customer.version != expected_version:
        raise StaleEdit(STALE)
    for name, value in data.items():
        setattr(customer, name, value)
    customer.version += 1
    customer.full_clean()
    customer.save()
    return customer


def new_release_mail(*, actor, customer_id, subject: str, body: str) -> None:
    """Send news of a new release to one customer: only to a customer who said yes to it
    and has not asked us to stop."""
    customer = Customer.objects.get(pk=customer_id)
    decisions.decide(actor, [customer], purpose="new_release_info", fields=["email"])
    if not customer.email:
        raise OrderError(_("This customer has no email address on record."))
    EmailMessage(subject=subject, body=body, to=[customer.email]).send(fail_silently=False)
    audit.record("customers.customer.new_release_mail", target=customer, actor=actor)


@transaction.atomic
def customer_confirm(*, actor, customer_id) -> Customer:
    """A clerk confirmed the details with the customer: they are accurate as of now."""
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    customer.last_confirmed_at = timezone.now()
    customer.save(update_fields=["last_confirmed_at", "updated_at"])
    audit.record("customers.customer.confirmed", target=customer, actor=actor)
    return customer


def needs_confirmation(customer) -> bool:
    """Details not confirmed for BOOKSHOP_CONFIRM_AFTER_DAYS: ask at the next order."""
    if customer.last_confirmed_at is None:
        return True
    age = timezone.now() - customer.last_confirmed_at
    return age.days >= settings.BOOKSHOP_CONFIRM_AFTER_DAYS
