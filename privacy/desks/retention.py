"""Retention (保存期間): customers with no open order are erased a set time after their last
order closed, and closed orders lose their book details a set time after they closed.

Nothing goes on a timer alone: the manager proposes a batch (customers and orders due now,
frozen), a second staff member approves it, and only then is each one checked again and erased
through the same path as an erasure request (crypto-shredding and the ledger)."""

from collections import Counter
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.audit import log as audit
from privacy.core.dates import months_before
from privacy.desks import approvals, erasure
from privacy.desks.models import ApprovalStatus, DataRequest, RequestStatus, RetentionBatch
from privacy.staff import two_person
from privacy.vault.blind_index import BlindIndexField
from privacy.vault.fields import EncryptedTextField

A = ApprovalStatus
CLOSED_REQUEST = (RequestStatus.COMPLETED, RequestStatus.REJECTED)


class RetentionError(Exception):
    """A refused step; the message is shown to the staff member."""


def customer_cutoff(now=None) -> datetime:
    return months_before(now or timezone.now(), settings.BOOKSHOP_RETENTION_CUSTOMER_MONTHS)


def order_detail_cutoff(now=None) -> datetime:
    return months_before(now or timezone.now(), settings.BOOKSHOP_RETENTION_ORDER_DETAIL_MONTHS)


def _closed_at():
    """When an order closed: picked up or cancelled (requested, for an order that somehow
    has neither, so that it never counts as older than it is)."""
    return Coalesce("picked_up_at", "cancelled_at", "requested_at")


def _open_request_for(customer_ref):
    return DataRequest.objects.filter(customer=customer_ref).exclude(status__in=CLOSED_REQUEST)


def _on_open_incident(customer_ref):
    """Listed on an incident still open: the shop may yet have to tell them (APPI art. 26(2))."""
    from privacy.incidents.models import AffectedCustomer, IncidentStatus

    return AffectedCustomer.objects.filter(
        customer=customer_ref, incident__status=IncidentStatus.OPEN
    )


def due_customers(now=None):
    """Customers whose retention period has ended: not erased, no open order, no open
    request from them, no order closed (or placed) since the cut-off, and recorded before it.
    A customer without orders counts from when they were recorded. Kept too, whatever their
    dates: anyone on an open incident. (Third-party provision records have their own keys and
    outlive the customer's erasure for the three years the law asks.)"""
    from customers.models import OPEN_STATUSES, Customer, SpecialOrder

    cutoff = customer_cutoff(now)
    orders = SpecialOrder.objects.filter(customer=OuterRef("pk"))
    recent = orders.annotate(closed=_closed_at()).filter(closed__gte=cutoff)
    return (
        Customer.objects.filter(erased_at__isnull=True, created_at__lt=cutoff)
        .exclude(Exists(orders.filter(status__in=OPEN_STATUSES)))
        .exclude(Exists(recent))
        .exclude(Exists(_open_request_for(OuterRef("pk"))))
        .exclude(Exists(_on_open_incident(OuterRef("pk"))))
    )


def due_order_details(now=None):
    """Closed orders whose details are past their period: not cleared yet, of a customer
    who is not erased (erasure cleared them already) and has no open request (a disclosure
    must show what was held when it was asked for)."""
    from customers.models import OrderStatus, SpecialOrder

    cutoff = order_detail_cutoff(now)
    return (
        SpecialOrder.objects.filter(
            status__in=(OrderStatus.PICKED_UP, OrderStatus.CANCELLED),
            details_cleared_at__isnull=True,
            customer__erased_at__isnull=True,
        )
        .annotate(closed=_closed_at())
        .filter(closed__lt=cutoff)
        .exclude(Exists(_open_request_for(OuterRef("customer"))))
        .exclude(Exists(_on_open_incident(OuterRef("customer"))))
    )


def with_last_activity(customers):
    """Annotate ``last_activity``: when the customer's last order closed, or when they were
    recorded if they never ordered. Retention counts from it."""
    from customers.models import SpecialOrder

    last = (
        SpecialOrder.objects.filter(customer=OuterRef("pk"))
        .annotate(closed=_closed_at())
        .order_by("-closed")
        .values("closed")[:1]
    )
    return customers.annotate(last_activity=Coalesce(Subquery(last), "created_at"))


