"""Pages anyone may read without logging in."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render

from privacy.consent import purposes
from privacy.consent.models import PurposeNotice
from privacy.staff.records import training


@login_not_required
def privacy_notice(request):
    """What APPI asks a business to publish about the personal data it keeps: who keeps it,
    for what, how to ask about it and at what fee, how it is protected, where to complain."""
    notice = purposes.current_notice()
    return render(
        request,
        "privacy/public_notice.html",
        {
            "notice": notice,
            "older": PurposeNotice.objects.filter(published_at__isnull=False).exclude(
                pk=getattr(notice, "pk", None)
            ),
            "shop_name": settings.BOOKSHOP_SHOP_NAME,
            "shop_address": settings.BOOKSHOP_SHOP_ADDRESS,
            "representative": settings.BOOKSHOP_SHOP_REPRESENTATIVE,
            "contact": settings.BOOKSHOP_PRIVACY_CONTACT,
            "fee": settings.BOOKSHOP_DISCLOSURE_FEE,
            # Said only when a training session is on record (privacy/staff/records).
            "last_training": training.latest_training_day(),
            # Said only while the terminal check is on (privacy/staff/terminals.py).
            "terminals_only": settings.BOOKSHOP_REQUIRE_TERMINAL,
        },
    )
