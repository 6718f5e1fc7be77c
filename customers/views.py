"""The order desk. Views parse input, call one service or selector, log what they show,
and render."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bookshop.http import safe_next
from customers import selectors, services
from customers.forms import (
    BoardFilterForm,
    CancelForm,
    CustomerForm,
    CustomerSearchForm,
    NotifyForm,
    OrderForm,
    ShipmentForm,
)
from customers.models import OrderStatus
from privacy.access import requests as access_requests
from privacy.consent import purposes
from privacy.desks import approvals
from privacy.incidents import board as incidents_board
from privacy.staff import roles
from privacy.staff.roles import counter_only
from privacy.views.forms import GrantForm, NoticeForm


@never_cache
@counter_only
def board(request):
    """One page of the open orders (at most selectors.BOARD_PAGE_SIZE), filtered by status,
    arrival date and "orders I took", the filters in the URL."""
    filter_form = BoardFilterForm(request.GET)
    page = selectors.order_board(request.user, filter_form.filters(selectors.BoardFilters))
    columns = [(OrderStatus(status), orders, count) for status, orders, count in page.columns]
    incident_board = None
    if roles.has_role(request.user, roles.MANAGER):
        incident_board = incidents_board.open_incidents()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "customers/board.html",
        {
            "columns": columns,
            "board_page": page,
            "filter_form": filter_form,
            "filter_query": query.urlencode(),
            "board_url": request.get_full_path(),
            "notify_form": NotifyForm(),
            "cancel_form": CancelForm(),
            "incident_board": incident_board,
            "waiting_approvals": approvals.waiting_for(request.user),
        },
    )


def _search(request, form):
    matches = None
    if form.is_bound and form.is_valid():
        matches = selectors.find_customers(
            request.user,
            phone=form.cleaned_data["phone"],
            family_name_kana=form.cleaned_data["family_name_kana"],
            last4=form.cleaned_data["last4"],
        )
    return matches


@never_cache
@counter_only
@require_http_methods(["GET", "POST"])
def customer_search(request):
    """Search lives in the POST body, so no phone number or name ends up in a URL or log."""
    form = CustomerSearchForm(request.POST if request.method == "POST" else None)
    matches = _search(request, form)
    return render(
        request, "customers/customer_search.html", {"search_form": form, "matches": matches}
    )


@never_cache
@counter_only
@require_http_methods(["GET", "POST"])
def order_new(request):
    """Find the customer, or create a new one together with the order in one save. The
    current purposes are shown before anything is saved, and how the customer was told them
    is recorded with the order."""
    notice = purposes.current_notice()
    search_form = CustomerSearchForm()
    customer_form = CustomerForm(prefix="customer")
    order_form = OrderForm(prefix="order")
    notice_form = NoticeForm(prefix="notice", notice=notice)
    matches = None
    # The new-customer form is offered when asked for, or when a search found nobody: a
    # clerk who found the customer takes the order from their record instead.
    show_new_customer = request.GET.get("new") == "1"
    if request.method == "POST" and request.POST.get("action") == "search":
        search_form = CustomerSearchForm(request.POST)
        matches = _search(request, search_form)
        if matches == [] and search_form.is_valid():
            show_new_customer = True
            customer_form = CustomerForm(prefix="customer", initial=_typed(search_form))
    elif request.method == "POST":
        show_new_customer = True
        customer_form = CustomerForm(request.POST, prefix="customer")
        order_form = OrderForm(request.POST, prefix="order")
        notice_form = NoticeForm(request.POST, prefix="notice", notice=notice)
        forms_valid = [f.is_valid() for f in (customer_form, order_form, notice_form)]
        if all(forms_valid) and _already_registered(request, customer_form):
            return redirect("customers:order_new")
        if all(forms_valid) and not customer_form.non_field_errors():
            try:
                order = services.order_create_with_customer(
                    actor=request.user,
                    customer_data=customer_form.cleaned_data,
                    order_data=order_form.cleaned_data,
                    notice=notice_form.notice_data(),
                )
            except (services.OrderError, ValidationError) as error:
                _refused(order_form, error)
            else:
                messages.success(
                    request, _("Special order %(ref)s saved.") % {"ref": order.reference}
                )
                return redirect("customers:customer_detail", pk=order.customer_id)
    return render(
        request,
        "customers/order_new.html",
        {
            "search_form": search_form,
            "customer_form": customer_form,
            "order_form": order_form,
            "notice_form": notice_form,
            "notice": notice,
            "matches": matches,
            "show_new_customer": show_new_customer,
        },
    )


def _typed(search_form) -> dict:
    """What the clerk searched with, to start the new customer's form."""
    data = search_form.cleaned_data
    return {
        name: value
        for name, value in (
            ("phone", data["phone"]),
            ("family_name_kana", data["family_name_kana"]),
        )
        if value
    }