def review(batch: RetentionBatch, *, limit: int = 500) -> dict:
    """What the review page shows: references and dates only (no personal data), and
    whether each one is still due now."""
    from customers.models import Customer, SpecialOrder

    shown_customers = batch.customer_ids[:limit]
    shown_orders = batch.order_ids[:limit]
    due_now = {
        str(pk)
        for pk in due_customers().filter(pk__in=shown_customers).values_list("pk", flat=True)
    }
    due_orders = {
        str(pk)
        for pk in due_order_details().filter(pk__in=shown_orders).values_list("pk", flat=True)
    }
    customers = with_last_activity(Customer.objects.filter(pk__in=shown_customers)).values(
        "pk", "created_at", "last_activity", "erased_at"
    )
    orders = (
        SpecialOrder.objects.filter(pk__in=shown_orders)
        .annotate(closed=_closed_at())
        .values("pk", "status", "closed", "details_cleared_at")
    )
    return {
        "customers": [
            {**row, "reference": f"C-{row['pk'].hex[:8].upper()}", "due": str(row["pk"]) in due_now}
            for row in sorted(customers, key=lambda r: r["last_activity"])
        ],
        "orders": [
            {
                **row,
                "reference": f"O-{row['pk'].hex[:8].upper()}",
                "due": str(row["pk"]) in due_orders,
            }
            for row in sorted(orders, key=lambda r: r["closed"])
        ],
        "customers_hidden": max(0, batch.customer_count - limit),
        "orders_hidden": max(0, batch.order_count - limit),
        "customers_due_now": _count(due_customers(), batch.customer_ids),
        "orders_due_now": _count(due_order_details(), batch.order_ids),
    }


def summary(now=None) -> dict:
    """Counts only, for the dry run and the manager's page: no names, no references."""
    now = now or timezone.now()
    customers = due_customers(now)
    orders = due_order_details(now)
    own = orders.exclude(customer__in=customers.values("pk"))
    by_month = Counter(
        timezone.localtime(closed).strftime("%Y-%m")
        for closed in own.values_list("closed", flat=True)
    )
    customers_by_month = Counter(
        timezone.localtime(last).strftime("%Y-%m")
        for last in with_last_activity(customers).values_list("last_activity", flat=True)
    )
    return {
        "now": now,
        "customer_cutoff": customer_cutoff(now),
        "order_cutoff": order_detail_cutoff(now),
        "customers": customers.count(),
        "orders": own.count(),
        "orders_of_erased": orders.count() - own.count(),
        "orders_by_month": sorted(by_month.items()),
        "customers_by_month": sorted(customers_by_month.items()),
    }


def _require_manager(user) -> None:
    approvals.require_manager(user, RetentionError)


@transaction.atomic
def propose(*, by, now=None) -> RetentionBatch:
    """Freeze the customers and orders due now into a batch for a second staff member to approve.
    Orders of customers in the batch are not listed: erasing the customer clears them."""
    _require_manager(by)
    if RetentionBatch.objects.filter(status__in=(A.PROPOSED, A.APPROVED)).exists():
        raise RetentionError(
            _("A retention batch is already waiting; approve, refuse or finish it first.")
        )
    now = now or timezone.now()
    customers = due_customers(now)
    customer_ids = [str(pk) for pk in customers.order_by("created_at").values_list("pk", flat=True)]
    order_ids = [
        str(pk)
        for pk in due_order_details(now)
        .exclude(customer__in=customers.values("pk"))
        .order_by("closed")
        .values_list("pk", flat=True)
    ]
    if not customer_ids and not order_ids:
        raise RetentionError(_("Nothing is due: no batch was made."))
    batch = RetentionBatch.objects.create(
        proposed_by=by, proposed_at=now, customer_ids=customer_ids, order_ids=order_ids
    )
    audit.record(
        "privacy.retention.proposed",
        target=batch,
        actor=by,
        data={"customers": len(customer_ids), "orders": len(order_ids)},
    )
    return batch


