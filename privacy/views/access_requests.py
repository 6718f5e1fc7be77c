"""The manager's page for clerks' access requests (privacy.access.requests): grant the clerk
a view of the customer, or refuse. The page names the clerk, the time and the reason, and
the customer by reference only."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from privacy.access import requests as access_requests
from privacy.access.models import AccessRequest
from privacy.staff.roles import manager_only

_DURATIONS = {"1": 1, "7": 7, "30": 30, "": None}


class GrantDurationForm(forms.Form):
    ends = forms.ChoiceField(
        label=gettext_lazy("Access ends"),
        choices=[
            ("1", gettext_lazy("after 1 day")),
            ("7", gettext_lazy("after 7 days")),
            ("30", gettext_lazy("after 30 days")),
            ("", gettext_lazy("when revoked")),
        ],
        initial="30",
        required=False,
    )


def _request_or_404(pk) -> AccessRequest:
    found = (
        AccessRequest.objects.filter(pk=pk)
        .select_related("requested_by", "decided_by", "grant")
        .first()
    )
    if found is None:
        raise Http404
    return found


@never_cache
@manager_only
@require_GET
def access_request_list(request):
    decided = (
        AccessRequest.objects.exclude(outcome="pending")
        .select_related("requested_by", "decided_by")
        .order_by("-decided_at")[:50]
    )
    return render(
        request,
        "privacy/access_requests.html",
        {"pending": access_requests.pending(), "decided": decided},
    )


@never_cache
@manager_only
@require_GET
def access_request_detail(request, pk):
    return render(
        request,
        "privacy/access_request_detail.html",
        {"item": _request_or_404(pk), "form": GrantDurationForm()},
    )


@manager_only
@require_POST
def access_request_action(request, pk, action):
    item = _request_or_404(pk)
    try:
        if action == "grant":
            form = GrantDurationForm(request.POST)
            days = _DURATIONS.get(form.data.get("ends", "30"), 30) if form.is_valid() else 30
            expires_at = timezone.now() + timedelta(days=days) if days else None
            access_requests.grant(item.pk, by=request.user, expires_at=expires_at)
            messages.success(
                request, _("Access request %(ref)s granted.") % {"ref": item.reference}
            )
        elif action == "refuse":
            access_requests.refuse(item.pk, by=request.user)
            messages.success(
                request, _("Access request %(ref)s refused.") % {"ref": item.reference}
            )
        else:
            raise Http404
    except access_requests.AccessRequestError as error:
        messages.error(request, str(error))
    return redirect("privacy:access_request", pk=item.pk)
