"""Printed lists: the pickup list and the order slip.

Printing is a write: it creates a ``PrintJob`` with its own print id and a print event, in
one transaction. The page that is printed belongs to that job: only its printer (or a
manager, tracing a sheet) may open it, and each look passes the gate with its own read
entries: the printer's first as the print itself, every later one as a reopening."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import selectors
from customers.models import OrderStatus, PrintJob, PrintKind, SpecialOrder
from privacy.access import decisions
from privacy.audit import log as audit
from privacy.consent import purposes
from privacy.staff import roles
from privacy.vault import datakeys

# Orders that wait on the shelf for the customer.
PICKUP_STATUSES = (OrderStatus.ARRIVED, OrderStatus.NOTIFIED)

READ_EVENT = "customers.print.read"
# What each sheet shows; the phone only as its last four digits.
FIELDS = {
    PrintKind.PICKUP_LIST: [
        "family_name",
        "given_name",
        "family_name_kana",
        "given_name_kana",
        "phone_last4",
        "title",
        "isbn",
    ],
    PrintKind.ORDER_SLIP: ["family_name", "given_name", "phone_last4", "title", "author", "isbn"],
}


class PrintRefused(Exception):
    """Nothing was printed; the message says why."""


def pickup_orders(user) -> list[SpecialOrder]:
    """Orders that arrived (told or not) and wait for pickup, among the customers this user
    may see, and never more."""
    return list(
        selectors.visible_orders(user)
        .filter(status__in=PICKUP_STATUSES)
        .select_related("customer")
        .order_by("arrived_at", "requested_at")
    )


@transaction.atomic
def print_pickup_list(*, actor) -> PrintJob:
    orders = pickup_orders(actor)
    if not orders:
        raise PrintRefused(_("No orders are waiting for pickup: there is nothing to print."))
    return _create(actor, PrintKind.PICKUP_LIST, orders)


@transaction.atomic
def print_order_slip(*, actor, order: SpecialOrder) -> PrintJob:
    """A slip for the customer, for an order the caller found with
    ``selectors.get_order_for_user``."""
    try:
        purposes.check(order.customer, purposes.ORDER_CONTACT)
    except purposes.PurposeNotPermitted as refused:
        raise PrintRefused(str(refused)) from None
    return _create(actor, PrintKind.ORDER_SLIP, [order])


def _create(actor, kind, orders) -> PrintJob:
    customers = list({o.customer_id: o.customer for o in orders}.values())
    job = PrintJob.objects.create(kind=kind, printed_by=actor, count=len(customers))
    job.orders.set(orders)
    audit.record(
        "customers.print.created",
        target=job,
        actor=actor,
        data={"print_id": job.print_id, "kind": kind, "customers": len(customers)},
    )
    return job


def get_job_for_user(user, job_id) -> PrintJob:
    """The job, for its printer or a manager; 404 for anyone else."""
    job = PrintJob.objects.select_related("printed_by").filter(pk=job_id).first()
    if job is None or not (job.printed_by_id == user.pk or roles.has_role(user, roles.MANAGER)):
        raise Http404
    return job


@transaction.atomic
def open_job(*, user, job_id) -> tuple[PrintJob, list[SpecialOrder], bool]:
    """The sheet's orders, among the customers the viewer may see now, and whether this look
    is a reopening (logged) rather than the print itself (logged when the job was made)."""
    job = get_job_for_user(user, job_id)
    orders = list(
        job.orders.filter(customer__in=selectors.visible_customers(user).values("pk"))
        .select_related("customer")
        .order_by("arrived_at", "requested_at")
    )
    first_look = (
        job.printed_by_id == user.pk
        and PrintJob.objects.filter(pk=job.pk, first_opened_at__isnull=True).update(
            first_opened_at=timezone.now()
        )
        == 1
    )
    datakeys.preload({o.customer_id for o in orders})
    decisions.decide(
        user,
        orders,
        purpose=f"print_{job.kind}" if first_look else "print_reopened",
        fields=FIELDS[job.kind],
        subject="customer_id",
        event=READ_EVENT,
    )
    if not first_look:
        audit.record(
            "customers.print.reopened",
            target=job,
            actor=user,
            data={"print_id": job.print_id, "customers": len({o.customer_id for o in orders})},
        )
    return job, orders, not first_look


def print_log(*, user, print_id: str = ""):
    """Recent print jobs for the manager; one job by its print id, to trace a sheet."""
    if not roles.has_role(user, roles.MANAGER):
        raise PermissionDenied
    jobs = PrintJob.objects.select_related("printed_by")
    if print_id:
        jobs = jobs.filter(print_id=print_id.strip().upper())
    return jobs.order_by("-printed_at")


def trace(*, user, job: PrintJob) -> list[SpecialOrder]:
    """The orders on one sheet, by reference only (no decrypted data), for the manager; the
    look is logged against each customer named."""
    orders = list(job.orders.select_related("customer").order_by("requested_at"))
    audit.record_reads(
        [o.customer for o in orders],
        actor=user,
        purpose="print_trace",
        fields=["reference"],
        event="customers.print.trace.read",
    )
    return orders
