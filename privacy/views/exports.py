"""The manager's bulk export pages: ask, a second person approves, the asker downloads once."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from privacy.desks import exports as bulk_export
from privacy.desks.models import ApprovalStatus, ExportRequest
from privacy.staff import two_person
from privacy.staff.reauth import recent_auth_required
from privacy.staff.roles import counter_only, manager_only
from privacy.views.forms import ExportRequestForm


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def exports(request):
    form = ExportRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            item = bulk_export.request_export(by=request.user, **form.cleaned_data)
        except bulk_export.ExportError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _(
                    "Export %(ref)s asked for. A second staff member approves it before you can "
                    "download it."
                )
                % {"ref": item.reference},
            )
            return redirect("privacy:export_detail", pk=item.pk)
    return render(
        request,
        "privacy/exports.html",
        {
            "form": form,
            "items": ExportRequest.objects.select_related("requested_by", "decided_by")[:30],
        },
    )


def _get(pk) -> ExportRequest:
    item = ExportRequest.objects.select_related("requested_by", "decided_by").filter(pk=pk).first()
    if item is None:
        raise Http404
    return item


# The approval pages are counter_only: any counter staff member may be the second person.
@never_cache
@counter_only
def export_detail(request, pk):
    item = _get(pk)
    return render(
        request,
        "privacy/export_detail.html",
        {
            "item": item,
            "may_approve": item.status == ApprovalStatus.PROPOSED
            and two_person.may_decide(item.requested_by_id, request.user),
            "may_download": item.may_download_now and item.requested_by_id == request.user.pk,
        },
    )


@never_cache
@counter_only
@require_POST
@recent_auth_required(actions={"download"}, back="privacy:export_detail")
def export_action(request, pk, action):
    item = _get(pk)
    try:
        if action == "approve":
            bulk_export.approve(export_id=item.pk, by=request.user)
            messages.success(
                request,
                _("Export %(ref)s approved; the person who asked can download it once.")
                % {"ref": item.reference},
            )
        elif action == "refuse":
            bulk_export.refuse(export_id=item.pk, by=request.user)
            messages.success(request, _("Export %(ref)s refused.") % {"ref": item.reference})
        elif action == "download":
            done, text = bulk_export.download(export_id=item.pk, by=request.user)
            response = HttpResponse(text.encode("utf-8"), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="shiori-export-{done.reference}.csv"'
            )
            return response
        else:
            raise Http404
    except bulk_export.NotYours:
        raise Http404 from None
    except bulk_export.ExportError as error:
        messages.error(request, str(error))
    return redirect("privacy:export_detail", pk=item.pk)
