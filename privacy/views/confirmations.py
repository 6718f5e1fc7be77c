"""The second person's page (issue 15): one proposal, what it would change, who proposed it,
and Confirm / Refuse for whoever may decide it (privacy.staff.two_person). The proposer and
the account concerned may open it to see where it stands; nobody else finds it."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from privacy.access import confirmations
from privacy.staff import roles, two_person
from privacy.staff.models import SecondPersonProposal


def _proposal_or_404(request, pk) -> tuple[SecondPersonProposal, object]:
    proposal = (
        SecondPersonProposal.objects.filter(pk=pk)
        .select_related("account", "group", "proposed_by", "decided_by")
        .first()
    )
    if proposal is None:
        raise Http404
    refusal = two_person.confirmation_refusal(
        proposal.proposed_by_id, proposal.proposed_as, request.user, account_id=proposal.account_id
    )
    concerned = request.user.pk in (proposal.proposed_by_id, proposal.account_id)
    if refusal is not None and not concerned:
        raise Http404  # a proposal one may not decide does not exist for them
    return proposal, refusal


@never_cache
@require_safe
def confirmation(request, pk):
    proposal, refusal = _proposal_or_404(request, pk)
    return render(
        request,
        "privacy/confirm.html",
        {
            "proposal": proposal,
            "refusal": refusal,
            "may_decide": refusal is None and proposal.is_pending,
            "group_label": roles.group_label(proposal.group.name) if proposal.group else "",
        },
    )


@never_cache
@require_POST
def confirmation_action(request, pk, action):
    if action not in ("confirm", "refuse"):
        raise Http404
    proposal = _proposal_or_404(request, pk)[0]
    try:
        confirmations.decide(proposal.pk, by=request.user, confirm=action == "confirm")
    except confirmations.ProposalRefused as refused:
        messages.error(request, str(refused))
    else:
        if action == "confirm":
            messages.success(request, _("Confirmed: it takes effect now."))
        else:
            messages.success(
                request, _("Refused: nothing was changed. The person who proposed it sees this.")
            )
    return redirect("privacy:confirmation", pk=proposal.pk)
