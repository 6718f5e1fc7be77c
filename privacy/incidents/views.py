"""The incident register. The manager records and works incidents; the administrator may
read the register (counts, deadlines, status) but never what happened or who."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from customers import selectors
from privacy.access import decisions, hours
from privacy.incidents import board, services
from privacy.incidents.forms import AffectedForm, IncidentForm, NoticeForm, ReportForm
from privacy.incidents.models import Incident, SelectedBy
from privacy.staff import accounts, roles
from privacy.staff.roles import manager_only, manager_or_administrator
from privacy.vault import datakeys

PAGE_SIZE = 100


def _get(pk) -> Incident:
    found = (
        services.with_counts(Incident.objects.filter(pk=pk))
        .select_related("recorded_by", "preliminary_reported_by", "final_reported_by", "closed_by")
        .first()
    )
    if found is None:
        raise Http404
    return found


@never_cache
@manager_or_administrator
def register(request):
    incidents = [
        (incident, board.todo(incident))
        for incident in services.with_counts().select_related("recorded_by")
    ]
    return render(request, "incidents/register.html", {"incidents": incidents})


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def incident_new(request):
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.record(by=request.user, **form.cleaned_data)
        except services.IncidentError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Incident %(ref)s recorded.") % {"ref": incident.reference})
            return redirect("incidents:incident_detail", pk=incident.pk)
    return render(request, "incidents/incident_form.html", {"form": form})


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def incident_edit(request, pk):
    incident = _get(pk)
    if not incident.is_open:
        raise Http404
    decisions.decide(request.user, [incident], purpose="incident", fields=["summary"])
    form = IncidentForm(request.POST or None, instance=incident)
    if request.method == "POST" and form.is_valid():
        try:
            services.update(incident_id=incident.pk, by=request.user, **form.cleaned_data)
        except services.IncidentError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Incident %(ref)s saved.") % {"ref": incident.reference})
            return redirect("incidents:incident_detail", pk=incident.pk)
    return render(request, "incidents/incident_form.html", {"form": form, "incident": incident})


def _affected_page(request, incident):
    """One page of the affected list, pending notices first. Names are shown for the
    customers the manager may see (inside business hours, rules acknowledged), and each
    one shown is logged; the others by reference only."""
    rows = incident.affected.order_by(
        F("notified_on").asc(nulls_first=True), "added_at", "pk"
    )  # not yet told first
    page = Paginator(rows.select_related("notice_recorded_by"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    ids = [row.customer_id for row in page.object_list]
    names = {}
    names_hidden = False
    if ids:
        try:
            visible = decisions.decide(
                request.user,
                selectors.visible_customers(request.user).filter(pk__in=ids),
                purpose="incident_notice",
                fields=["family_name", "given_name"],
                event="incidents.affected.read",
            )
        except (hours.OutsideOpeningHours, accounts.RulesNotAcknowledged):
            visible, names_hidden = [], True
        datakeys.preload(c.pk for c in visible)
        names = {c.pk: c.display_name for c in visible}
    return page, [(row, names.get(row.customer_id)) for row in page.object_list], names_hidden


def _detail(request, incident, *, status=200, **forms):
    context = {"incident": incident, "todo": board.todo(incident), "blockers": []}
    if roles.has_role(request.user, roles.MANAGER):
        decisions.decide(request.user, [incident], purpose="incident", fields=["summary"])
        page, rows, names_hidden = _affected_page(request, incident)
        context.update(
            {
                "full": True,
                "page": page,
                "rows": rows,
                "names_hidden": names_hidden,
                "blockers": services.blockers(incident),
                "preliminary_form": forms.get("preliminary_form")
                or ReportForm(incident=incident, prefix="preliminary"),
                "final_form": forms.get("final_form")
                or ReportForm(incident=incident, prefix="final"),
                "affected_form": forms.get("affected_form")
                or AffectedForm(initial={"how": SelectedBy.REFERENCE}),
                "notice_form": forms.get("notice_form") or NoticeForm(),
            }
        )
    return render(request, "incidents/incident_detail.html", context, status=status)


@never_cache
@manager_or_administrator
def incident_detail(request, pk):
    return _detail(request, _get(pk))


def _row_ids(request) -> list[int]:
    ids = []
    for value in request.POST.getlist("rows"):
        try:
            ids.append(int(value))
        except ValueError:
            continue
    return ids


@manager_only
@require_POST
def incident_action(request, pk, action):
    incident = _get(pk)
    handlers = {
        "preliminary": _report,
        "final": _report,
        "affected": _add_affected,
        "notify": _notify,
        "remove": _remove,
        "close": _close,
    }
    if action not in handlers:
        raise Http404
    try:
        response = handlers[action](request, incident, action)
    except services.IncidentError as error:
        messages.error(request, str(error))
        response = None
    return response or redirect("incidents:incident_detail", pk=incident.pk)


def _report(request, incident, stage):
    form = ReportForm(request.POST, incident=incident, prefix=stage)
    if not form.is_valid():
        return _detail(request, incident, **{f"{stage}_form": form})
    services.record_report(
        incident_id=incident.pk,
        stage=stage,
        reported_at=form.cleaned_data["reported_at"],
        by=request.user,
    )
    messages.success(
        request,
        _("Preliminary report recorded.")
        if stage == "preliminary"
        else _("Final report recorded."),
    )
    return None


def _add_affected(request, incident, _action):
    form = AffectedForm(request.POST)
    if not form.is_valid():
        return _detail(request, incident, affected_form=form)
    how = form.cleaned_data["how"]
    criteria = {}
    if how == SelectedBy.ALL:
        ids = services.all_customer_ids()
    elif how == SelectedBy.REFERENCE:
        ids = form.cleaned_data["customer_ids"]
    else:
        staff, start, end = (form.cleaned_data[n] for n in ("staff", "date_from", "date_to"))
        ids = services.customers_touched_by(staff, start, end)
        criteria = {"staff": staff.pk, "from": start.isoformat(), "to": end.isoformat()}
    added = services.add_customers(
        incident_id=incident.pk, customer_ids=ids, how=how, by=request.user, criteria=criteria
    )
    messages.success(request, _("%(n)s customers added to the affected list.") % {"n": added})
    return None


def _notify(request, incident, _action):
    form = NoticeForm(request.POST)
    if not form.is_valid():
        return _detail(request, incident, notice_form=form)
    row_ids = _row_ids(request) if form.cleaned_data["scope"] == "ticked" else None
    count = services.record_notices(
        incident_id=incident.pk,
        method=form.cleaned_data["method"],
        notified_on=form.cleaned_data["notified_on"],
        row_ids=row_ids,
        by=request.user,
    )
    messages.success(request, _("Notice recorded for %(n)s customers.") % {"n": count})
    return None


def _remove(request, incident, _action):
    removed = services.remove_customers(
        incident_id=incident.pk, row_ids=_row_ids(request), by=request.user
    )
    messages.success(request, _("%(n)s customers taken off the affected list.") % {"n": removed})
    return None


def _close(request, incident, _action):
    services.close(incident_id=incident.pk, by=request.user)
    messages.success(request, _("Incident %(ref)s closed.") % {"ref": incident.reference})
    return None
