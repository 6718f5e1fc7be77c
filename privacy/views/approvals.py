"""The approvals inbox (承認待ち): everything waiting for the person signed in, from every
source registered with privacy.core.inbox, each linking to where they act."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from privacy.templatetags.inbox import waiting_for_request


@never_cache
@require_safe
def approvals(request):
    """Any signed-in staff member: each source answers only what this person may act on."""
    return render(request, "privacy/approvals.html", {"waiting": waiting_for_request(request)})
