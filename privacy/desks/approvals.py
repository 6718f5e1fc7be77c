"""Two-person steps shared by retention batches and bulk exports: who may propose, the row
locked in the status a step needs, the second person's decision, and what waits for a second
person (shown on the order board, so that a clerk can approve in a shop with one manager).
Who may be the second person is the two-person rule's (privacy.staff.two_person)."""

from dataclasses import dataclass

from django.db.models import F, Value
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.audit import log as audit
from privacy.core.prepared import prepared
from privacy.desks.models import ApprovalStatus, ExportRequest, RetentionBatch
from privacy.staff import roles


def require_manager(user, error: type[Exception]) -> None:
    if not roles.has_role(user, roles.MANAGER):
        raise error(_("Only a manager can do this."))


def locked_in_status(model, pk, *, allowed, error: type[Exception], message: str):
    """The row, locked for the transaction, if its status allows the step; ``message`` (with
    ``%(status)s``) otherwise."""
    item = model.objects.select_for_update().get(pk=pk)
    if item.status not in allowed:
        raise error(message % {"status": item.get_status_display()})
    return item


def decide(item, *, status, by, event: str, **changes):
    """Record the second person's decision on a locked item, and log it."""
    item.status = status
    item.decided_by, item.decided_at = by, changes.pop("decided_at", None) or timezone.now()
    for name, value in changes.items():
        setattr(item, name, value)
    item.save()
    audit.record(event, target=item, actor=by)
    return item


@dataclass(frozen=True)
class Waiting:
    label: str
    url: str


@prepared(user_id=int)
def _waiting(user_id):
    """Both kinds in one query: (kind, pk, reference, proposed at), newest first."""
    batches = (
        RetentionBatch.objects.filter(status=ApprovalStatus.PROPOSED)
        .exclude(proposed_by=user_id)
        .annotate(kind=Value("retention"), at=F("proposed_at"))
        .values_list("kind", "pk", "reference", "at")
    )
    exports = (
        ExportRequest.objects.filter(status=ApprovalStatus.PROPOSED)
        .exclude(requested_by=user_id)
        .annotate(kind=Value("export"), at=F("requested_at"))
        .values_list("kind", "pk", "reference", "at")
    )
    return batches.order_by().union(exports.order_by()).order_by("-at")


def waiting_for(user) -> list[Waiting]:
    """Retention batches and exports awaiting approval that ``user`` did not propose."""
    waiting = _waiting(user_id=user.pk)
    batches = [(pk, ref) for kind, pk, ref, _at in waiting if kind == "retention"]
    exports = [(pk, ref) for kind, pk, ref, _at in waiting if kind == "export"]
    return [
        *(
            Waiting(
                _("Retention batch %(ref)s") % {"ref": ref},
                reverse("privacy:retention_batch", args=[pk]),
            )
            for pk, ref in batches
        ),
        *(
            Waiting(
                _("Bulk export %(ref)s") % {"ref": ref}, reverse("privacy:export_detail", args=[pk])
            )
            for pk, ref in exports
        ),
    ]
