"""Every read of customer data. Each takes the acting user and filters by object permission
in the database query, so nothing hidden is ever fetched, shown or counted.

The queries every page asks are prepared (privacy.prepared): written with the same
``access`` conditions, compiled once, run with the user's and the row's ids."""

import datetime
import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from customers.models import OPEN_STATUSES, Customer, SpecialOrder
from privacy.access import decisions
from privacy.access import grants as access
from privacy.audit import chain as audit_chain
from privacy.consent import purposes, third_party
from privacy.consent.models import NoticeRecord, ThirdPartyProvision
from privacy.core.prepared import prepared
from privacy.staff import roles
from privacy.vault import blind_index, datakeys, normalize
from privacy.vault.fields import encrypted_field_names


def visible_customers(user):
    """Customers this user may see, as a query (after the checks every read makes). Rows
    read from it still pass ``decisions.decide`` before their data shows."""
    decisions.before_reading(user)
    return access.visible_customers(user)


def visible_orders(user):
    """Orders of visible customers, after the same checks as visible_customers."""
    decisions.before_reading(user)
    return access.visible_related(user, SpecialOrder.objects.all())


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


def get_customer_for_user(user, pk, *, purpose: str, fields: list[str]) -> Customer:
    """The customer, if this user may see them for ``purpose`` (the read of ``fields``
    logged); 404 otherwise (never 403: a hidden customer does not exist for this user)."""
    decisions.check_actor(user, purpose)
    found = _customer(user_id=user.pk, pk=_uuid_or_404(pk))
    if not found:
        decisions.refused_unseen(user, purpose, pk)
        raise Http404
    datakeys.adopt_keys(found)
    return decisions.decide(user, found, purpose=purpose, fields=fields, checked=True)[0]


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
    decisions.check_actor(user, "customer_record")
    today = timezone.localdate()
    found = _customer_with_page_facts(user_id=user.pk, pk=_uuid_or_404(pk), today=today)
    if not found:
        decisions.refused_unseen(user, "customer_record", pk)
        raise Http404
    datakeys.adopt_keys(found)
    audit_chain.adopt_head(found)
    customer = found[0]
    facts = customer.__dict__
    decisions.decide(user, found, purpose="customer_record", fields=DETAIL_FIELDS, checked=True)
    provisions = []
    if facts.pop("_provisions"):
        provisions = decisions.decide(
            user,
            third_party.for_customer(customer),
            purpose="customer_record",
            fields=["subject_name", *third_party.FIELDS],
            checked=True,
        )
    notices = purposes.notice_records(customer)
    return CustomerPage(
        customer=customer,
        orders=customer_orders(customer),
        grants=access.active_grant_list(customer),
        notices=notices,
        suspended=purposes.suspended_purposes(customer) if facts.pop("_suspensions") else set(),
        provisions=provisions,
        needs_notice=purposes.needs_notice(
            customer, records=notices, in_force_id=facts.pop("_notice_in_force")
        ),
    )


def _orders_visible_to(user_id):
    return access.related_visible_to(user_id, SpecialOrder.objects.all())


@prepared(user_id=int, pk=uuid.UUID)
def _order(user_id, pk):
    return _orders_visible_to(user_id).filter(pk=pk).select_related("customer")[:1]


def get_order_for_user(user, pk, *, purpose: str = "order_desk", fields=()) -> SpecialOrder:
    """The order, if this user may see its customer; 404 otherwise. The status services
    that follow read it (auditlog's diff compares its fields), so its read is decided."""
    decisions.check_actor(user, purpose)
    found = _order(user_id=user.pk, pk=_uuid_or_404(pk))
    if not found:
        decisions.refused_unseen(user, purpose, pk, kind="order")
        raise Http404
    return decisions.decide(
        user, found, purpose=purpose, fields=list(fields), subject="customer_id", checked=True
    )[0]


