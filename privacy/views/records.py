"""Records the law expects (APPI and the PPC guidelines): the manager's access review,
register of contractors and their supervision, and training sessions; the administrator says
which staff accounts belong to a contractor."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Count, Max
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from privacy.desks import records as review
from privacy.staff.records import services
from privacy.staff.records.models import (
    Contractor,
    ContractorStaff,
    TrainingSession,
    access_review_due,
)
from privacy.staff.roles import administrator_only, manager_only
from privacy.views.records_forms import (
    AccessReviewForm,
    ContractorForm,
    ContractorStaffForm,
    SupervisionCheckForm,
    TrainingForm,
)


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def access_review(request):
    """アクセス権の見直し: everyone's roles, teams, grants in force (customers by reference),
    last login and last customer read, unused accounts flagged; the manager records the
    review."""
    form = AccessReviewForm(
        request.POST if request.method == "POST" else None,
        initial={"reviewed_on": timezone.localdate()},
    )
    if request.method == "POST" and form.is_valid():
        services.record_review(by=request.user, **form.cleaned_data)
        messages.success(request, _("Access review recorded."))
        return redirect("privacy:access_review")
    people = review.people()
    return render(
        request,
        "privacy/records/access_review.html",
        {
            "form": form,
            "people": people,
            "unused_count": sum(1 for person in people if person.unused),
            "unused_days": settings.BOOKSHOP_UNUSED_ACCOUNT_DAYS,
            "reviews": review.recent_reviews(),
            "due": access_review_due(),
            "today": timezone.localdate(),
        },
    )


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def contractors(request):
    """The register of contractors (委託先) and a form to add one."""
    form = ContractorForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        contractor = services.save_contractor(by=request.user, **form.cleaned_data)
        messages.success(request, _("Contractor added."))
        return redirect("privacy:contractor", pk=contractor.pk)
    rows = Contractor.objects.annotate(
        last_check=Max("checks__checked_on"), staff_count=Count("staff", distinct=True)
    )
    return render(
        request,
        "privacy/records/contractors.html",
        {"form": form, "contractors": rows, "today": timezone.localdate()},
    )


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def contractor(request, pk):
    """One contractor: change its details, record a supervision check, see its checks and
    the staff accounts that belong to it."""
    contractor = get_object_or_404(Contractor, pk=pk)
    action = request.POST.get("action") if request.method == "POST" else None
    form = ContractorForm(request.POST if action == "edit" else None, instance=contractor)
    check_form = SupervisionCheckForm(
        request.POST if action == "check" else None,
        initial={"checked_on": timezone.localdate(), "checked_by": request.user.pk},
    )
    if action == "edit" and form.is_valid():
        # The service compares with the row as stored: give it a fresh copy.
        services.save_contractor(
            by=request.user, contractor=Contractor.objects.get(pk=pk), **form.cleaned_data
        )
        messages.success(request, _("Contractor saved."))
        return redirect("privacy:contractor", pk=pk)
    if action == "check" and check_form.is_valid():
        services.record_check(contractor, by=request.user, **check_form.cleaned_data)
        messages.success(request, _("Supervision check recorded."))
        return redirect("privacy:contractor", pk=pk)
    return render(
        request,
        "privacy/records/contractor.html",
        {
            "contractor": Contractor.objects.get(pk=pk),
            "form": form,
            "check_form": check_form,
            "checks": contractor.checks.select_related("checked_by"),
            "staff": get_user_model()
            .objects.filter(contractor_link__contractor=contractor)
            .order_by("username"),
            "today": timezone.localdate(),
        },
    )


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def training(request):
    """Training sessions (従業者の教育): record one, with who attended. The public notice's
    statement on training is made from these."""
    form = TrainingForm(
        request.POST if request.method == "POST" else None,
        initial={"held_on": timezone.localdate()},
    )
    if request.method == "POST" and form.is_valid():
        services.record_training(by=request.user, **form.cleaned_data)
        messages.success(request, _("Training session recorded."))
        return redirect("privacy:training")
    return render(
        request,
        "privacy/records/training.html",
        {
            "form": form,
            "sessions": TrainingSession.objects.prefetch_related("attendees"),
        },
    )


@never_cache
@administrator_only
@require_http_methods(["GET", "POST"])
def contractor_staff(request):
    """The administrator says which accounts belong to a contractor's staff: those end with
    the contract."""
    if request.method == "POST":
        form = ContractorStaffForm(request.POST)
        if form.is_valid():
            user = form.cleaned_data["user"]
            if services.set_contractor(user, form.cleaned_data["contractor"], by=request.user):
                messages.success(
                    request, _("Contractor of %(user)s saved.") % {"user": user.username}
                )
        else:
            messages.error(request, _("Choose an account and a contractor from the lists."))
        return redirect("privacy:contractor_staff")
    links = dict(ContractorStaff.objects.values_list("user_id", "contractor_id"))
    accounts = [
        {"user": user, "contractor_id": links.get(user.pk)}
        for user in get_user_model().objects.order_by("-is_active", "username")
    ]
    return render(
        request,
        "privacy/records/contractor_staff.html",
        {
            "accounts": accounts,
            "contractors": Contractor.objects.all(),
            "today": timezone.localdate(),
        },
    )
