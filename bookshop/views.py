from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.views.i18n import set_language as django_set_language

from privacy import roles


def home(request):
    """Send each role to where its work starts."""
    if roles.has_role(request.user, *roles.COUNTER):
        return redirect("customers:board")
    if roles.has_role(request.user, roles.ADMINISTRATOR):
        return redirect("privacy:audit_log")
    return render(request, "home.html")


# The language can be switched on the login page too.
set_language = login_not_required(django_set_language)
