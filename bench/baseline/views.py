"""Baseline pages: Shiori's own templates rendered from the plaintext or fernet models.

What they include: the whole middleware stack (session saved on every request, login
required, CSRF, CSP, staff sessions), a clerk's role check, the same template and forms.
What they leave out, because the baselines have no such machinery: guardian's object
permissions, business hours, grant expiry, read and write audit entries, purpose notices,
grants and notices shown on the customer page (empty lists)."""

from django import forms
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from bench.baseline.models import KINDS
from customers.forms import CancelForm, NotifyForm
from customers.models import OPEN_STATUSES, OrderStatus
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
    _customer_model, order_model = _models(kind)
    orders = order_model.objects.filter(status__in=OPEN_STATUSES).select_related("customer")
    columns = {status: [] for status in OPEN_STATUSES}
    for order in orders.order_by("requested_at"):
        columns[order.status].append(order)
    return render(
        request,
        "customers/board.html",
        {
            "columns": [(OrderStatus(s), o) for s, o in columns.items()],
            "notify_form": NotifyForm(),
            "cancel_form": CancelForm(),
        },
    )


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
