"""Opens the request's privacy scope: correlation id, client address, acting user, and the
per-request cache of unwrapped data keys (forgotten when the response is done)."""

import ipaddress
import uuid

from django.conf import settings
from django.shortcuts import render
from django.utils.cache import patch_cache_control

from privacy.access import hours
from privacy.audit import log as audit
from privacy.core import context, dates


def client_address(request) -> str | None:
    """REMOTE_ADDR, or the address that the Nth trusted proxy saw (BOOKSHOP_TRUSTED_PROXIES).
    A client-supplied X-Forwarded-For is never trusted beyond the configured proxies."""
    address = request.META.get("REMOTE_ADDR")
    hops = settings.BOOKSHOP_TRUSTED_PROXIES
    if hops:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


class RequestScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.cid = uuid.uuid4().hex
        # The acting user is read from the request when an entry is written, so a request
        # that never needs it (or a database that is down) does not load it here.
        with context.scope(
            request=request, remote_addr=client_address(request), cid=request.cid
        ) as scope:
            response = self.get_response(request)
        response["X-Request-ID"] = scope.cid
        if not request.path_info.startswith("/static/"):
            # Pages may carry personal data: no browser or proxy may keep a copy.
            patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, hours.OutsideOpeningHours):
            audit.record("privacy.hours.refused", actor=request.user)
            return render(
                request, "privacy/closed.html", {"opening_hours": dates.opening_hours()}, status=403
            )
        return None
