"""Who may see which customer: one service for every grant and revocation.

Guardian's direct foreign-key permission rows enforce access in every query; AccessGrant
records why, by whom and until when. Guardian's bulk helpers send no signals, so nothing
here calls them.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from privacy.access.models import AccessGrant, GrantKind
from privacy.audit import log as audit
from privacy.core.prepared import prepared

VIEW_CUSTOMER = "customers.view_customer"


def _grantee_filter(grantee) -> dict:
    return {"group": grantee} if isinstance(grantee, Group) else {"user": grantee}


def _grantee_label(grantee) -> str:
    return f"group:{grantee.name}" if isinstance(grantee, Group) else f"user:{grantee.pk}"


def counter_team() -> Group:
    group, _ = Group.objects.get_or_create(name=settings.BOOKSHOP_COUNTER_TEAM)
    return group


def active_grants(customer, now=None):
    """Grants in force on this customer, oldest first, as a query (callers narrow it)."""
    now = now or timezone.now()
    return (
        AccessGrant.objects.filter(customer=customer, revoked_at__isnull=True)
        .exclude(expires_at__lte=now)
        .select_related("user", "group", "granted_by")
        .order_by("granted_at")
    )


@prepared(customer_id=uuid.UUID, now=datetime)
def _active_grant_list(customer_id, now):
    return active_grants(customer_id, now)


def active_grant_list(customer) -> list[AccessGrant]:
    """Who can see this customer and why: the list on the customer page."""
    return _active_grant_list(customer_id=customer.pk, now=timezone.now())


@transaction.atomic
def grant(customer, *, to, reason: str, by, kind=GrantKind.MANUAL, expires_at=None):
    """Let a person or team see a customer. Called by the order desk and by the manager."""
    assign_perm("view_customer", to, customer)
    record = AccessGrant.objects.create(
        customer=customer,
        kind=kind,
        reason=reason,
        granted_by=by,
        expires_at=expires_at,
        **_grantee_filter(to),
    )
    audit.record(
        "privacy.access.granted",
        target=customer,
        actor=by,
        data={"grantee": _grantee_label(to), "kind": kind, "grant": record.pk},
    )
    return record


@transaction.atomic
def revoke(record: AccessGrant, *, by, event="privacy.access.revoked") -> None:
    """End one grant; the permission goes when no other active grant holds it."""
    record = AccessGrant.objects.select_for_update().get(pk=record.pk)
    if record.revoked_at is not None:
        return
    record.revoked_at = timezone.now()
    record.revoked_by = by
    record.save(update_fields=["revoked_at", "revoked_by"])
    grantee = record.grantee
    still_held = (
        active_grants(record.customer).filter(**_grantee_filter(grantee)).exclude(pk=record.pk)
    )
    if not still_held.exists():
        remove_perm("view_customer", grantee, record.customer)
    audit.record(
        event,
        target=record.customer,
        actor=by,
        data={"grantee": _grantee_label(grantee), "kind": record.kind, "grant": record.pk},
    )


@transaction.atomic
def grant_many_to_team(
    customers, *, team: Group, reason: str, by, kind=GrantKind.MANUAL, expires_at=None
) -> list:
    """``grant`` for many new customers at once (the spreadsheet import): the same guardian
    rows and AccessGrant records, in a few inserts instead of thousands, and one
    ``privacy.access.granted`` event per customer (grantee, kind, grant id, by whom), which is
    what the administrator finds under the customer's reference. The row-level create
    entries that auditlog adds at the counter for the guardian row and the AccessGrant say
    nothing more and would double the log of an import: they are not written."""
    from django.contrib.auth.models import Permission

    from customers.models import CustomerGroupObjectPermission

    customers = list(customers)
    if not customers:
        return []
    permission = Permission.objects.get(
        content_type__app_label="customers", codename="view_customer"
    )
    CustomerGroupObjectPermission.objects.bulk_create(
        [
            CustomerGroupObjectPermission(permission=permission, group=team, content_object=c)
            for c in customers
        ]
    )
    now = timezone.now()
    records = AccessGrant.objects.bulk_create(
        [
            AccessGrant(
                customer=c,
                group=team,
                kind=kind,
                reason=reason,
                granted_by=by,
                granted_at=now,
                expires_at=expires_at,
            )
            for c in customers
        ]
    )
    audit.record_many(
        [
            audit.event_entry(
                "privacy.access.granted",
                target=customer,
                actor=by,
                data={"grantee": _grantee_label(team), "kind": kind, "grant": record.pk},
            )
            for customer, record in zip(customers, records, strict=True)
        ]
    )
    return records


def open_order_access(customer, *, clerk) -> None:
    """An open order: the clerk who took it and the counter team may see the customer until
    a set time after the customer's last order closes."""
    for grantee in (clerk, counter_team()):
        existing = active_grants(customer).filter(kind=GrantKind.ORDER, **_grantee_filter(grantee))
        if existing.exists():
            for record in existing.exclude(expires_at__isnull=True):
                record.expires_at = None
                record.save(update_fields=["expires_at"])
        else:
            grant(
                customer,
                to=grantee,
                reason="special order",
                by=clerk,
                kind=GrantKind.ORDER,
            )


