"""The shop's terminals (端末): the manager registers a computer from that computer; the
administrator (or the manager) sees them all and revokes one that is lost or gone."""

from django import forms
from django.contrib import messages
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from privacy.staff import terminals
from privacy.staff.models import Terminal
from privacy.staff.roles import manager_only, manager_or_administrator


class TerminalForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Terminal name"),
        max_length=60,
        help_text=gettext_lazy("Where it stands, as the staff call it: レジ1, 事務所PC."),
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the terminal a name."))
        if terminals.active().filter(name=name).exists():
            raise forms.ValidationError(_("A terminal in use already has this name."))
        return name


@never_cache
@manager_only
@require_http_methods(["GET", "POST"])
def terminal_register(request):
    """From the computer to register: the manager names it, and this browser gets the
    terminal's device cookie."""
    current = terminals.of_request(request)
    form = TerminalForm(request.POST or None)
    if request.method == "POST" and current is None and form.is_valid():
        terminal, secret = terminals.register(form.cleaned_data["name"], by=request.user)
        messages.success(
            request,
            _("This browser is now registered as the terminal “%(name)s”.")
            % {"name": terminal.name},
        )
        response = redirect("privacy:terminals")
        terminals.set_cookie(response, terminal, secret)
        return response
    return render(
        request,
        "privacy/terminal_register.html",
        {"form": form, "current": current, "required": terminals.required()},
    )


@never_cache
@manager_or_administrator
@require_http_methods(["GET"])
def terminal_list(request):
    return render(
        request,
        "privacy/terminals.html",
        {
            "terminals": Terminal.objects.select_related("registered_by", "revoked_by").order_by(
                F("revoked_at").desc(nulls_first=True), "name"
            ),
            "current": terminals.of_request(request),
            "required": terminals.required(),
        },
    )


@never_cache
@manager_or_administrator
@require_POST
def terminal_revoke(request, pk):
    terminal = Terminal.objects.filter(pk=pk).first()
    if terminal is None:
        raise Http404
    if terminals.revoke(terminal, by=request.user):
        messages.success(
            request,
            _("The terminal “%(name)s” is revoked: it shows no customer data any more.")
            % {"name": terminal.name},
        )
    else:
        messages.info(request, _("This terminal was revoked already."))
    return redirect("privacy:terminals")
