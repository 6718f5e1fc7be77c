"""Every write to the incident register, one transaction each, each step in the audit log.

Affected customers are added and their notices recorded in bulk (an incident may touch
every customer), which django-auditlog does not see: each batch writes one audit event
naming the incident, how the customers were chosen and how many, and each row keeps who
added it and who recorded its notice. Single removals go through auditlog as usual.
"""

import uuid
from datetime import datetime, time, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers.models import Customer, SpecialOrder
from privacy.access import decisions
from privacy.audit import log as audit
from privacy.audit.models import AuditLogEntry
from privacy.incidents import rules
from privacy.incidents.models import AffectedCustomer, Incident, IncidentStatus, SelectedBy

BATCH = 1000


def _may_read(actor, rows, purpose: str) -> str | None:
    """An incident's summary is the manager's (the purpose admits no other role)."""
    return None


decisions.register(Incident, _may_read, event="incidents.incident.read")
CLASSIFICATION = (
    "sensitive_data",
    "property_damage",
    "malicious",
    "over_thousand",
    "encrypted_with_key_safe",
)


class IncidentError(Exception):
    """A refused step; the message is shown to the manager."""


def with_counts(queryset=None):
    """Incidents with their affected and not-yet-notified counts, in one query."""
    queryset = Incident.objects.all() if queryset is None else queryset
    return queryset.annotate(
        n_affected=Count("affected"),
        n_pending=Count("affected", filter=Q(affected__notified_on__isnull=True)),
    )


def _decision(incident: Incident) -> dict:
    return {
        "categories": [str(c.value) for c in incident.categories],
        "report_required": incident.report_required,
        "final_days": incident.deadlines.final_days,
    }


def _locked(incident_id) -> Incident:
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if not incident.is_open:
        raise IncidentError(_("This incident is closed."))
    return incident


def _not_in_future(moment, what) -> None:
    if moment > timezone.now():
        raise IncidentError(_("%(what)s cannot be in the future.") % {"what": what})


@transaction.atomic
def record(*, by, discovered_at, summary: str, **classification) -> Incident:
    """The manager records a suspected leak. The deadlines run from ``discovered_at``."""
    _not_in_future(discovered_at, _("The time it was found"))
    incident = Incident(
        discovered_at=discovered_at,
        summary=summary,
        recorded_by=by,
        **{name: bool(classification.get(name)) for name in CLASSIFICATION},
    )
    incident.full_clean(exclude=["recorded_by"])
    incident.save()
    audit.record("incidents.incident.recorded", target=incident, actor=by, data=_decision(incident))
    return incident


@transaction.atomic
def update(*, incident_id, by, discovered_at, summary: str, **classification) -> Incident:
    """Facts change as the investigation goes on: a leak turns out to be malicious, or
    encrypted. The write log names the fields changed; the summary stays masked."""
    _not_in_future(discovered_at, _("The time it was found"))
    incident = _locked(incident_id)
    incident.discovered_at = discovered_at
    incident.summary = summary
    for name in CLASSIFICATION:
        setattr(incident, name, bool(classification.get(name)))
    incident.full_clean(exclude=["recorded_by"])
    incident.save()
    audit.record("incidents.incident.updated", target=incident, actor=by, data=_decision(incident))
    return incident


@transaction.atomic
def record_report(*, incident_id, stage: str, reported_at, by) -> Incident:
    """The preliminary (速報) or final (確報) report was sent to the PPC at ``reported_at``."""
    if stage not in ("preliminary", "final"):
        raise IncidentError(_("Unknown report."))
    incident = _locked(incident_id)
    _not_in_future(reported_at, _("The time of the report"))
    if reported_at < incident.discovered_at.replace(second=0, microsecond=0):
        raise IncidentError(_("The report cannot be earlier than the discovery."))
    if getattr(incident, f"{stage}_reported_at") is not None:
        raise IncidentError(_("This report is already recorded."))
    setattr(incident, f"{stage}_reported_at", reported_at)
    setattr(incident, f"{stage}_reported_by", by)
    incident.save()
    audit.record(
        f"incidents.report.{stage}",
        target=incident,
        actor=by,
        data={
            "reported_at": reported_at.isoformat(),
            "days_after_discovery": (
                rules.discovery_day(reported_at) - incident.deadlines.discovered_on
            ).days,
        },
    )
    return incident


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def customers_touched_by(staff, date_from, date_to):
    """Every customer whose record ``staff`` read or wrote between two dates (inclusive, the
    shop's time zone), from the audit log: what an insider could have copied. Customers
    erased since are included: a copy may have been taken before the erasure."""
    entries = AuditLogEntry.objects.filter(
        actor=staff,
        timestamp__gte=_start_of(date_from),
        timestamp__lt=_start_of(date_to) + timedelta(days=1),
    )
    types = ContentType.objects.get_for_models(Customer, SpecialOrder)
    ids = set(
        entries.filter(content_type=types[Customer]).values_list("object_pk", flat=True).distinct()
    )
    order_ids = set(
        entries.filter(content_type=types[SpecialOrder])
        .values_list("object_pk", flat=True)
        .distinct()
    )
    customer_ids = {_uuid(value) for value in ids} - {None}
    order_uuids = [u for u in (_uuid(value) for value in order_ids) if u is not None]
    for start in range(0, len(order_uuids), BATCH):
        customer_ids.update(
            SpecialOrder.objects.filter(pk__in=order_uuids[start : start + BATCH]).values_list(
                "customer_id", flat=True
            )
        )
    return sorted(customer_ids)


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def all_customer_ids() -> list:
    """Every customer whose data still exists. Erased customers are left out: their data key
    is destroyed, so no copy of their record can be read."""
    return list(Customer.objects.filter(erased_at__isnull=True).values_list("pk", flat=True))


