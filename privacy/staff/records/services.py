"""Writing the records: each change is one transaction and one audit entry naming the row
(never its free text, which may name a person)."""

from django.db import transaction
from django.utils import timezone

from privacy.audit import log as audit
from privacy.staff.records.models import (
    AccessReview,
    Contractor,
    ContractorStaff,
    SupervisionCheck,
    TrainingSession,
)

CONTRACTOR_FIELDS = (
    "name",
    "data_handled",
    "purpose",
    "contract_starts_on",
    "contract_ends_on",
    "confidentiality_agreed_on",
)


def _day(value):
    return value.isoformat() if value else None


@transaction.atomic
def save_contractor(*, by, contractor: Contractor | None = None, **values) -> Contractor:
    """Add a contractor (``contractor`` None) or change one; the log names the fields that
    changed and the new dates."""
    created = contractor is None
    if created:
        contractor = Contractor(created_by=by)
    changed = [name for name in CONTRACTOR_FIELDS if getattr(contractor, name) != values[name]]
    for name in CONTRACTOR_FIELDS:
        setattr(contractor, name, values[name])
    contractor.save()
    if created or changed:
        audit.record(
            "records.contractor.added" if created else "records.contractor.changed",
            target=contractor,
            actor=by,
            data={
                "fields": changed,
                "contract_starts_on": _day(contractor.contract_starts_on),
                "contract_ends_on": _day(contractor.contract_ends_on),
                "confidentiality_agreed_on": _day(contractor.confidentiality_agreed_on),
            },
        )
    return contractor


@transaction.atomic
def record_check(
    contractor: Contractor, *, by, checked_on, what_checked, checked_by, result, findings=""
) -> SupervisionCheck:
    check = SupervisionCheck.objects.create(
        contractor=contractor,
        checked_on=checked_on,
        what_checked=what_checked,
        checked_by=checked_by,
        result=result,
        findings=findings,
        recorded_by=by,
    )
    audit.record(
        "records.contractor.checked",
        target=contractor,
        actor=by,
        data={
            "check": check.pk,
            "checked_on": _day(checked_on),
            "result": result,
            "checked_by": checked_by.pk,
        },
    )
    return check


@transaction.atomic
def set_contractor(user, contractor: Contractor | None, *, by) -> bool:
    """Say which contractor ``user``'s account belongs to (None: the shop's own staff).
    Returns whether anything changed."""
    link = ContractorStaff.objects.filter(user=user).first()
    before = link.contractor_id if link else None
    after = contractor.pk if contractor else None
    if before == after:
        return False
    if contractor is None:
        link.delete()
    elif link is None:
        ContractorStaff.objects.create(user=user, contractor=contractor, linked_by=by)
    else:
        link.contractor = contractor
        link.linked_by = by
        link.linked_at = timezone.now()
        link.save(update_fields=["contractor", "linked_by", "linked_at"])
    audit.record(
        "records.contractor.staff_set",
        target=user,
        actor=by,
        data={"contractor": after, "before": before},
    )
    return True


@transaction.atomic
def record_training(*, by, held_on, topic: str, attendees) -> TrainingSession:
    session = TrainingSession.objects.create(held_on=held_on, topic=topic, recorded_by=by)
    attendees = list(attendees)
    session.attendees.set(attendees)
    audit.record(
        "records.training.recorded",
        target=session,
        actor=by,
        data={"held_on": _day(held_on), "attendees": sorted(u.pk for u in attendees)},
    )
    return session


@transaction.atomic
def record_review(*, by, reviewed_on, changes: str) -> AccessReview:
    review = AccessReview.objects.create(reviewed_on=reviewed_on, reviewed_by=by, changes=changes)
    audit.record(
        "records.access_review.recorded",
        target=review,
        actor=by,
        data={"reviewed_on": _day(reviewed_on)},
    )
    return review
