"""Every read of customer data. Each takes the acting user and filters by object permission
in the database query, so nothing hidden is ever fetched, shown or counted.

The queries every page asks are prepared (privacy.prepared): written with the same
``access`` conditions, compiled once, run with the user's and the row's ids."""

import datetime
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from customers.models import OPEN_STATUSES, Customer, SpecialOrder
from privacy.access import grants as access
from privacy.access import hours
from privacy.audit import chain as audit_chain
from privacy.consent import purposes, third_party
from privacy.consent.models import NoticeRecord, ThirdPartyProvision
from privacy.core.prepared import prepared
from privacy.staff import accounts, roles
from privacy.vault import blind_index, datakeys, normalize


@prepared(user_id=int, now=datetime.datetime)
def _reading_checks(user_id, now):
    """Both questions asked before any read, in one query: do the latest handling rules
    wait for this user, has any grant fallen due."""
    return (
        User.objects.filter(pk=user_id)
        .annotate(rules_pending=accounts.rules_pending(user_id), grant_due=access.grant_due(now))
        .values_list("rules_pending", "grant_due")
    )


def _before_reading(user) -> None:
    """Refused outside business hours or before the handling rules are acknowledged; then
    grants that fell due are ended, so none of them shows anything."""
    hours.ensure_open()
    now = timezone.now()
    found = _reading_checks(user_id=user.pk, now=now) if user.pk is not None else []
    if not found:  # not a saved user: ask as the services do
        accounts.ensure_acknowledged(user)
        access.expire_due(now)
        return
    rules_pending, grant_due = found[0]
    if rules_pending:
        raise accounts.RulesNotAcknowledged
    access.expire_due(now, any_due=bool(grant_due))  # None: no grant has an end


def visible_customers(user):
    """Every read of customer data starts here: the checks of ``_before_reading``, then
    only granted customers are selected."""
    _before_reading(user)
    return access.visible_customers(user)


def visible_orders(user):
    """Orders of visible customers, after the same checks as visible_customers."""
    _before_reading(user)
    return access.visible_orders(user)


def _uuid_or_404(pk) -> uuid.UUID:
    if isinstance(pk, uuid.UUID):
        return pk
    try:
        return uuid.UUID(str(pk))
    except ValueError:
        raise Http404 from None


def _visible_customer(user_id, pk):
    return datakeys.with_keys(access.customers_visible_to(user_id).filter(pk=pk))


@prepared(user_id=int, pk=uuid.UUID)
def _customer(user_id, pk):
    return _visible_customer(user_id, pk)[:1]


def get_customer_for_user(user, pk) -> Customer:
    """The customer, if this user may see them; 404 otherwise (never 403: a hidden customer
    does not exist for this user)."""
    _before_reading(user)
    found = _customer(user_id=user.pk, pk=_uuid_or_404(pk)) if access.may_see_any(user) else []
    if not found:
        raise Http404
    datakeys.adopt_keys(found)
    return found[0]


@prepared(user_id=int, pk=uuid.UUID, today=datetime.date)
def _customer_with_page_facts(user_id, pk, today):
    """The customer, and what decides which of the customer page's other queries to ask."""
    page = _visible_customer(user_id, pk).annotate(
        _suspensions=purposes.suspension_exists(),
        _provisions=third_party.records_exist(),
        _notice_in_force=purposes.notice_in_force_id(today),
    )
    return audit_chain.with_head(page)[:1]


@dataclass
class CustomerPage:
    customer: Customer
    orders: list[SpecialOrder]
    grants: list
    notices: list[NoticeRecord]
    suspended: set[str]
    provisions: list[ThirdPartyProvision]
    needs_notice: bool


def customer_page(user, pk) -> CustomerPage:
    """Everything the customer page shows, if this user may see the customer (404
    otherwise). Suspensions and provision records are rare: they are asked for only when
    the customer's row says they exist, and the notice in force only when the customer
    was told under another one."""
    _before_reading(user)
    today = timezone.localdate()
    found = (
        _customer_with_page_facts(user_id=user.pk, pk=_uuid_or_404(pk), today=today)
        if access.may_see_any(user)
        else []
    )
    if not found:
        raise Http404
    datakeys.adopt_keys(found)
    audit_chain.adopt_head(found)
    customer = found[0]
    facts = customer.__dict__
    notices = purposes.notice_records(customer)
    return CustomerPage(
        customer=customer,
        orders=customer_orders(customer),
        grants=access.active_grant_list(customer),
        notices=notices,
        suspended=purposes.suspended_purposes(customer) if facts.pop("_suspensions") else set(),
        provisions=third_party.for_customer(customer) if facts.pop("_provisions") else [],
        needs_notice=purposes.needs_notice(
            customer, records=notices, in_force_id=facts.pop("_notice_in_force")
        ),
    )


@prepared(user_id=int, pk=uuid.UUID)
def _order(user_id, pk):
    return access.orders_visible_to(user_id).filter(pk=pk).select_related("customer")[:1]


def get_order_for_user(user, pk) -> SpecialOrder:
    _before_reading(user)
    found = _order(user_id=user.pk, pk=_uuid_or_404(pk)) if access.may_see_any(user) else []
    if not found:
        raise Http404
    return found[0]