def _already_registered(request, customer_form) -> bool:
    """A new customer whose phone and family-name reading match an existing record is not
    saved a second time. A record the clerk may see: the form says to find it. Records
    hidden from the clerk: an access request goes to the manager for each, the clerk is
    told so and shown nothing of them (True: nothing was saved, start again)."""
    data = customer_form.cleaned_data
    if not data.get("phone") or not data.get("family_name_kana"):
        return False
    found = selectors.existing_duplicates(
        request.user, phone=data["phone"], family_name_kana=data["family_name_kana"]
    )
    if found.visible:
        customer_form.add_error(
            None,
            _(
                "A customer with this phone number and reading is already registered. "
                "Search by phone and take the order from their record."
            ),
        )
        return False
    if not found.hidden:
        return False
    filed = [
        access_requests.file_request(customer, by=request.user)[0] for customer in found.hidden
    ]
    messages.warning(
        request,
        _(
            "This person may already be registered, in a record you cannot see. Nothing was "
            "saved. An access request (%(refs)s) went to the manager; once it is granted, "
            "search by phone and take the order from that record."
        )
        % {"refs": ", ".join(request.reference for request in filed)},
    )
    return True


def _refused(form, error) -> None:
    """A service refused the save (nothing was saved): show why on the form."""
    for message in getattr(error, "messages", None) or [str(error)]:
        form.add_error(None, message)


@never_cache
@counter_only
@require_http_methods(["GET", "POST"])
def order_new_for_customer(request, pk):
    """A returning customer's order. A customer never told the current purposes (imported,
    or told under an older notice) is told now, before the order is saved."""
    customer = selectors.get_customer_for_user(
        request.user, pk, purpose="order_desk", fields=["family_name", "given_name", "phone"]
    )
    notice = purposes.current_notice()
    ask_notice = purposes.needs_notice(customer)
    data = request.POST if request.method == "POST" else None
    order_form = OrderForm(data, prefix="order")
    notice_form = (
        NoticeForm(
            data,
            prefix="notice",
            notice=notice,
            suspended=purposes.suspended_purposes(customer),  # not offered again
        )
        if ask_notice
        else None
    )
    if (
        request.method == "POST"
        and order_form.is_valid()
        and (not ask_notice or notice_form.is_valid())
    ):
        try:
            order = services.order_create(
                actor=request.user,
                customer=customer,
                data=order_form.cleaned_data,
                notice=notice_form.notice_data() if ask_notice else None,
            )
        except (services.OrderError, ValidationError) as error:
            _refused(order_form, error)
        else:
            messages.success(request, _("Special order %(ref)s saved.") % {"ref": order.reference})
            return redirect("customers:customer_detail", pk=customer.pk)
    return render(
        request,
        "customers/order_new_for_customer.html",
        {
            "customer": customer,
            "order_form": order_form,
            "notice_form": notice_form,
            "notice": notice,
            "stale_details": services.needs_confirmation(customer),
        },
    )


