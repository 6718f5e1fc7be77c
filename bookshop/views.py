import sys

from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token
from django.views.i18n import set_language as django_set_language

from privacy.staff import roles
from privacy.templatetags.inbox import waiting_for_request


def home(request):
    """Send each role to where its work starts: the counter staff to the order board (which
    lists what waits for their approval); the administrator to the audit log, unless
    something waits for them (a failed scheduled job, say), which the start page lists
    first."""
    if roles.has_role(request.user, *roles.COUNTER):
        return redirect("customers:board")
    waiting = waiting_for_request(request)
    if roles.has_role(request.user, roles.ADMINISTRATOR) and not waiting:
        return redirect("privacy:audit_log")
    return render(request, "home.html", {"waiting": waiting})


# The language can be switched on the login page too.
set_language = login_not_required(django_set_language)


@requires_csrf_token
def server_error(request):
    """The 500 page, or 503 when the database is unreachable: the request id to quote and
    nothing else (no context processors, no database, no detail of the error)."""
    error = sys.exc_info()[1]
    request_id = getattr(request, "cid", "")
    context = {"request_id": request_id}
    if isinstance(error, (OperationalError, InterfaceError)):
        response = HttpResponse(loader.get_template("503.html").render(context), status=503)
    else:
        response = HttpResponseServerError(loader.get_template("500.html").render(context))
    # Set here too: an error raised outside the request-scope middleware skips its header.
    response["X-Request-ID"] = request_id
    return response
