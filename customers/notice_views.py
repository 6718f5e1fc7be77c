"""What a clerk does about an arrival-notice mail that failed (or still waits): send it
again, or phone the customer instead (customers/outbox.py)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from bookshop.http import safe_next
from customers import selectors, services
from privacy.staff.roles import counter_only

_ACTIONS = {
    "resend": (services.notice_resend, _("The notice mail for %(ref)s will be sent again.")),
    "phone": (services.notice_by_phone, _("Order %(ref)s: recorded as told by phone.")),
}


@counter_only
@require_POST
def order_notice(request, pk, action):
    if action not in _ACTIONS:
        raise Http404
    service, done = _ACTIONS[action]
    order = selectors.get_order_for_user(request.user, pk, fields=["status", "notice_mail"])
    try:
        service(actor=request.user, order_id=order.pk)
    except services.OrderError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, str(done) % {"ref": order.reference})
    return redirect(safe_next(request) or "customers:board")
