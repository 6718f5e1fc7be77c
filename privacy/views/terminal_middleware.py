"""Which of the shop's terminals a request comes from (privacy.staff.terminals): the device
cookie is checked once, here, and the terminal (or None) put on the request, where the
access decision reads it. The cookie is sent again with a new secret when it is due, and
taken back from a browser whose cookie was refused."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_otp import user_has_device

from privacy.access import decisions
from privacy.staff import terminals

DEMO_TERMINAL_NAME = "デモのブラウザ"


class TerminalMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/static/"):
            request.shop_terminal, request.terminal_required = None, terminals.required()
            return self.get_response(request)
        presented = terminals.resolve(request)
        request.shop_terminal = presented.terminal
        request.terminal_required = terminals.required()
        request.demo_terminal_secret = None
        response = self.get_response(request)
        if request.demo_terminal_secret is not None:  # see process_view
            terminals.set_cookie(response, request.shop_terminal, request.demo_terminal_secret)
            return response
        if terminals.cookie_name() in response.cookies:
            return response  # the page registered this browser anew
        if presented.new_secret:
            terminals.set_cookie(response, presented.terminal, presented.new_secret)
        elif presented.refused:
            terminals.delete_cookie(response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        """The demo (BOOKSHOP_DEMO_REGISTERS_TERMINAL) registers the browser it runs in at
        the first page after a complete login (both steps, where the person has two), and
        says so; a shop never sets it. Here rather than in __call__: the messages exist only
        once every middleware has seen the request."""
        if not (
            settings.BOOKSHOP_DEMO_REGISTERS_TERMINAL
            and terminals.required()
            and hasattr(request, "demo_terminal_secret")  # not /static/
            and getattr(request, "shop_terminal", None) is None
            and request.user.is_authenticated
        ):
            return None
        if user_has_device(request.user) and not request.user.is_verified():
            return None  # the second step first
        terminal, secret = terminals.register(DEMO_TERMINAL_NAME, by=request.user)
        request.shop_terminal, request.demo_terminal_secret = terminal, secret
        messages.info(
            request,
            _(
                "Demo: this browser was registered as the shop terminal 「%(name)s」, so it "
                "shows customer data. In a shop, the manager registers each computer at 端末."
            )
            % {"name": terminal.name},
        )
        return None

    def process_exception(self, request, exception):
        if isinstance(exception, decisions.NotATerminal):
            # Logged as privacy.access.refused by the decision; the page says why.
            return render(
                request,
                "privacy/terminal_required.html",
                {"message": decisions.terminal_message()},
                status=403,
            )
        return None
