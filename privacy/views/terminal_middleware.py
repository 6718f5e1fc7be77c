"""Which of the shop's terminals a request comes from (privacy.staff.terminals): the device
cookie is checked once, here, and the terminal (or None) put on the request, where the
access decision reads it. The cookie is sent again with a new secret when it is due, and
taken back from a browser whose cookie was refused."""

from django.shortcuts import render

from privacy.access import decisions
from privacy.staff import terminals


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
        response = self.get_response(request)
        if terminals.cookie_name() in response.cookies:
            return response  # the page registered this browser anew
        if presented.new_secret:
            terminals.set_cookie(response, presented.terminal, presented.new_secret)
        elif presented.refused:
            terminals.delete_cookie(response)
        return response

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
