"""Records of third-party provision: recorded at the counter from the customer's page, listed
for the manager, deleted after their keeping time with a second person's approval."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bookshop.http import safe_next
from customers import selectors
from privacy.access import decisions
from privacy.consent import third_party
from privacy.consent.models import ThirdPartyProvision
from privacy.staff import roles
from privacy.staff.roles import counter_only, manager_only
from privacy.views.third_party_forms import ProvisionFilterForm, ProvisionForm


@never_cache
@counter_only
@require_http_methods(["GET", "POST"])
def provision_new(request, pk):
    customer = selectors.get_customer_for_user(
        request.user, pk, purpose="third_party_record", fields=["family_name", "given_name"]
    )
    manager = roles.has_role(request.user, roles.MANAGER)
    form = ProvisionForm(
        request.POST if request.method == "POST" else None,
        manager=manager,
        initial={"provided_on": timezone.localdate(), "basis": "consent"},
    )
    if request.method == "POST" and form.is_valid():
        try:
            provision = third_party.record(
                actor=request.user, customer=customer, **form.cleaned_data
            )
        except third_party.ProvisionRefused as refused:
            form.add_error(refused.field if refused.field in form.fields else None, str(refused))
        else:
            messages.success(
                request,
                _("Provision record %(ref)s saved. It is kept until %(date)s.")
                % {"ref": provision.reference, "date": provision.keep_until.isoformat()},
            )
            return redirect("customers:customer_detail", pk=customer.pk)
    return render(request, "privacy/provision_new.html", {"customer": customer, "form": form})


@never_cache
@manager_only
def provision_list(request):
    form = ProvisionFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    records = third_party.manager_list(request.user, **filters)
    decisions.decide(
        request.user,
        records,
        purpose="third_party_review",
        fields=["subject_name", *third_party.FIELDS],
    )
    return render(
        request,
        "privacy/provision_list.html",
        {
            "form": form,
            "records": records,
            "expired_count": sum(1 for r in records if r.retention_expired),
        },
    )


@counter_only
@require_POST
def provision_action(request, pk, action):
    """``propose_delete`` (the manager) and ``approve_delete`` (a second staff member), for a
    record past its keeping time."""
    provision = ThirdPartyProvision.objects.filter(pk=pk).first()
    manager = roles.has_role(request.user, roles.MANAGER)
    if provision is None or (
        not manager
        and not selectors.visible_customers(request.user).filter(pk=provision.customer_id).exists()
    ):
        raise Http404
    try:
        if action == "propose_delete":
            if not manager:
                raise PermissionDenied
            third_party.propose_deletion(provision_id=provision.pk, by=request.user)
            messages.success(
                request,
                _("Deletion of %(ref)s proposed: a second staff member must approve it.")
                % {"ref": provision.reference},
            )
        elif action == "approve_delete":
            third_party.approve_deletion(provision_id=provision.pk, by=request.user)
            messages.success(request, _("Record %(ref)s deleted.") % {"ref": provision.reference})
        else:
            raise Http404
    except third_party.ProvisionRefused as refused:
        messages.error(request, str(refused))
    next_url = safe_next(request)
    if next_url:
        return redirect(next_url)
    if manager:
        return redirect("privacy:provision_list")
    return redirect("customers:customer_detail", pk=provision.customer_id)