@transaction.atomic
def add_customers(*, incident_id, customer_ids, how: str, by, criteria=None) -> int:
    """Add customers to the affected list (those already on it are skipped). Returns how
    many were added."""
    if how not in SelectedBy.values:
        raise IncidentError(_("Choose how to select the customers."))
    incident = _locked(incident_id)
    already = set(incident.affected.values_list("customer_id", flat=True))
    new_ids = [pk for pk in dict.fromkeys(customer_ids) if pk not in already]
    now = timezone.now()
    for start in range(0, len(new_ids), BATCH):
        AffectedCustomer.objects.bulk_create(
            [
                AffectedCustomer(
                    incident=incident, customer_id=pk, selected_by=how, added_at=now, added_by=by
                )
                for pk in new_ids[start : start + BATCH]
            ]
        )
    audit.record(
        "incidents.affected.added",
        target=incident,
        actor=by,
        data={"how": how, "added": len(new_ids), **(criteria or {})},
    )
    return len(new_ids)


@transaction.atomic
def remove_customers(*, incident_id, row_ids, by) -> int:
    """Take customers added by mistake off the list. A customer already told stays."""
    incident = _locked(incident_id)
    rows = list(incident.affected.filter(pk__in=row_ids, notified_on__isnull=True))
    for row in rows:
        row.delete()  # one write-log entry per row
    audit.record(
        "incidents.affected.removed", target=incident, actor=by, data={"removed": len(rows)}
    )
    return len(rows)


@transaction.atomic
def record_notices(*, incident_id, method: str, notified_on, by, row_ids=None) -> int:
    """Record that the ticked customers (``row_ids``), or every customer not yet told
    (``row_ids=None``), were notified on ``notified_on`` by ``method``."""
    incident = _locked(incident_id)
    if notified_on > rules.today():
        raise IncidentError(_("The date of the notice cannot be in the future."))
    if notified_on < rules.discovery_day(incident.discovered_at):
        raise IncidentError(_("The notice cannot be earlier than the discovery."))
    rows = incident.affected.filter(notified_on__isnull=True)
    if row_ids is not None:
        if not row_ids:
            raise IncidentError(_("Tick the customers who were told."))
        rows = rows.filter(pk__in=row_ids)
    count = rows.update(notified_on=notified_on, notice_method=method, notice_recorded_by=by)
    audit.record(
        "incidents.notice.recorded",
        target=incident,
        actor=by,
        data={
            "method": method,
            "notified_on": notified_on.isoformat(),
            "count": count,
            "scope": "ticked" if row_ids is not None else "all_remaining",
        },
    )
    return count


def blockers(incident: Incident) -> list[str]:
    """What still stands in the way of closing the incident."""
    found = []
    if incident.report_required and not incident.final_done:
        found.append(_("Record the final report to the Commission first."))
    if incident.notice_required and incident.pending_notices:
        found.append(
            ngettext(
                "%(n)s affected customer has not been told yet.",
                "%(n)s affected customers have not been told yet.",
                incident.pending_notices,
            )
            % {"n": incident.pending_notices}
        )
    return found


@transaction.atomic
def close(*, incident_id, by) -> Incident:
    """Close when the final report is done (or none is required) and every affected customer
    has been told (or no notice is required)."""
    incident = _locked(incident_id)
    problems = blockers(incident)
    if problems:
        raise IncidentError(" ".join(problems))
    incident.status = IncidentStatus.CLOSED
    incident.closed_at = timezone.now()
    incident.closed_by = by
    incident.save()
    audit.record("incidents.incident.closed", target=incident, actor=by, data=_decision(incident))
    return incident
