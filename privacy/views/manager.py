"""The manager's access and hours controls, and the administrator's audit log."""

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from customers import selectors
from customers.forms import CustomerSearchForm
from customers.models import Customer
from privacy.access import grants as access
from privacy.access import hours
from privacy.access.models import AccessGrant
from privacy.audit import log as audit
from privacy.audit import review as audit_review
from privacy.core import dates
from privacy.staff.roles import administrator_only, manager_only
from privacy.views.forms import AuditFilterForm, GrantForm, OverrideForm, RevokeForm


@manager_only
@require_POST
def access_grant(request, pk):
    customer = selectors.get_customer_for_user(
        request.user, pk, purpose="customer_record", fields=["access_grants"]
    )
    form = GrantForm(request.POST)
    if form.is_valid():
        access.grant(
            customer,
            to=form.cleaned_data["user"] or form.cleaned_data["group"],
            reason=form.cleaned_data["reason"],
            by=request.user,
        )
        messages.success(request, _("Access granted."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("customers:customer_detail", pk=customer.pk)


@manager_only
@require_POST
def access_revoke(request, grant_id):
    record = AccessGrant.objects.filter(pk=grant_id).select_related("customer").first()
    if record is None:
        raise Http404
    customer = selectors.get_customer_for_user(
        request.user, record.customer_id, purpose="customer_record", fields=["access_grants"]
    )
    form = RevokeForm(request.POST)
    if form.is_valid():
        access.revoke(record, by=request.user)
        messages.success(request, _("Access revoked."))
    if not selectors.visible_customers(request.user).filter(pk=customer.pk).exists():
        return redirect("customers:board")
    return redirect("customers:customer_detail", pk=customer.pk)


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def find_any_customer(request):
    """The manager finds a customer nobody is granted (for a customer's request) and grants
    themselves access, with a reason. The result shows a reference, never the data."""
    action = request.POST.get("action")
    form = CustomerSearchForm(request.POST if action == "search" else None)
    matches = None
    if action == "search" and form.is_valid():
        matches = selectors.find_any_customer(
            request.user,
            phone=form.cleaned_data["phone"],
            family_name_kana=form.cleaned_data["family_name_kana"],
            last4=form.cleaned_data["last4"],
        )
        audit.record_reads(
            matches,
            actor=request.user,
            purpose="manager_lookup",
            fields=["reference"],
            event="privacy.access.lookup.read",
        )
    elif action == "grant_self":
        customer = Customer.objects.filter(pk=_uuid_or_none(request.POST.get("customer"))).first()
        if customer is None:
            raise Http404
        reason_form = RevokeForm(request.POST)
        if reason_form.is_valid() and reason_form.cleaned_data["reason"]:
            access.grant(
                customer,
                to=request.user,
                reason=reason_form.cleaned_data["reason"],
                by=request.user,
            )
            messages.success(request, _("You can now see this customer."))
            return redirect("customers:customer_detail", pk=customer.pk)
        messages.error(request, _("Give a reason for seeing this customer."))
    visible = set()
    if matches:
        visible = set(
            access.visible_customers(request.user)
            .filter(pk__in=[m.pk for m in matches])
            .values_list("pk", flat=True)
        )
    return render(
        request,
        "privacy/find_any_customer.html",
        {"search_form": form, "matches": matches, "visible": visible},
    )


def _uuid_or_none(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def hours_override(request):
    form = OverrideForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        override = hours.open_override(
            by=request.user,
            reason=form.cleaned_data["reason"],
            minutes=form.cleaned_data["minutes"],
        )
        messages.success(
            request,
            _("Customer data is open until %(time)s.")
            % {"time": timezone.localtime(override.ends_at).strftime("%H:%M")},
        )
        return redirect("customers:board")
    return render(
        request,
        "privacy/hours_override.html",
        {"form": form, "opening_hours": dates.opening_hours(), "override": hours.active_override()},
    )


def _audit_filters(request):
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        entries = audit_review.filtered_entries(
            actor=data["actor"],
            reference=data["reference"],
            action=data["action"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
    elif form.is_bound:
        entries = audit_review.filtered_entries().none()
    else:
        entries = audit_review.filtered_entries()
    return form, entries


@never_cache
@administrator_only
def audit_log(request):
    form, entries = _audit_filters(request)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "privacy/audit_log.html",
        {
            "form": form,
            "page": page,
            "rows": [audit_review.describe(entry) for entry in page.object_list],
            "query": query.urlencode(),
            "flags": audit_review.flags(),
            "chain": audit_review.chain_status(),
        },
    )


class _Echo:
    def write(self, value):
        return value


@never_cache
@administrator_only
def audit_export(request):
    """The filtered view as CSV. The export itself is logged."""
    form, entries = _audit_filters(request)
    audit.record(
        "privacy.audit.exported",
        actor=request.user,
        data={
            key: str(value)
            for key, value in (
                form.cleaned_data if form.is_bound and form.is_valid() else {}
            ).items()
            if value
        },
    )
    columns = [
        "seq",
        "timestamp",
        "actor",
        "event",
        "reference",
        "target",
        "purpose",
        "fields",
        "changed",
        "remote_addr",
        "cid",
    ]
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(columns)
        for entry in entries.iterator(chunk_size=2000):
            described = audit_review.describe(entry)
            described["timestamp"] = described["timestamp"].isoformat()
            yield writer.writerow([described[c] for c in columns])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def notices(request):
    """Versions of the purpose notice: preview and publish a new one; see who must be told
    again because a new version added a purpose."""
    from privacy.consent import purposes
    from privacy.consent.models import PurposeNotice
    from privacy.views.forms import PurposeNoticeForm, purposes_as_text

    current = purposes.current_notice()
    initial = {}
    if current:
        initial = {
            "text_ja": current.text_ja,
            "text_en": current.text_en,
            "purposes": purposes_as_text(current.purposes),
        }
    form = PurposeNoticeForm(request.POST if request.method == "POST" else None, initial=initial)
    preview = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") == "publish":
            notice = purposes.publish_notice(by=request.user, **form.cleaned_data)
            messages.success(
                request, _("Notice version %(version)s published.") % {"version": notice.version}
            )
            return redirect("privacy:notices")
        preview = form.cleaned_data
    to_renotify = purposes.customers_to_renotify(Customer.objects.all())
    return render(
        request,
        "privacy/notices.html",
        {
            "form": form,
            "preview": preview,
            "current": current,
            "versions": PurposeNotice.objects.order_by("-version"),
            "renotify_count": to_renotify.count(),
            "renotify_refs": [c.reference for c in to_renotify.only("pk")[:200]],
        },
    )
