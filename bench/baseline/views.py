"""Baseline pages: Shiori's own templates rendered from the plaintext or fernet models.

What they include: the whole middleware stack (session saved on every request, login
required, CSRF, CSP, staff sessions), a clerk's role check, the same template and forms.
What they leave out, because the baselines have no such machinery: guardian's object
permissions, business hours, grant expiry, read and write audit entries, purpose notices,
grants and notices shown on the customer page (empty lists)."""

from django import forms
from django.db import transaction
from django.db.models import Case, Count, Value, When, Window
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from bench.baseline.models import KINDS
from customers.forms import BoardFilterForm, CancelForm, NotifyForm
from customers.models import OPEN_STATUSES, OrderStatus
from customers.selectors import BOARD_PAGE_SIZE, BoardFilters, BoardPage
from privacy.staff.roles import counter_only
from privacy.views.forms import GrantForm

CUSTOMER_FIELDS = [
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "phone",
    "email",
    "postal_code",
    "address",
    "notes",
    "preferred_contact",
]
ORDER_FIELDS = ["isbn", "title", "author", "publisher", "quantity", "deposit_paid"]


def _models(kind):
    try:
        return KINDS[kind]
    except KeyError:
        raise Http404 from None


@never_cache
@counter_only
def board(request, kind):
    """The board as customers.views.board serves it: the same filters from the URL (but the
    arrival date), one page of at most BOARD_PAGE_SIZE open orders, oldest first, with each
    status's total counted by window functions in the same query (as
    customers.selectors.order_board does), and the same context for the template."""
    _customer_model, order_model = _models(kind)
    filter_form = BoardFilterForm(request.GET)
    filters = filter_form.filters(BoardFilters)
    statuses = [filters.status] if filters.status in OPEN_STATUSES else list(OPEN_STATUSES)
    matching = order_model.objects.filter(status__in=statuses)
    if filters.mine:
        matching = matching.filter(requested_by=request.user.pk)
    # The baselines record no arrival time, so "Arrived on" cannot narrow them; the bench
    # measures the unfiltered board.
    page = max(1, filters.page)
    orders = _board_page(matching, page)
    if not orders and page > 1:
        page = max(1, -(-matching.count() // BOARD_PAGE_SIZE))
        orders = _board_page(matching, page)
    total = orders[0].__dict__["_board_total"] if orders else 0
    per_status = dict.fromkeys(OPEN_STATUSES, 0)
    shown = {status: [] for status in OPEN_STATUSES}
    for order in orders:
        for status in OPEN_STATUSES:
            per_status[status] = order.__dict__[f"_total_{status}"]
        shown[order.status].append(order)
    start = (page - 1) * BOARD_PAGE_SIZE
    board_page = BoardPage(
        columns=[(OrderStatus(s), shown[s], per_status[s]) for s in statuses],
        page=page,
        pages=max(1, -(-total // BOARD_PAGE_SIZE)),
        total=total,
        first=start + 1 if orders else 0,
        last=start + len(orders),
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "customers/board.html",
        {
            "columns": board_page.columns,
            "board_page": board_page,
            "filter_form": filter_form,
            "filter_query": query.urlencode(),
            "board_url": request.get_full_path(),
            "notify_form": NotifyForm(),
            "cancel_form": CancelForm(),
        },
    )


def _board_page(matching, page: int) -> list:
    orders = matching.annotate(
        _board_total=Window(Count("pk")),
        **{
            f"_total_{status}": Window(Count(Case(When(status=status, then=Value(1)))))
            for status in OPEN_STATUSES
        },
    )
    orders = orders.select_related("customer").order_by("requested_at", "pk")
    start = (page - 1) * BOARD_PAGE_SIZE
    return list(orders[start : start + BOARD_PAGE_SIZE])


@never_cache
@counter_only
def customer_detail(request, kind, pk):
    customer_model, _order_model = _models(kind)
    customer = get_object_or_404(customer_model, pk=pk)
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "orders": list(customer.orders.order_by("-requested_at")),
            "grants": [],
            "grant_form": GrantForm(),
            "notices": [],
            "suspended": [],
            "needs_notice": False,
        },
    )


@never_cache
@counter_only
@require_http_methods(["GET", "POST"])
def order_new(request, kind):
    customer_model, order_model = _models(kind)
    customer_form_class = forms.modelform_factory(customer_model, fields=CUSTOMER_FIELDS)
    order_form_class = forms.modelform_factory(order_model, fields=ORDER_FIELDS)
    data = request.POST if request.method == "POST" else None
    customer_form = customer_form_class(data, prefix="customer")
    order_form = order_form_class(data, prefix="order")
    if data is not None and customer_form.is_valid() and order_form.is_valid():
        with transaction.atomic():
            customer = customer_form.save()
            order = order_form.save(commit=False)
            order.customer = customer
            order.requested_by = request.user
            order.save()
        return redirect("baseline:customer_detail", kind=kind, pk=customer.pk)
    return render(
        request,
        "customers/order_new.html",
        {"customer_form": customer_form, "order_form": order_form, "search_form": None},
    )
