"""Business hours: customer data can be read only while the shop is open, unless the manager
has opened a short, logged override."""

import re
from datetime import time, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from privacy.access.models import HoursOverride
from privacy.audit import log as audit

_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class OutsideOpeningHours(Exception):
    """Customer data was asked for while the shop is closed."""


def opening_hours() -> tuple[time, time | None]:
    """(opens, closes); closes is None for 24:00."""
    match = _HOURS.match(settings.BOOKSHOP_OPENING_HOURS.strip())
    if not match:
        raise ImproperlyConfigured("BOOKSHOP_OPENING_HOURS must look like 08:00-23:00.")
    oh, om, ch, cm = (int(part) for part in match.groups())
    if oh > 23 or om > 59 or ch > 24 or cm > 59 or (ch == 24 and cm):
        raise ImproperlyConfigured("BOOKSHOP_OPENING_HOURS must look like 08:00-23:00.")
    return time(oh, om), (None if ch == 24 else time(ch, cm))


def within_hours(moment=None) -> bool:
    now = timezone.localtime(moment or timezone.now()).time()
    opens, closes = opening_hours()
    if closes is None:
        return now >= opens
    if opens <= closes:
        return opens <= now < closes
    return now >= opens or now < closes  # hours that run past midnight


def active_override(moment=None):
    moment = moment or timezone.now()
    return (
        HoursOverride.objects.filter(starts_at__lte=moment, ends_at__gt=moment)
        .order_by("-ends_at")
        .first()
    )


def is_open(moment=None) -> bool:
    return within_hours(moment) or active_override(moment) is not None


def ensure_open() -> None:
    """Called before any customer data is read."""
    if not is_open():
        raise OutsideOpeningHours


def open_override(*, by, reason: str, minutes: int) -> HoursOverride:
    """The manager opens customer data outside business hours for a short time."""
    minutes = max(1, min(minutes, settings.BOOKSHOP_OVERRIDE_MAX_MINUTES))
    now = timezone.now()
    override = HoursOverride.objects.create(
        opened_by=by, reason=reason, starts_at=now, ends_at=now + timedelta(minutes=minutes)
    )
    audit.record(
        "privacy.hours.override_opened",
        target=override,
        actor=by,
        data={"minutes": minutes, "ends_at": override.ends_at.isoformat()},
    )
    return override
