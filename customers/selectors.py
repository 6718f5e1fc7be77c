"""Every read of customer data. Each takes the acting user and filters by object permission
in the database query, so nothing hidden is ever fetched, shown or counted.

The queries every page asks are prepared (privacy.prepared): written with the same
``access`` conditions, compiled once, run with the user's and the row's ids."""

import datetime
import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, Value, When, Window
from django.http import Http404
from django.utils import timezone

from customers.models import OPEN_STATUSES, Customer, SpecialOrder
from privacy.access import decisions
from privacy.access import grants as access
from privacy.audit import chain as audit_chain
from privacy.audit import log as audit
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
    # "opened": one customer opened by itself, not a row of a list (the audit desk's flags
    # count these, privacy.audit.review.OPENED).
    return decisions.decide(
        user, found, purpose=purpose, fields=fields, checked=True, data={"opened": True}
    )[0]


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
    if not matches:
        _log_hidden_matches(user, phone, family_name_kana, last4)
    return decisions.decide(
        user, matches, purpose="customer_lookup", fields=MATCH_FIELDS, checked=True
    )


def _log_hidden_matches(user, phone, family_name_kana, last4) -> None:
    """A search whose matches all exist but none is visible to this user leaves a trace
    for the administrator: ``privacy.search.refused`` with how many, never what was typed nor
    whom it matched. The user sees "no match", as for nobody (the count is never shown)."""
    hidden = len(_exact_matches(None, phone, family_name_kana, last4))
    if hidden:
        audit.record(
            "privacy.search.refused",
            actor=user,
            data={"purpose": "customer_lookup", "reason": "not visible", "matches": hidden},
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


@prepared(phone=int, kana=int)
def _any_by_phone_and_kana(phone, kana):
    return datakeys.with_keys(_not_erased().filter(phone_bidx=phone, family_name_kana_bidx=kana))


@dataclass(frozen=True)
class Duplicates:
    """Existing customers with the phone and family-name reading of a new one: how many
    the clerk may see, and the ones hidden from them (rows for an access request, never to
    be shown)."""

    visible: int
    hidden: list[Customer]


def existing_duplicates(user, *, phone: str, family_name_kana: str) -> Duplicates:
    """Customers (not erased) whose phone and family-name kana equal these. The blind
    indexes select the candidates over every customer; the vault compares them exactly
    (``blind_index.exact``: nothing is decrypted for anyone, nothing is shown, no read is
    logged). The clerk is then told only that a match exists, never what it holds."""
    decisions.check_actor(user, "order_desk")
    phone_index = _index("phone_bidx", phone)
    kana_index = _index("family_name_kana_bidx", family_name_kana)
    if phone_index is None or kana_index is None:
        return Duplicates(visible=0, hidden=[])
    candidates = _any_by_phone_and_kana(phone=phone_index, kana=kana_index)
    datakeys.adopt_keys(candidates)
    matches = blind_index.exact(
        candidates,
        {
            "phone": (normalize.phone, normalize.phone(phone)),
            "family_name_kana": (normalize.kana, normalize.kana(family_name_kana)),
        },
    )
    if not matches:
        return Duplicates(visible=0, hidden=[])
    seen = (
        access.granted_among(user.pk, [c.pk for c in matches])
        if access.may_see_any(user)
        else set()
    )
    return Duplicates(visible=len(seen), hidden=[c for c in matches if c.pk not in seen])


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
    "notice_mail",  # the arrival-notice mail's state (customers/outbox.py)
    "customer__family_name",
    "customer__given_name",
    "customer__phone",
    "customer__preferred_contact",
)


# At most this many orders (so as many customers) a view of the board: a busy shop's 800 open
# orders are paged, and only the orders shown are read (and logged).
BOARD_PAGE_SIZE = 50


@dataclass(frozen=True)
class BoardFilters:
    """What the clerk narrowed the board to (all in the URL: no personal data in them)."""

    status: str = ""  # one of OPEN_STATUSES, or "" for every open status
    arrived: datetime.date | None = None  # orders that arrived on this day
    mine: bool = False  # orders the clerk took
    page: int = 1


@dataclass
class BoardPage:
    """One page of the board: each open status with its orders shown and how many orders
    of that status the filters match in all."""

    columns: list[tuple[str, list[SpecialOrder], int]]
    page: int
    pages: int
    total: int
    first: int  # 1-based position of the first order shown (0 when none)
    last: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def shown(self) -> int:
        return sum(len(orders) for _status, orders, _count in self.columns)

    def values(self) -> list[list[SpecialOrder]]:
        """The orders shown, one list per status (as the board's earlier dict of columns)."""
        return [orders for _status, orders, _count in self.columns]


def _board_query(user, filters: BoardFilters):
    statuses = [filters.status] if filters.status in OPEN_STATUSES else list(OPEN_STATUSES)
    orders = _orders_visible_to(user.pk).filter(status__in=statuses)
    if filters.mine:
        orders = orders.filter(requested_by=user.pk)
    if filters.arrived is not None:
        orders = orders.filter(arrived_at__date=filters.arrived)
    return orders


def order_board(user, filters: BoardFilters | None = None) -> BoardPage:
    """One page of the open orders the user may see, oldest first, at most BOARD_PAGE_SIZE,
    with each status's total among the orders the filters match (counted in the same query,
    by window functions: no personal data is read to count). Only the columns the board
    shows are loaded (BOARD_COLUMNS), and only the orders on the page are read and logged."""
    filters = filters or BoardFilters()
    decisions.check_actor(user, "order_desk")
    matching = _board_query(user, filters)
    page = max(1, filters.page)
    orders = _board_page(matching, page)
    if not orders and page > 1:  # past the end (a page emptied meanwhile): the last page
        page = max(1, -(-matching.count() // BOARD_PAGE_SIZE))
        orders = _board_page(matching, page)
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
    total = orders[0].__dict__["_board_total"] if orders else 0
    per_status = dict.fromkeys(OPEN_STATUSES, 0)
    shown = {status: [] for status in OPEN_STATUSES}
    for order in orders:
        values = order.__dict__
        values.pop("_board_total")
        for status in OPEN_STATUSES:
            per_status[status] = values.pop(f"_total_{status}")
        shown[order.status].append(order)
    statuses = [filters.status] if filters.status in OPEN_STATUSES else list(OPEN_STATUSES)
    start = (page - 1) * BOARD_PAGE_SIZE
    return BoardPage(
        columns=[(status, shown[status], per_status[status]) for status in statuses],
        page=page,
        pages=max(1, -(-total // BOARD_PAGE_SIZE)),
        total=total,
        first=start + 1 if orders else 0,
        last=start + len(orders),
    )


def _board_page(matching, page: int) -> list[SpecialOrder]:
    """The page's orders with their data keys, the audit chain's head, the number of orders
    the filters match and, per status, how many of them have that status: one query."""
    orders = matching.annotate(
        _board_total=Window(Count("pk")),
        **{
            f"_total_{status}": Window(Count(Case(When(status=status, then=Value(1)))))
            for status in OPEN_STATUSES
        },
    )
    orders = datakeys.with_keys(
        orders.select_related("customer").only(*BOARD_COLUMNS).order_by("requested_at", "pk"),
        subject="customer_id",
    )
    start = (page - 1) * BOARD_PAGE_SIZE
    return list(audit_chain.with_head(orders)[start : start + BOARD_PAGE_SIZE])


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
