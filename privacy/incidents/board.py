"""What is left to do on each open incident, with days remaining: the manager's board shows
it until it is done."""

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from privacy.incidents import rules, services
from privacy.incidents.models import Incident, IncidentStatus


@dataclass
class Todo:
    kind: str  # preliminary, final, notice, close
    label: str
    due: date | None = None
    aim: date | None = None  # the preliminary report: aim for 3 days, 5 at the latest
    days_left: int | None = None

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def past_aim(self) -> bool:
        return self.aim is not None and not self.overdue and rules.days_left(self.aim) < 0

    @property
    def when(self) -> str:
        if self.days_left is None:
            return ""
        if self.days_left == 0:
            return _("due today")
        if self.days_left > 0:
            return ngettext("%(n)s day left", "%(n)s days left", self.days_left) % {
                "n": self.days_left
            }
        late = -self.days_left
        return ngettext("%(n)s day overdue", "%(n)s days overdue", late) % {"n": late}


def todo(incident: Incident) -> list[Todo]:
    items = []
    if not incident.is_open:
        return items
    deadlines = incident.deadlines
    if incident.report_required:
        if not incident.preliminary_done:
            items.append(
                Todo(
                    "preliminary",
                    _("Preliminary report to the Commission (速報)"),
                    due=deadlines.preliminary_limit,
                    aim=deadlines.preliminary_aim,
                    days_left=rules.days_left(deadlines.preliminary_limit),
                )
            )
        if not incident.final_done:
            items.append(
                Todo(
                    "final",
                    _("Final report to the Commission (確報)"),
                    due=deadlines.final,
                    days_left=rules.days_left(deadlines.final),
                )
            )
    if incident.notice_required and incident.pending_notices:
        items.append(
            Todo(
                "notice",
                ngettext(
                    "Tell %(n)s affected customer, promptly",
                    "Tell %(n)s affected customers, promptly",
                    incident.pending_notices,
                )
                % {"n": incident.pending_notices},
            )
        )
    if not items:
        items.append(Todo("close", _("Nothing left to do: close the incident.")))
    return items


def open_incidents() -> list[tuple[Incident, list[Todo]]]:
    """Open incidents, the most urgent first."""
    found = [
        (incident, todo(incident))
        for incident in services.with_counts(
            Incident.objects.filter(status=IncidentStatus.OPEN)
        ).select_related("recorded_by")
    ]

    def urgency(pair):
        days = [item.days_left for item in pair[1] if item.days_left is not None]
        return (min(days) if days else 10**6, pair[0].discovered_at)

    return sorted(found, key=urgency)