@never_cache
@counter_only
def customer_detail(request, pk):
    page = selectors.customer_page(request.user, pk)
    for record in page.notices:  # the purposes chosen, by their names, not their codes
        record.choice_labels = [
            (purposes.purpose_label(code), yes) for code, yes in record.choices.items()
        ]
    for grant in page.grants:
        grant.team_label = roles.group_label(grant.group.name) if grant.group else ""
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": page.customer,
            "orders": page.orders,
            "grants": page.grants,
            "grant_form": GrantForm(),
            "notices": page.notices,
            "suspended": sorted(purposes.purpose_label(code) for code in page.suspended),
            "needs_notice": page.needs_notice,
            "provisions": page.provisions,
        },
    )


_SIMPLE_TRANSITIONS = {
    "ordered": services.order_mark_ordered,
    "arrived": services.order_mark_arrived,
    "picked_up": services.order_pick_up,
}


@counter_only
@require_POST
def order_transition(request, pk, step):
    """One-click status change from the board, the shipment page or the customer page."""
    order = selectors.get_order_for_user(request.user, pk, fields=["status"])
    version = _int_or_none(request.POST.get("version"))
    try:
        with transaction.atomic():
            if step in _SIMPLE_TRANSITIONS:
                _SIMPLE_TRANSITIONS[step](
                    actor=request.user, order_id=order.pk, expected_version=version
                )
            elif step == "notified":
                form = NotifyForm(request.POST)
                if not form.is_valid():
                    raise services.OrderError(_("Choose how the customer was told."))
                services.order_notify(
                    actor=request.user, order_id=order.pk, channel=form.cleaned_data["channel"]
                )
            elif step == "cancelled":
                form = CancelForm(request.POST)
                if not form.is_valid():
                    raise services.OrderError(_("Give a reason for cancelling."))
                services.order_cancel(
                    actor=request.user, order_id=order.pk, reason=form.cleaned_data["reason"]
                )
            else:
                raise Http404
    except services.OrderError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Order %(ref)s updated.") % {"ref": order.reference})
    return redirect(safe_next(request) or "customers:board")


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@never_cache
@counter_only
@require_http_methods(["GET", "POST"])
def customer_edit(request, pk):
    """Correct a customer's details, with the form's version guarding against a colleague's
    save in between."""
    customer = selectors.get_customer_for_user(
        request.user, pk, purpose="correction", fields=selectors.DETAIL_FIELDS[:-1]
    )
    if request.method == "POST":
        form = CustomerForm(request.POST, instance=customer)
        version = _int_or_none(request.POST.get("version"))
        if form.is_valid():
            try:
                services.customer_update(
                    actor=request.user,
                    customer_id=customer.pk,
                    data={name: form.cleaned_data[name] for name in form.changed_data},
                    expected_version=version if version is not None else -1,
                )
            except services.StaleEdit as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Customer details saved."))
                return redirect("customers:customer_detail", pk=customer.pk)
    else:
        form = CustomerForm(instance=customer)
        version = customer.version
    return render(
        request,
        "customers/customer_edit.html",
        {"customer": customer, "form": form, "version": version},
    )


@counter_only
@require_POST
def customer_confirm(request, pk):
    """The clerk checked the details with the customer, who says they are right."""
    customer = selectors.get_customer_for_user(
        request.user, pk, purpose="customer_record", fields=["last_confirmed_at"]
    )
    services.customer_confirm(actor=request.user, customer_id=customer.pk)
    messages.success(request, _("Details confirmed with the customer."))
    next_url = safe_next(request)
    return redirect(next_url) if next_url else redirect("customers:customer_detail", pk=customer.pk)


@never_cache
@counter_only
@require_http_methods(["GET", "POST"])
def shipment(request):
    """Scan or type an ISBN from a delivery and see the open orders waiting for that book."""
    form = ShipmentForm(request.POST if request.method == "POST" else None)
    orders = None
    if request.method == "POST" and form.is_valid():
        orders = selectors.orders_for_isbn(request.user, form.cleaned_data["isbn"])
    return render(request, "customers/shipment.html", {"form": form, "orders": orders})