def find_customers(
    user, *, phone: str = "", family_name_kana: str = "", last4: str = ""
) -> list[Customer]:
    """Exact search by phone, or by family-name kana plus the phone's last four digits, among
    the customers this user may see.

    The blind indexes select a few candidates in the database, with their data keys, in one
    query; only those are decrypted and compared exactly. No partial or fuzzy match exists
    over encrypted data.
    """
    _before_reading(user)
    if not access.may_see_any(user):
        return []
    return _exact_matches(user.pk, phone, family_name_kana, last4)


def find_any_customer(
    manager, *, phone: str = "", family_name_kana: str = "", last4: str = ""
) -> list[Customer]:
    """The same exact search over every customer, for the manager alone, who answers
    customers' requests about records nobody is granted. The caller shows references only."""
    if not roles.has_role(manager, roles.MANAGER):
        raise PermissionDenied
    hours.ensure_open()
    return _exact_matches(None, phone, family_name_kana, last4)


def _not_erased():
    return Customer.objects.filter(erased_at__isnull=True)


@prepared(user_id=int, phone=int)
def _visible_by_phone(user_id, phone):
    return datakeys.with_keys(access.customers_visible_to(user_id).filter(phone_bidx=phone))


@prepared(user_id=int, kana=int, last4=int)
def _visible_by_kana(user_id, kana, last4):
    customers = access.customers_visible_to(user_id)
    return datakeys.with_keys(customers.filter(family_name_kana_bidx=kana, phone_last4_bidx=last4))


@prepared(phone=int)
def _any_by_phone(phone):
    return datakeys.with_keys(_not_erased().filter(phone_bidx=phone))


@prepared(kana=int, last4=int)
def _any_by_kana(kana, last4):
    return datakeys.with_keys(
        _not_erased().filter(family_name_kana_bidx=kana, phone_last4_bidx=last4)
    )


def _index(field_name: str, raw: str) -> int | None:
    return blind_index.lookup(Customer, field_name, raw)[field_name]


def _exact_matches(user_id, phone, family_name_kana, last4) -> list[Customer]:
    """Candidates by blind index among the customers ``user_id`` may see (every customer
    for None), then the exact comparison. A value that normalizes to nothing finds nobody."""
    if phone:
        index = _index("phone_bidx", phone)
        if index is None:
            return []
        if user_id is None:
            candidates = _any_by_phone(phone=index)
        else:
            candidates = _visible_by_phone(user_id=user_id, phone=index)
    else:
        kana, digits = (
            _index("family_name_kana_bidx", family_name_kana),
            _index("phone_last4_bidx", last4),
        )
        if kana is None or digits is None:
            return []
        if user_id is None:
            candidates = _any_by_kana(kana=kana, last4=digits)
        else:
            candidates = _visible_by_kana(user_id=user_id, kana=kana, last4=digits)
    datakeys.adopt_keys(candidates)
    if phone:
        wanted = normalize.phone(phone)
        return [c for c in candidates if normalize.phone(c.phone) == wanted]
    wanted_kana, wanted_last4 = normalize.kana(family_name_kana), normalize.phone_last4(last4)
    return [
        c
        for c in candidates
        if normalize.kana(c.family_name_kana) == wanted_kana
        and normalize.phone_last4(c.phone) == wanted_last4
    ]


# What the board's cards show or post back (customers/board.html, _order_actions.html).
BOARD_COLUMNS = (
    "title",
    "isbn",
    "quantity",
    "status",
    "requested_at",
    "version",
    "customer__family_name",
    "customer__given_name",
    "customer__phone",
    "customer__preferred_contact",
)


@prepared(user_id=int)
def _board_orders(user_id):
    orders = access.orders_visible_to(user_id).filter(status__in=OPEN_STATUSES)
    orders = datakeys.with_keys(
        orders.select_related("customer").only(*BOARD_COLUMNS).order_by("requested_at"),
        subject="customer_id",
    )
    return audit_chain.with_head(orders)


def order_board(user) -> dict[str, list[SpecialOrder]]:
    """Open orders the user may see, grouped by status, oldest first. Only the columns the
    board shows are loaded (BOARD_COLUMNS): the others stay in the database, unread."""
    _before_reading(user)
    orders = _board_orders(user_id=user.pk) if access.may_see_any(user) else []
    datakeys.adopt_keys(orders, subject="customer_id")
    audit_chain.adopt_head(orders)
    board = {status: [] for status in OPEN_STATUSES}
    for order in orders:
        board[order.status].append(order)
    return board


def orders_for_isbn(user, isbn: str) -> list[SpecialOrder]:
    """Open orders for one book (shipment receiving), via the ISBN blind index."""
    candidates = list(
        visible_orders(user)
        .filter(status__in=OPEN_STATUSES, **blind_index.lookup(SpecialOrder, "isbn_bidx", isbn))
        .select_related("customer")
        .order_by("requested_at")
    )
    datakeys.preload({o.customer_id for o in candidates})
    wanted = normalize.isbn(isbn)
    return [o for o in candidates if normalize.isbn(o.isbn or "") == wanted]


@prepared(customer_id=uuid.UUID)
def _orders_of(customer_id):
    return SpecialOrder.objects.filter(customer_id=customer_id).order_by("-requested_at")


def customer_orders(customer: Customer) -> list[SpecialOrder]:
    """The customer's orders, newest first, each knowing its customer (no query to ask)."""
    orders = _orders_of(customer_id=customer.pk)
    for order in orders:
        order.customer = customer
    return orders
