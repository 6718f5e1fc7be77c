"""Reads of the audit log for the administrator: filters, flags of unusual activity, and the
chain status. Customers appear only as pseudonymous references (C-XXXXXXXX)."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.audit import chain as audit_chain
from privacy.audit.models import AuditLogEntry, AuditVerification
from privacy.core.dates import within_hours

READ_EVENT_SUFFIX = ".read"

ACTION_FILTERS = {
    "read": (_("Read"), Q(event__endswith=READ_EVENT_SUFFIX)),
    "create": (_("Create"), Q(action=AuditLogEntry.Action.CREATE)),
    "update": (_("Update"), Q(action=AuditLogEntry.Action.UPDATE)),
    "delete": (_("Delete"), Q(action=AuditLogEntry.Action.DELETE)),
    "export": (_("Export"), Q(event__contains="export")),
    "print": (_("Print"), Q(event__contains="print")),
    "login": (_("Login"), Q(event__startswith="auth.")),
    "grant": (_("Grant"), Q(event__startswith="privacy.access.")),
    "hours": (_("Business hours"), Q(event__startswith="privacy.hours.")),
    "incident": (_("Incidents"), Q(event__startswith="incidents.")),
    "refused": (
        _("Refused reads"),
        Q(event__in=["privacy.access.refused", "privacy.gate.refused", "privacy.hours.refused"]),
    ),
}

_REFERENCE = re.compile(r"^[CO]-?([0-9A-Fa-f]{4,32})$")


def customer_reference_filter(reference: str) -> Q | None:
    """C-1A2B3C4D (or a longer hex prefix of the id) to a filter on the logged object."""
    match = _REFERENCE.match(reference.strip().replace(" ", ""))
    if not match:
        return None
    prefix = match.group(1).lower()
    # object_pk holds the UUID with hyphens; the reference is its first eight hex digits.
    if len(prefix) > 8:
        prefix = f"{prefix[:8]}-{prefix[8:12]}"
    return Q(object_pk__startswith=prefix)


def filtered_entries(*, actor=None, reference="", action="", date_from=None, date_to=None):
    entries = AuditLogEntry.objects.select_related("actor", "content_type").order_by("-seq")
    if actor is not None:
        entries = entries.filter(actor=actor)
    if reference:
        condition = customer_reference_filter(reference)
        entries = entries.filter(condition) if condition is not None else entries.none()
    if action in ACTION_FILTERS:
        entries = entries.filter(ACTION_FILTERS[action][1])
    if date_from:
        entries = entries.filter(timestamp__gte=_start_of(date_from))
    if date_to:
        entries = entries.filter(timestamp__lt=_start_of(date_to) + timedelta(days=1))
    return entries


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


@dataclass
class Flag:
    kind: str
    message: str
    actor: str
    at: datetime


def flags(*, since: datetime | None = None) -> list[Flag]:
    """Unusual activity since a moment (default: the last 7 days)."""
    since = since or timezone.now() - timedelta(days=7)
    found: list[Flag] = []
    recent = AuditLogEntry.objects.filter(timestamp__gte=since)

    window = settings.BOOKSHOP_FLAG_READS_MINUTES
    threshold = settings.BOOKSHOP_FLAG_READS
    per_minute = (
        recent.filter(event__endswith=READ_EVENT_SUFFIX, actor__isnull=False)
        .annotate(minute=TruncMinute("timestamp"))
        .values("actor__username", "minute")
        .annotate(n=Count("object_pk", distinct=True))
        .order_by("actor__username", "minute")
    )
    _windows(
        per_minute,
        window,
        threshold + 1,
        found,
        "many_reads",
        _("%(n)s customer reads within %(minutes)s minutes"),
        "actor__username",
    )

    failed = (
        recent.filter(event="auth.login.failed")
        .annotate(minute=TruncMinute("timestamp"))
        .values("minute")
        .annotate(n=Count("pk"))
        .order_by("minute")
    )
    _windows(
        failed,
        settings.BOOKSHOP_FLAG_FAILED_LOGINS_MINUTES,
        settings.BOOKSHOP_FLAG_FAILED_LOGINS,
        found,
        "failed_logins",
        _("%(n)s failed logins within %(minutes)s minutes"),
        None,
    )

    for entry in (
        recent.filter(event__contains="export").select_related("actor").order_by("-seq")[:50]
    ):
        found.append(
            Flag("export", str(_("Export of personal data")), _name(entry.actor), entry.timestamp)
        )

    reads = recent.filter(event__endswith=READ_EVENT_SUFFIX).values_list(
        "actor__username", "timestamp"
    )
    outside = {}
    for username, moment in reads.iterator(chunk_size=2000):
        if not within_hours(moment):
            outside.setdefault(username, moment)
    for username, moment in outside.items():
        found.append(
            Flag(
                "outside_hours",
                str(_("Customer data read outside business hours")),
                username or "",
                moment,
            )
        )
    return sorted(found, key=lambda flag: flag.at, reverse=True)


def _windows(rows, minutes, minimum, found, kind, message, actor_key):
    """Slide a window over per-minute counts; flag each burst of at least ``minimum`` once."""
    by_actor: dict = {}
    for row in rows:
        by_actor.setdefault(row[actor_key] if actor_key else "", []).append(
            (row["minute"], row["n"])
        )
    for actor, buckets in by_actor.items():
        start, total = 0, 0
        flagged_until = None
        for minute, n in buckets:
            total += n
            while buckets[start][0] <= minute - timedelta(minutes=minutes):
                total -= buckets[start][1]
                start += 1
            if total >= minimum and (flagged_until is None or minute > flagged_until):
                found.append(
                    Flag(kind, str(message % {"n": total, "minutes": minutes}), actor, minute)
                )
                flagged_until = minute + timedelta(minutes=minutes)


def _name(user) -> str:
    return user.username if user else ""


def chain_status() -> dict:
    seq, head_hash = audit_chain.head()
    last = AuditVerification.objects.order_by("-ran_at").first()
    return {"head_seq": seq, "head_hash": head_hash, "last_verification": last}


def describe(entry: AuditLogEntry) -> dict:
    """What the administrator sees of one entry: no decrypted value, customers as references."""
    reference = ""
    if (
        entry.content_type
        and entry.content_type.model in {"customer", "specialorder"}
        and entry.object_pk
    ):
        prefix = "C" if entry.content_type.model == "customer" else "O"
        reference = f"{prefix}-{entry.object_pk.replace('-', '')[:8].upper()}"
    data = entry.additional_data or {}
    return {
        "seq": entry.seq,
        "timestamp": entry.timestamp,
        "actor": _name(entry.actor),
        "event": entry.event or entry.get_action_display(),
        "reference": reference,
        "target": "" if reference else entry.object_repr,
        "purpose": data.get("purpose", ""),
        "fields": ", ".join(data.get("fields", [])),
        "changed": ", ".join(sorted((entry.changes or {}).keys()))
        if isinstance(entry.changes, dict)
        else "",
        "remote_addr": entry.remote_addr or "",
        "cid": (entry.cid or "")[:12],
    }
