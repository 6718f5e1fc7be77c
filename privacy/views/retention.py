"""The manager's retention pages: what is due, a batch to review, a second staff member's approval.
They show counts, references and dates, never a customer's personal data."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from privacy.desks import retention
from privacy.desks.models import ApprovalStatus, RetentionBatch
from privacy.staff import two_person
from privacy.staff.roles import counter_only, manager_only


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def retention_overview(request):
    if request.method == "POST":
        try:
            batch = retention.propose(by=request.user)
        except retention.RetentionError as error:
            messages.error(request, str(error))
            return redirect("privacy:retention")
        messages.success(
            request,
            _("Batch %(ref)s proposed. A second staff member reviews and approves it.")
            % {"ref": batch.reference},
        )
        return redirect("privacy:retention_batch", pk=batch.pk)
    return render(
        request,
        "privacy/retention.html",
        {
            "summary": retention.summary(),
            "customer_months": settings.BOOKSHOP_RETENTION_CUSTOMER_MONTHS,
            "order_months": settings.BOOKSHOP_RETENTION_ORDER_DETAIL_MONTHS,
            "batches": RetentionBatch.objects.select_related("proposed_by", "decided_by")[:20],
            "waiting": RetentionBatch.objects.filter(
                status__in=(ApprovalStatus.PROPOSED, ApprovalStatus.APPROVED)
            ).exists(),
        },
    )


def _get(pk) -> RetentionBatch:
    batch = RetentionBatch.objects.select_related("proposed_by", "decided_by").filter(pk=pk).first()
    if batch is None:
        raise Http404
    return batch


# The approval pages are counter_only: any counter staff member may be the second person.
@never_cache
@counter_only
def retention_batch(request, pk):
    batch = _get(pk)
    return render(
        request,
        "privacy/retention_batch.html",
        {
            "batch": batch,
            "review": retention.review(batch),
            "may_approve": batch.status == ApprovalStatus.PROPOSED
            and two_person.may_decide(batch.proposed_by_id, request.user),
        },
    )


@counter_only
@require_POST
def retention_action(request, pk, action):
    batch = _get(pk)
    try:
        if action == "approve":
            retention.approve(batch_id=batch.pk, by=request.user)
            done = retention.purge(batch_id=batch.pk, by=request.user)
        elif action == "purge":  # an approved batch whose purge was interrupted
            done = retention.purge(batch_id=batch.pk, by=request.user)
        elif action == "refuse":
            retention.refuse(batch_id=batch.pk, by=request.user)
            messages.success(request, _("Batch %(ref)s refused.") % {"ref": batch.reference})
            return redirect("privacy:retention_batch", pk=batch.pk)
        else:
            raise Http404
    except retention.RetentionError as error:
        messages.error(request, str(error))
        return redirect("privacy:retention_batch", pk=batch.pk)
    messages.success(
        request,
        _(
            "Batch %(ref)s done: %(erased)s customers erased, %(kept)s kept; "
            "%(cleared)s orders cleared, %(okept)s kept."
        )
        % {
            "ref": done.reference,
            "erased": done.customers_erased,
            "kept": done.customers_kept,
            "cleared": done.orders_cleared,
            "okept": done.orders_kept,
        },
    )
    return redirect("privacy:retention_batch", pk=batch.pk)