def schedule_order_access_end(customer) -> None:
    """The customer's last order has closed: order grants end after the configured time."""
    ends = timezone.now() + timedelta(days=settings.BOOKSHOP_ACCESS_AFTER_CLOSE_DAYS)
    for record in active_grants(customer).filter(kind=GrantKind.ORDER, expires_at__isnull=True):
        record.expires_at = ends
        record.save(update_fields=["expires_at"])


def grant_due(now: datetime):
    """An expression, true when some grant has reached its end and is not revoked yet (None
    when no grant in force has an end). It compares the earliest end among grants in force
    with ``now`` rather than asking ``expires_at <= now``: a prepared statement's generic
    plan for that scans every grant (7,000 at the shop: the counter team's, one a customer),
    while this is one probe of the partial index of grants in force, whatever the time."""
    in_force = AccessGrant.objects.filter(revoked_at__isnull=True, expires_at__isnull=False)
    earliest = in_force.order_by("expires_at").values("expires_at")[:1]
    return LessThanOrEqual(Subquery(earliest), now)


def expire_due(now=None, *, any_due: bool | None = None) -> int:
    """Revoke every grant whose time has come. Run by cron (expire_access) and lazily before
    customer data is read. ``any_due``: the caller already asked ``grant_due`` (every page
    does: a grant seldom falls due); None, the grants due are looked for here."""
    now = now or timezone.now()
    if any_due is False:
        return 0
    due = AccessGrant.objects.filter(revoked_at__isnull=True, expires_at__lte=now)
    count = 0
    for record in due.select_related("customer", "user", "group"):
        revoke(record, by=None, event="privacy.access.expired")
        count += 1
    return count


def may_see_any(user) -> bool:
    """An active, signed-in user: the only kind whose grants count."""
    return user is not None and user.is_authenticated and user.is_active


def visible_customers(user, queryset=None):
    """Customers this user may see, as a query: deny by default, no global or superuser
    shortcut, through named grants to the user or their teams.

    Guardian's get_objects_for_user (accept_global_perms=False, with_superuser=False) asks
    the same, but as ``id IN (user's rows) OR id IN (teams' rows)``, which PostgreSQL can
    only answer by scanning every customer (300 ms at a million). Two EXISTS on guardian's
    direct permission tables let it start from the few rows a page wants (the board's open
    orders, one customer, a blind-index match) and check each by index."""
    from customers.models import Customer

    queryset = queryset if queryset is not None else Customer.objects.all()
    if not may_see_any(user):
        return queryset.none()
    return customers_visible_to(user.pk, queryset)


def customers_visible_to(user_id: int, queryset=None):
    """``visible_customers`` for the id of a user already known to be active (the prepared
    queries of the pages are built from it)."""
    from customers.models import Customer

    queryset = queryset if queryset is not None else Customer.objects.all()
    return queryset.filter(visible_condition(user_id, "pk"), erased_at__isnull=True)


def visible_orders(user, queryset=None):
    """Orders of customers this user may see: the same two EXISTS, asked of each order's
    customer_id. (``customer__in=visible_customers(...)`` makes SQLite scan every customer
    for the board's fifty orders.)"""
    from customers.models import SpecialOrder

    queryset = queryset if queryset is not None else SpecialOrder.objects.all()
    if not may_see_any(user):
        return queryset.none()
    return orders_visible_to(user.pk, queryset)


def orders_visible_to(user_id: int, queryset=None):
    """``visible_orders`` for the id of a user already known to be active."""
    from customers.models import SpecialOrder

    queryset = queryset if queryset is not None else SpecialOrder.objects.all()
    return queryset.filter(
        visible_condition(user_id, "customer_id"), customer__erased_at__isnull=True
    )


class _ProbedExists(Exists):
    """EXISTS that PostgreSQL answers row by row through the permission tables' index.

    Left to itself, PostgreSQL turns an EXISTS inside an OR into a hash of every customer the
    user may see, built on each query: the counter team sees every customer, so the board
    hashed 7,000 rows to show 50 (6 of its 9 ms; a million at a chain). An OFFSET, even 0,
    keeps the subquery as it is written (PostgreSQL's simplify_EXISTS_query gives up on
    one), so each order shown costs one index probe. Every caller asks about a few rows
    (the open orders, one customer, a search's candidates, a list of ids); a query over all
    the customers one may see would pay a probe for each."""

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="EXISTS(%(subquery)s OFFSET 0)", **extra_context
        )


def visible_condition(user_id: int, customer_column: str):
    """``customer_column`` names a customer that the user ``user_id`` holds the view
    permission on, by name or through a team: the condition behind visible_customers and
    visible_orders, and the prepared queries of the pages (customers.selectors)."""
    from customers.models import CustomerGroupObjectPermission, CustomerUserObjectPermission

    app_label, codename = VIEW_CUSTOMER.split(".", 1)
    view = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    permission = Subquery(view.order_by().values("pk"))  # asked once a query, not per row
    teams = Group.user_set.through.objects.filter(user=user_id).values("group")
    by_name = CustomerUserObjectPermission.objects.filter(
        content_object=OuterRef(customer_column), user=user_id, permission=permission
    )
    by_team = CustomerGroupObjectPermission.objects.filter(
        content_object=OuterRef(customer_column), group__in=teams, permission=permission
    )
    return _ProbedExists(by_name) | _ProbedExists(by_team)
