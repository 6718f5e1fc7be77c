"""The manager's access and hours controls (the administrator's audit log: views/audit.py)."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from customers import selectors
from customers.forms import CustomerSearchForm
from customers.models import Customer
from privacy.access import confirmations, hours
from privacy.access import grants as access
from privacy.access.models import AccessGrant
from privacy.audit import log as audit
from privacy.core import dates
from privacy.staff.models import SecondPersonProposal
from privacy.staff.reauth import only_post, recent_auth_required
from privacy.staff.roles import manager_only
from privacy.views.forms import GrantForm, OverrideForm, RevokeForm


@manager_only
@require_POST
def access_grant(request, pk):
    customer = selectors.get_customer_for_user(
        request.user, pk, purpose="customer_record", fields=["access_grants"]
    )
    form = GrantForm(request.POST)
    if form.is_valid() and form.cleaned_data["user"] == request.user:
        # Issue 15: the manager's grant to themselves waits for a second person, here too.
        proposal, _created = confirmations.propose_grant_self(
            customer, by=request.user, reason=form.cleaned_data["reason"]
        )
        messages.success(
            request,
            _("Proposal %(ref)s: waiting for another manager or the administrator to confirm.")
            % {"ref": proposal.reference},
        )
    elif form.is_valid():
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
            # Issue 15: not granted until a second person confirms (access.confirmations).
            proposal, _created = confirmations.propose_grant_self(
                customer, by=request.user, reason=reason_form.cleaned_data["reason"]
            )
            messages.success(
                request,
                _(
                    "Proposal %(ref)s: you can see this customer once another manager or the "
                    "administrator confirms it in 「Awaiting approval」."
                )
                % {"ref": proposal.reference},
            )
        else:
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
        {
            "search_form": form,
            "matches": matches,
            "visible": visible,
            "awaiting": confirmations.pending_grant_self(request.user) if matches else set(),
        },
    )


def _uuid_or_none(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@never_cache
@manager_only
@recent_auth_required(when=only_post)
@require_http_methods(["GET", "POST"])
def hours_override(request):
    form = OverrideForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        # Issue 15: longer than BOOKSHOP_OVERRIDE_CONFIRM_MINUTES waits for a second person.
        override = confirmations.open_or_propose_override(
            by=request.user,
            reason=form.cleaned_data["reason"],
            minutes=form.cleaned_data["minutes"],
        )
        if isinstance(override, SecondPersonProposal):
            messages.success(
                request,
                _(
                    "Proposal %(ref)s: longer than %(limit)s minutes, so it opens when another "
                    "manager or the administrator confirms it in 「Awaiting approval」."
                )
                % {"ref": override.reference, "limit": settings.BOOKSHOP_OVERRIDE_CONFIRM_MINUTES},
            )
            return redirect("privacy:hours_override")
        messages.success(
            request,
            _("Customer data is open until %(time)s.")
            % {"time": timezone.localtime(override.ends_at).strftime("%H:%M")},
        )
        return redirect("customers:board")
    return render(
        request,
        "privacy/hours_override.html",
        {
            "form": form,
            "opening_hours": dates.opening_hours(),
            "override": hours.active_override(),
            "awaiting": confirmations.pending_override(request.user),
            "confirm_minutes": settings.BOOKSHOP_OVERRIDE_CONFIRM_MINUTES,
        },
    )


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
    # Those who stopped a use keep it stopped when told the new version: the clerk sees it
    # greyed out with a warning, and the record says no (purposes.record_notice).
    renotify_stopped = to_renotify.filter(purposes.suspension_exists()).count()
    return render(
        request,
        "privacy/notices.html",
        {
            "form": form,
            "preview": preview,
            "current": current,
            "versions": PurposeNotice.objects.order_by("-version"),
            "renotify_count": to_renotify.count(),
            "renotify_stopped": renotify_stopped,
            "renotify_refs": [c.reference for c in to_renotify.only("pk")[:200]],
        },
    )
