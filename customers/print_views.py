"""Printing from the counter.

Printing is a POST: it creates the print job (its id goes on the paper) and logs the read of
every customer on it, then redirects to the job's page, which the browser prints. A GET that
printed would log reads on every prefetch or reload, and a link cannot carry a CSRF token."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bookshop.http import safe_next
from customers import printing, selectors
from customers.models import PrintKind
from privacy.consent import purposes
from privacy.staff.roles import counter_only, manager_only


@counter_only
@require_POST
def print_pickup_list(request):
    try:
        job = printing.print_pickup_list(actor=request.user)
    except printing.PrintRefused as refused:
        messages.error(request, str(refused))
        return redirect(safe_next(request) or "customers:board")
    return redirect("customers:print_job", pk=job.pk)


@counter_only
@require_POST
def print_order_slip(request, pk):
    order = selectors.get_order_for_user(request.user, pk, fields=["status"])
    try:
        job = printing.print_order_slip(actor=request.user, order=order)
    except printing.PrintRefused as refused:
        messages.error(request, str(refused))
        return redirect(safe_next(request) or "customers:board")
    return redirect("customers:print_job", pk=job.pk)


@never_cache
@counter_only
def print_job(request, pk):
    job, orders, reopened = printing.open_job(user=request.user, job_id=pk)
    context = {"job": job, "orders": orders, "reopened": reopened}
    if job.kind == PrintKind.ORDER_SLIP:
        context.update(
            {
                "order": orders[0] if orders else None,
                "notice": purposes.current_notice(),
                "privacy_url": request.build_absolute_uri(reverse("privacy_notice")),
                "shop_name": settings.BOOKSHOP_SHOP_NAME,
            }
        )
        return render(request, "customers/print_order_slip.html", context)
    return render(request, "customers/print_pickup_list.html", context)


@never_cache
@manager_only
def print_log(request):
    """Trace a printed sheet by its print id: who printed it, when, and which customers (by
    reference) were on it."""
    # Print ids are letters, digits and a hyphen (P-1A2B3C4D): anything else (a NUL byte
    # PostgreSQL refuses, say) cannot match one, so it is dropped rather than sent on.
    typed = request.GET.get("print_id", "").strip()
    wanted = "".join(ch for ch in typed if ch.isalnum() or ch == "-")[:12]
    jobs = printing.print_log(user=request.user, print_id=wanted)
    traced = None
    if wanted:
        job = jobs.first()
        traced = (job, printing.trace(user=request.user, job=job)) if job else (None, [])
    return render(
        request,
        "customers/print_log.html",
        {"jobs": jobs[:100], "wanted": wanted, "traced": traced},
    )
