"""What waits for a second person: retention batches and bulk exports proposed by someone
else. Shown on the order board, so that a clerk can be the second person in a shop with one
manager."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from privacy.models import ApprovalStatus, ExportRequest, RetentionBatch


@dataclass(frozen=True)
class Waiting:
    label: str
    url: str


def waiting_for(user) -> list[Waiting]:
    """Retention batches and exports awaiting approval that ``user`` did not propose."""
    batches = (
        RetentionBatch.objects.filter(status=ApprovalStatus.PROPOSED)
        .exclude(proposed_by=user)
        .values_list("pk", "reference")
    )
    exports = (
        ExportRequest.objects.filter(status=ApprovalStatus.PROPOSED)
        .exclude(requested_by=user)
        .values_list("pk", "reference")
    )
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