def _pending(batch_id, *, allowed=(A.PROPOSED,)) -> RetentionBatch:
    return approvals.locked_in_status(
        RetentionBatch,
        batch_id,
        allowed=allowed,
        error=RetentionError,
        message=_("This batch is “%(status)s”; that step is not possible now."),
    )


@transaction.atomic
def refuse(*, batch_id, by) -> RetentionBatch:
    """A second staff member does not agree: nothing is erased; a new batch can be proposed."""
    two_person.require_counter_staff(by, RetentionError)
    batch = _pending(batch_id)
    return approvals.decide(batch, status=A.REFUSED, by=by, event="privacy.retention.refused")


@transaction.atomic
def approve(*, batch_id, by) -> RetentionBatch:
    """A second staff member approves; the proposer cannot. ``purge`` then does the work."""
    two_person.require_counter_staff(by, RetentionError)
    batch = _pending(batch_id)
    two_person.require_second_person(batch.proposed_by_id, by, RetentionError)
    return approvals.decide(batch, status=A.APPROVED, by=by, event="privacy.retention.approved")


def _clear_order_details(order) -> None:
    names = [
        field.name
        for field in order._meta.get_fields()
        if isinstance(field, (EncryptedTextField, BlindIndexField))
    ]
    for name in names:
        order.__dict__[order._meta.get_field(name).attname] = None
    order.details_cleared_at = timezone.now()
    order.save(update_fields=[*names, "details_cleared_at", "updated_at"])


def purge(*, batch_id, by=None, now=None) -> RetentionBatch:
    """Erase the approved batch, one customer per transaction, so that an interrupted run
    leaves a batch that can be resumed (``manage.py retention --purge``). Each customer and
    order is checked again under a row lock: one no longer due is kept, and the log says so."""
    from customers.models import Customer, SpecialOrder

    with transaction.atomic():
        batch = _pending(batch_id, allowed=(A.APPROVED,))
    by = by or batch.decided_by
    note = {"batch": batch.reference}
    for pk in batch.customer_ids:
        with transaction.atomic():
            customer = Customer.objects.select_for_update().filter(pk=pk).first()
            if customer is None or customer.erased_at is not None:
                continue  # erased already: by a request, or by an interrupted run of this batch
            if due_customers(now).filter(pk=pk).exists():
                erasure.erase_customer(customer, by=by, data=note)
            else:
                audit.record("privacy.retention.kept", target=customer, actor=by, data=note)
    for pk in batch.order_ids:
        with transaction.atomic():
            order = SpecialOrder.objects.select_for_update().filter(pk=pk).first()
            if order is None or order.details_cleared_at is not None:
                continue
            if due_order_details(now).filter(pk=pk).exists():
                _clear_order_details(order)
                audit.record("customers.order.details_cleared", target=order, actor=by, data=note)
            else:
                audit.record("privacy.retention.kept", target=order, actor=by, data=note)
    with transaction.atomic():
        batch = _pending(batch_id, allowed=(A.APPROVED,))
        erased = _count(
            Customer.objects.filter(erased_at__gte=batch.decided_at), batch.customer_ids
        )
        cleared = _count(
            SpecialOrder.objects.filter(details_cleared_at__isnull=False), batch.order_ids
        )
        batch.customers_erased, batch.customers_kept = erased, batch.customer_count - erased
        batch.orders_cleared, batch.orders_kept = cleared, batch.order_count - cleared
        batch.status = A.DONE
        batch.purged_at = timezone.now()
        batch.save()
        audit.record(
            "privacy.retention.purged",
            target=batch,
            actor=by,
            data={
                "customers_erased": erased,
                "customers_kept": batch.customers_kept,
                "orders_cleared": cleared,
                "orders_kept": batch.orders_kept,
            },
        )
    return batch


def _count(queryset, ids: list[str], chunk: int = 500) -> int:
    """How many of ``ids`` the queryset holds, in chunks (SQLite limits query parameters)."""
    return sum(
        queryset.filter(pk__in=ids[start : start + chunk]).count()
        for start in range(0, len(ids), chunk)
    )