def find_customers(
    user, *, phone: str = "", family_name_kana: str = "", last4: str = ""
) -> list[Customer]:
    """Exact search by phone, or by family-name kana plus the phone's last four digits, among
    the customers this user may see; the matches' read of MATCH_FIELDS is logged.

    The blind indexes select a few candidates in the database, with their data keys, in one
    query; the vault compares them exactly, and only the matches are shown. No partial or
    fuzzy match exists over encrypted data.
    """
    decisions.check_actor(user, "customer_lookup")
    matches = _exact_matches(user.pk, phone, family_name_kana, last4)
    return decisions.decide(
        user, matches, purpose="customer_lookup", fields=MATCH_FIELDS, checked=True
    )


def find_any_customer(
    manager, *, phone: str = "", family_name_kana: str = "", last4: str = ""
) -> list[Customer]:
    """The same exact search over every customer, for the manager alone, who answers
    customers' requests about records nobody is granted. The caller shows references only."""
    if not roles.has_role(manager, roles.MANAGER):
        raise PermissionDenied
    decisions.check_actor(manager, "request_correction")
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
        return blind_index.exact(candidates, {"phone": (normalize.phone, normalize.phone(phone))})
    return blind_index.exact(
        candidates,
        {
            "family_name_kana": (normalize.kana, normalize.kana(family_name_kana)),
            "phone": (normalize.phone_last4, normalize.phone_last4(last4)),
        },
    )


# What each page shows, named in its read entries.
MATCH_FIELDS = ["family_name", "given_name", "family_name_kana", "given_name_kana", "phone"]
DETAIL_FIELDS = [*encrypted_field_names(Customer), "orders"]
SHIPMENT_FIELDS = ["family_name", "given_name", "phone", "title", "isbn"]
BOARD_FIELDS = ["family_name", "given_name", "phone", "title", "isbn"]

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
    orders = _orders_visible_to(user_id).filter(status__in=OPEN_STATUSES)
    orders = datakeys.with_keys(
        orders.select_related("customer").only(*BOARD_COLUMNS).order_by("requested_at"),
        subject="customer_id",
    )
    return audit_chain.with_head(orders)


def order_board(user) -> dict[str, list[SpecialOrder]]:
    """Open orders the user may see, grouped by status, oldest first. Only the columns the
    board shows are loaded (BOARD_COLUMNS): the others stay in the database, unread."""
    decisions.check_actor(user, "order_desk")
    orders = _board_orders(user_id=user.pk)
    datakeys.adopt_keys(orders, subject="customer_id")
    audit_chain.adopt_head(orders)
    decisions.decide(
        user,
        orders,
        purpose="order_desk",
        fields=BOARD_FIELDS,
        subject="customer_id",
        checked=True,
    )
    board = {status: [] for status in OPEN_STATUSES}
    for order in orders:
        board[order.status].append(order)
    return board


def orders_for_isbn(user, isbn: str) -> list[SpecialOrder]:
    """Open orders for one book (shipment receiving), via the ISBN blind index."""
    decisions.check_actor(user, "shipment")
    candidates = list(
        _orders_visible_to(user.pk)
        .filter(status__in=OPEN_STATUSES, **blind_index.lookup(SpecialOrder, "isbn_bidx", isbn))
        .select_related("customer")
        .order_by("requested_at")
    )
    datakeys.preload({o.customer_id for o in candidates})
    found = blind_index.exact(candidates, {"isbn": (normalize.isbn, normalize.isbn(isbn))})
    return decisions.decide(
        user, found, purpose="shipment", fields=SHIPMENT_FIELDS, subject="customer_id", checked=True
    )


@prepared(customer_id=uuid.UUID)
def _orders_of(customer_id):
    return SpecialOrder.objects.filter(customer_id=customer_id).order_by("-requested_at")


def customer_orders(customer: Customer) -> list[SpecialOrder]:
    """The customer's orders, newest first, each knowing its customer (no query to ask)."""
    orders = _orders_of(customer_id=customer.pk)
    for order in orders:
        order.customer = customer
    return orders
