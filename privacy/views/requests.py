"""Customers' requests and complaints: the public form, intake at the counter, and the
manager's board and workflow."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from privacy.access import decisions
from privacy.audit import log as audit
from privacy.consent import purposes
from privacy.desks import disclosure, requests
from privacy.desks.models import DataRequest
from privacy.staff import roles, two_person
from privacy.staff.roles import counter_only, manager_only
from privacy.views.forms import ExtendForm, IdentityForm, ProposeForm, RequestForm
from privacy.views.middleware import client_address


@never_cache
@login_not_required
@require_http_methods(["GET", "POST"])
def public_request(request):
    """No login. The answer never depends on whether the person is a customer (nothing is
    looked up), and one address may send only a few forms an hour."""
    form = RequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if (
            requests.received_recently_from(client_address(request))
            >= settings.BOOKSHOP_PUBLIC_FORM_PER_HOUR
        ):
            return render(request, "privacy/request_limited.html", status=429)
        if form.is_valid():
            received = requests.intake(
                kind=form.cleaned_data["kind"],
                channel="web",
                name=form.cleaned_data["name"],
                contact=form.cleaned_data["contact"],
                details=form.cleaned_data["details"],
            )
            return render(request, "privacy/request_thanks.html", {"reference": received.reference})
    return render(request, "privacy/request_public.html", {"form": form})


@never_cache
@counter_only
@require_http_methods(["GET", "POST"])
def counter_request(request):
    """Any clerk takes a request or complaint at the counter."""
    form = RequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        received = requests.intake(
            kind=form.cleaned_data["kind"],
            channel="counter",
            name=form.cleaned_data["name"],
            contact=form.cleaned_data["contact"],
            details=form.cleaned_data["details"],
            by=request.user,
        )
        messages.success(
            request,
            _("Request %(ref)s received. Tell the person this reference.")
            % {"ref": received.reference},
        )
        return redirect("customers:board")
    return render(request, "privacy/request_counter.html", {"form": form})


@never_cache
@manager_only
def request_board(request):
    return render(request, "privacy/request_board.html", {"open_requests": requests.board()})


def _decided(request, pk, *, fields) -> DataRequest:
    """The request, once the gate lets this user read it (404 otherwise)."""
    return decisions.decide(request.user, [_get(pk)], purpose="request_handling", fields=fields)[0]


def _get(pk) -> DataRequest:
    found = (
        DataRequest.objects.select_related(
            "customer", "owner", "proposed_by", "identity_checked_by"
        )
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    return found


@never_cache
@counter_only
def request_detail(request, pk):
    """The manager works the request here; another staff member (a clerk, in a shop with one
    manager) opens it to approve or send back the proposed outcome."""
    item = _decided(request, pk, fields=requests.FIELDS)
    return render(
        request,
        "privacy/request_detail.html",
        {
            "item": item,
            "identity_form": IdentityForm(),
            "propose_form": ProposeForm(),
            "extend_form": ExtendForm(),
            "may_approve": two_person.may_decide(item.proposed_by_id, request.user),
            "notice": purposes.current_notice(),
            "is_manager": roles.has_role(request.user, roles.MANAGER),
            "may_release": requests.may_release(item, request.user),
        },
    )


@counter_only
@require_POST
def request_action(request, pk, action):
    item = _decided(request, pk, fields=["status"])
    if action not in ("approve", "send_back") and not roles.has_role(request.user, roles.MANAGER):
        raise PermissionDenied
    try:
        if action == "verify":
            form = IdentityForm(request.POST)
            if not form.is_valid():
                raise requests.RequestError(
                    " ".join(e for errors in form.errors.values() for e in errors)
                )
            requests.verify_identity(
                request_id=item.pk,
                method=form.cleaned_data["method"],
                customer=form.cleaned_data["customer_reference"],
                by=request.user,
            )
        elif action == "start":
            requests.start_work(request_id=item.pk, by=request.user)
        elif action == "propose":
            form = ProposeForm(request.POST)
            if not form.is_valid():
                raise requests.RequestError(_("Choose the outcome and write the reply or reason."))
            requests.propose(
                request_id=item.pk,
                outcome=form.cleaned_data["outcome"],
                reply=form.cleaned_data["reply"],
                by=request.user,
            )
        elif action == "approve":
            requests.approve(request_id=item.pk, by=request.user)
        elif action == "release":
            token = requests.release_disclosure(request_id=item.pk, by=request.user)
            link = request.build_absolute_uri(reverse("disclosure_download", args=[token]))
            messages.warning(
                request,
                _("Disclosure released. One-time link, shown only now: %(link)s") % {"link": link},
            )
        elif action == "suspend":
            codes = [code for code in request.POST.getlist("purposes") if code]
            requests.suspend(request_id=item.pk, purpose_codes=codes, by=request.user)
        elif action == "send_back":
            requests.send_back(request_id=item.pk, by=request.user)
        elif action == "extend":
            form = ExtendForm(request.POST)
            if not form.is_valid():
                raise requests.RequestError(
                    _("Give the number of days and a reason for the extension.")
                )
            requests.extend(
                request_id=item.pk,
                days=form.cleaned_data["days"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        else:
            raise Http404
    except requests.RequestError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Request %(ref)s updated.") % {"ref": item.reference})
        if not roles.has_role(request.user, roles.MANAGER):
            return redirect("customers:board")  # the second person's part is done
    return redirect("privacy:request_detail", pk=item.pk)


@never_cache
@login_not_required
@require_http_methods(["GET", "POST"])
def disclosure_download(request, token):
    """The one-time link. GET only shows a button (so that a link preview cannot use it up);
    POST hands out the package once and logs it."""
    from django.db import transaction
    from django.http import HttpResponse

    if request.method == "GET":
        return render(request, "privacy/disclosure_download.html", {"token": token})
    with transaction.atomic():
        found = disclosure.redeem(token)
        if found is None or found.request.customer is None:
            return render(request, "privacy/disclosure_download.html", {"gone": True}, status=410)
        customer = decisions.decide(
            None,
            [found.request.customer],
            purpose="disclosure_download",
            fields=["all"],
            event="privacy.disclosure.read",
            release=found.request,
        )[0]
        package = disclosure.build(customer)
        audit.record("privacy.disclosure.downloaded", target=found.request)
    response = HttpResponse(disclosure.as_zip(package), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="disclosure-{customer.reference}.zip"'
    return response


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def request_correct(request, pk):
    """Correction (訂正等): the fields named in the request, old value beside the new one.
    The result goes into the reply; the audit log names the fields, never the values."""
    from customers import services
    from customers.forms import CustomerForm

    item = _decided(request, pk, fields=["status"])
    if not requests.may_correct(item, request.user):
        raise Http404
    fields = list(CustomerForm.base_fields)
    customer = decisions.decide(
        request.user, [item.customer], purpose="request_correction", fields=fields
    )[0]
    form = CustomerForm(request.POST if request.method == "POST" else None, instance=customer)
    if request.method == "POST" and form.is_valid():
        changed = list(form.changed_data)
        try:
            services.customer_update(
                actor=request.user,
                customer_id=customer.pk,
                data={name: form.cleaned_data[name] for name in changed},
                expected_version=int(request.POST.get("version", -1) or -1),
                purpose="request_correction",
            )
        except (services.StaleEdit, ValueError) as error:
            form.add_error(None, str(error))
        else:
            requests.record_correction(
                request_id=item.pk,
                fields=[str(form.fields[n].label) for n in changed],
                by=request.user,
            )
            messages.success(request, _("Correction saved; the reply lists the fields corrected."))
            return redirect("privacy:request_detail", pk=item.pk)
    rows = [(form[name], getattr(customer, name)) for name in form.fields]
    return render(
        request,
        "privacy/request_correct.html",
        {"item": item, "form": form, "rows": rows, "version": customer.version},
    )
