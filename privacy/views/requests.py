"""Customers' requests and complaints: the public form, intake at the counter, and the
manager's board and workflow."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from privacy.access import decisions, hours
from privacy.audit import log as audit
from privacy.consent import purposes
from privacy.desks import disclosure, rate_limit, requests
from privacy.desks.models import DataRequest, RequestKind
from privacy.ops import erasure_date
from privacy.staff import roles
from privacy.staff.reauth import recent_auth_required
from privacy.staff.roles import counter_only, manager_only
from privacy.views.forms import ExtendForm, IdentityForm, RequestForm
from privacy.views.middleware import client_address
from privacy.views.request_forms import LiftForm, ProposeForm

RECEIVED_AT_COUNTER = "privacy.counter_request.received"  # session key: the last reference


@never_cache
@login_not_required
@require_http_methods(["GET", "POST"])
def public_request(request):
    """No login. The answer never depends on whether the person is a customer (nothing is
    looked up), and one address may send only a few forms an hour."""
    form = RequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        received = None
        try:
            # The count and the insert in one transaction, under a lock (desks.rate_limit).
            with rate_limit.public_form(client_address(request)):
                if form.is_valid():
                    received = requests.intake(
                        kind=form.cleaned_data["kind"],
                        channel="web",
                        name=form.cleaned_data["name"],
                        contact=form.cleaned_data["contact"],
                        details=form.cleaned_data["details"],
                    )
        except rate_limit.Limited:
            return render(request, "privacy/request_limited.html", status=429)
        if received is not None:
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
        if requests.may_read(request.user, received) and hours.is_open():
            return redirect("privacy:request_detail", pk=received.pk)
        # Out of hours the page would not open: say what to tell the person instead.
        request.session[RECEIVED_AT_COUNTER] = received.reference
        return redirect("privacy:counter_request_received")
    return render(request, "privacy/request_counter.html", {"form": form})


@never_cache
@counter_only
@require_safe
def counter_request_received(request):
    """The confirmation after the counter's form, when the request itself cannot be shown:
    the reference to tell the person (kept in this session only, so the page shows nothing
    to anyone else)."""
    reference = request.session.get(RECEIVED_AT_COUNTER)
    if not reference:
        return redirect("privacy:counter_request")
    return render(request, "privacy/request_received.html", {"reference": reference})


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


def _draft_reply(item) -> str:
    if item.kind != RequestKind.ERASURE:
        return ""
    return _(
        "We have erased your personal data from our customer records. Copies kept in our "
        "encrypted backups can no longer be read from %(date)s at the latest."
    ) % {"date": date_format(erasure_date.stated_horizon(), "DATE_FORMAT")}


@never_cache
@counter_only
def request_detail(request, pk):
    """The manager works the request here; another staff member (a clerk, in a shop with one
    manager) opens it to approve or send back the proposed outcome."""
    item = _decided(request, pk, fields=requests.FIELDS)
    is_manager = roles.has_role(request.user, roles.MANAGER)
    stopped = requests.stopped_uses(item)
    for use in stopped:  # the manager lifts a stop in force, with a reason
        if is_manager and use["suspension"] and not use["suspension"].lifted_at:
            use["lift_form"] = LiftForm(initial={"purpose": use["code"]}, prefix=use["code"])
    return render(
        request,
        "privacy/request_detail.html",
        {
            "item": item,
            "identity_form": IdentityForm(),
            # A correction's draft reply (the fields corrected) is where the reply starts; an
            # erasure's starts with the day its copies in the backups stop being readable.
            "propose_form": ProposeForm(
                initial={"reply": item.reply or _draft_reply(item)}, proposer=request.user
            ),
            "extend_form": ExtendForm(),
            "may_approve": requests.may_approve(item, request.user),
            "notice": purposes.current_notice(),
            "is_manager": is_manager,
            "may_release": requests.may_release(item, request.user),
            "stopped": stopped,
        },
    )


@counter_only
@require_POST
@recent_auth_required(actions={"release"}, back="privacy:request_detail")
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
            form = ProposeForm(request.POST, proposer=request.user)
            if not form.is_valid():
                raise requests.RequestError(
                    _("Choose another member of the counter staff as the second person.")
                    if "second_person" in form.errors
                    else _("Choose the outcome and write the reply or reason.")
                )
            requests.propose(
                request_id=item.pk,
                outcome=form.cleaned_data["outcome"],
                reply=form.cleaned_data["reply"],
                by=request.user,
                second_person=form.cleaned_data["second_person"],
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
        elif action == "lift":
            form = LiftForm(request.POST, prefix=request.POST.get("use", ""))
            if not form.is_valid():
                raise requests.RequestError(_("Give a reason for lifting the stop."))
            requests.lift_suspension(
                request_id=item.pk,
                purpose=form.cleaned_data["purpose"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
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
            return redirect("privacy:approvals")  # the second person's part is done
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
    # A choice (the preferred contact) shows its label, not its code.
    rows = [
        (
            form[name],
            getattr(customer, f"get_{name}_display", lambda n=name: getattr(customer, n))(),
        )
        for name in form.fields
    ]
    return render(
        request,
        "privacy/request_correct.html",
        {"item": item, "form": form, "rows": rows, "version": customer.version},
    )
