"""Business hours: customer data can be read only while the shop is open, unless the manager
has opened a short, logged override."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from privacy.access.models import HoursOverride
from privacy.audit import log as audit
from privacy.core.dates import within_hours


class OutsideOpeningHours(Exception):
    """Customer data was asked for while the shop is closed."""


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
