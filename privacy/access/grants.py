"""Who may see which customer: one service for every grant and revocation.

Guardian's direct foreign-key permission rows enforce access in every query; AccessGrant
records why, by whom and until when. Guardian's bulk helpers send no signals, so nothing
here calls them.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.db.models import Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from privacy.access.models import AccessGrant, GrantKind
from privacy.audit import log as audit
from privacy.core.prepared import prepared
from privacy.core.subjects import subject_model
from privacy.staff.accounts import rules_pending
from privacy.staff.roles import counter_team


def _view_permission() -> tuple[str, str]:
    """(app label, codename) of the object permission that lets a user see a customer."""
    meta = subject_model()._meta
    return meta.app_label, f"view_{meta.model_name}"


def _grantee_filter(grantee) -> dict:
    return {"group": grantee} if isinstance(grantee, Group) else {"user": grantee}


def _grantee_label(grantee) -> str:
    return f"group:{grantee.name}" if isinstance(grantee, Group) else f"user:{grantee.pk}"


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
    assign_perm(_view_permission()[1], to, customer)
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
        remove_perm(_view_permission()[1], grantee, record.customer)
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
    customers = list(customers)
    if not customers:
        return []
    app_label, codename = _view_permission()
    permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    by_team = get_group_obj_perms_model(customers[0])
    by_team.objects.bulk_create(
        [by_team(permission=permission, group=team, content_object=c) for c in customers]
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


# Each row selected with the permission condition carries the id of the user it was selected
# for (privacy.access.decisions takes such rows as proven, without asking again).
SELECTED_FOR = "_selected_for"


def visible_customers(user, queryset=None):
    """Customers this user may see, as a query: deny by default, no global or superuser
    shortcut, through named grants to the user or their teams.

    Guardian's get_objects_for_user (accept_global_perms=False, with_superuser=False) asks
    the same, but as ``id IN (user's rows) OR id IN (teams' rows)``, which PostgreSQL can
    only answer by scanning every customer (300 ms at a million). Two EXISTS on guardian's
    direct permission tables let it start from the few rows a page wants (the board's open
    orders, one customer, a blind-index match) and check each by index."""
    queryset = queryset if queryset is not None else subject_model().objects.all()
    if not may_see_any(user):
        return queryset.none()
    return customers_visible_to(user.pk, queryset)


def customers_visible_to(user_id: int, queryset=None):
    """``visible_customers`` for the id of a user already known to be active (the prepared
    queries of the pages are built from it)."""
    queryset = queryset if queryset is not None else subject_model().objects.all()
    return queryset.filter(visible_condition(user_id, "pk"), erased_at__isnull=True).annotate(
        **{SELECTED_FOR: Value(user_id, output_field=IntegerField())}
    )


def visible_related(user, queryset, via: str = "customer"):
    """Rows of ``queryset`` (orders) whose customer, named by the foreign key ``via``, this
    user may see."""
    if not may_see_any(user):
        return queryset.none()
    return related_visible_to(user.pk, queryset, via)


def related_visible_to(user_id: int, queryset, via: str = "customer"):
    """``visible_related`` for the id of a user already known to be active: the same two
    EXISTS, asked of each row's own ``<via>_id``. (``customer__in=visible_customers(...)``
    makes SQLite scan every customer for the board's fifty orders.)"""
    return queryset.filter(
        visible_condition(user_id, f"{via}_id"), **{f"{via}__erased_at__isnull": True}
    ).annotate(**{SELECTED_FOR: Value(user_id, output_field=IntegerField())})


def _in_chunks(queryset, ids, size: int = 500) -> set:
    """The primary keys among ``ids`` that ``queryset`` holds, asked 500 at a time (SQLite's
    limit on a statement's parameters)."""
    ids, found = list(ids), set()
    for start in range(0, len(ids), size):
        chunk = queryset.filter(pk__in=ids[start : start + size])
        found.update(chunk.values_list("pk", flat=True))
    return found


def granted_among(user_id: int, ids) -> set:
    """Which of these customers the user holds a grant in force on (and are not erased)."""
    return _in_chunks(customers_visible_to(user_id), ids)


def not_erased_among(ids) -> set:
    """Which of these customers still exist, not erased (the manager's reach)."""
    return _in_chunks(subject_model().objects.filter(erased_at__isnull=True), ids)


@prepared(user_id=int, now=datetime)
def _reading_checks(user_id, now):
    """Both questions asked before any read, in one query: do the latest handling rules
    wait for this user, has any grant fallen due."""
    return (
        User.objects.filter(pk=user_id)
        .annotate(rules_pending=rules_pending(user_id), grant_due=grant_due(now))
        .values_list("rules_pending", "grant_due")
    )


def reading_checks(user_id: int, now) -> list:
    return _reading_checks(user_id=user_id, now=now)


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
    model = subject_model()
    by_user_model, by_team_model = get_user_obj_perms_model(model), get_group_obj_perms_model(model)
    app_label, codename = _view_permission()
    view = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    permission = Subquery(view.order_by().values("pk"))  # asked once a query, not per row
    teams = Group.user_set.through.objects.filter(user=user_id).values("group")
    by_name = by_user_model.objects.filter(
        content_object=OuterRef(customer_column), user=user_id, permission=permission
    )
    by_team = by_team_model.objects.filter(
        content_object=OuterRef(customer_column), group__in=teams, permission=permission
    )
    return _ProbedExists(by_name) | _ProbedExists(by_team)
