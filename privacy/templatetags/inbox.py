"""``{% load inbox %}``: what waits for the signed-in person (privacy.core.inbox, with the
desks' sources registered by importing privacy.desks.approvals), asked once per request
however many places show it (the top bar, the start page, the approvals page, the board)."""

from django import template

from privacy.core import inbox
from privacy.desks import approvals

register = template.Library()


def waiting_for_request(request) -> list[inbox.Waiting]:
    """What waits for ``request.user``."""
    return approvals.waiting_for(getattr(request, "user", None))


@register.simple_tag(takes_context=True)
def waiting_for_me(context) -> list[inbox.Waiting]:
    """``{% waiting_for_me as waiting %}``."""
    return waiting_for_request(context.get("request"))
