"""Calendar and clock arithmetic from the shop's settings: calendar months back and forth,
and the opening hours. No models and no access rules: the layers above decide what a date
means (privacy.access.hours: whether customer data may be read now; privacy.desks.retention:
what is due)."""

import calendar
import re
from datetime import datetime, time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def months_before(moment: datetime, months: int) -> datetime:
    """The same local day and time ``months`` calendar months earlier (the 31st becomes the
    last day of a shorter month)."""
    local = timezone.localtime(moment)
    index = local.year * 12 + (local.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


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
    """Whether ``moment`` (now by default) falls in the opening hours, override or not."""
    now = timezone.localtime(moment or timezone.now()).time()
    opens, closes = opening_hours()
    if closes is None:
        return now >= opens
    if opens <= closes:
        return opens <= now < closes
    return now >= opens or now < closes  # hours that run past midnight
