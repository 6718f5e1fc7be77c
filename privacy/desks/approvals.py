"""Two-person steps shared by retention batches and bulk exports: who may propose, the row
locked in the status a step needs, the second person's decision; and the approvals inbox's
desk sources (privacy.core.inbox): retention batches, bulk exports, customers' requests and
deletions of third-party provision records waiting for a second person. The inbox is shown
in the top bar, on the start page, on its own page (承認待ち) and on the order board, so that
a clerk can approve in a shop with one manager. Who may be the second person is the
two-person rule's (privacy.staff.two_person).

Each source is one prepared query (the top bar asks on every page) and answers with
references and links only, never personal data."""

import datetime

from django.db.models import F, Q, Value
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.access import grants
from privacy.audit import log as audit
from privacy.consent.models import ThirdPartyProvision
from privacy.core import inbox
from privacy.core.prepared import prepared
from privacy.desks.models import (
    ApprovalStatus,
    DataRequest,
    ExportRequest,
    RequestKind,
    RequestStatus,
    RetentionBatch,
)
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


def _second_person_candidate(user) -> bool:
    """Only counter staff are ever a second person; nothing waits for anybody else here (and
    asking costs no query: the roles are already read for the page)."""
    return roles.has_role(user, *roles.COUNTER)


@prepared(user_id=int)
def _desk_items(user_id):
    """Retention batches, bulk exports and customers' requests waiting for ``user`` as the
    second person, in one query (the top bar asks on every page): (kind, pk, reference, at),
    where a request's kind is its RequestKind. A request waits for the person chosen, or
    for anyone when nobody was; never for the person who proposed it."""
    batches = (
        RetentionBatch.objects.filter(status=ApprovalStatus.PROPOSED)
        .exclude(proposed_by=user_id)
        .annotate(item=Value("retention"), at=F("proposed_at"))
        .values_list("item", "pk", "reference", "at")
    )
    exports = (
        ExportRequest.objects.filter(status=ApprovalStatus.PROPOSED)
        .exclude(requested_by=user_id)
        .annotate(item=Value("export"), at=F("requested_at"))
        .values_list("item", "pk", "reference", "at")
    )
    requests = (
        DataRequest.objects.filter(status=RequestStatus.AWAITING_APPROVAL)
        .filter(Q(second_person=user_id) | Q(second_person__isnull=True))
        .exclude(proposed_by=user_id)
        .annotate(item=F("kind"), at=F("received_at"))
        .values_list("item", "pk", "reference", "at")
    )
    return batches.order_by().union(exports.order_by(), requests.order_by()).order_by("at")


@inbox.register("desks")
def desk_items_waiting(user) -> list[inbox.Waiting]:
    """What the desks hand to a second person: retention batches, bulk exports, requests."""
    if not _second_person_candidate(user):
        return []
    kinds = dict(RequestKind.choices)
    items = []
    for item, pk, ref, at in _desk_items(user_id=user.pk):
        if item == "retention":
            label = _("Retention batch %(ref)s") % {"ref": ref}
            url = reverse("privacy:retention_batch", args=[pk])
        elif item == "export":
            label = _("Bulk export %(ref)s") % {"ref": ref}
            url = reverse("privacy:export_detail", args=[pk])
        else:
            label = _("Request %(ref)s: %(kind)s") % {"ref": ref, "kind": kinds.get(item, item)}
            url = reverse("privacy:request_detail", args=[pk])
            item = "request"
        items.append(inbox.Waiting(item, label, url, at))
    return items


def _proposed_deletions(user_id, today):
    return (
        ThirdPartyProvision.objects.filter(deletion_proposed_by__isnull=False, keep_until__lt=today)
        .exclude(deletion_proposed_by=user_id)
        .order_by("deletion_proposed_at")
    )


@prepared(user_id=int, today=datetime.date)
def _deletions_for_manager(user_id, today):
    return _proposed_deletions(user_id, today).values_list("pk", "deletion_proposed_at")


@prepared(user_id=int, today=datetime.date)
def _deletions_for_clerk(user_id, today):
    """Only records of customers this clerk may see: the approval is on the customer page."""
    return grants.related_visible_to(user_id, _proposed_deletions(user_id, today)).values_list(
        "pk", "customer_id", "deletion_proposed_at"
    )


def _provision_reference(pk) -> str:
    return ThirdPartyProvision(pk=pk).reference


@inbox.register("provision_deletion")
def provision_deletions_waiting(user) -> list[inbox.Waiting]:
    """Deletions of third-party provision records past their keeping time, proposed by
    someone else: the manager approves on the list of records, a clerk on the customer's
    page (only for customers they may see)."""
    if not _second_person_candidate(user):
        return []
    today = timezone.localdate()
    if roles.has_role(user, roles.MANAGER):
        rows = [
            (pk, reverse("privacy:provision_list") + "?expired_only=on", at)
            for pk, at in _deletions_for_manager(user_id=user.pk, today=today)
        ]
    else:
        rows = [
            (pk, reverse("customers:customer_detail", args=[customer_id]), at)
            for pk, customer_id, at in _deletions_for_clerk(user_id=user.pk, today=today)
        ]
    return [
        inbox.Waiting(
            "provision_deletion",
            _("Deletion of third-party record %(ref)s") % {"ref": _provision_reference(pk)},
            url,
            at,
        )
        for pk, url, at in rows
    ]


_CACHE = "_shiori_waiting"


def waiting_for(user) -> list[inbox.Waiting]:
    """Everything waiting for ``user`` (every registered source, not only the desks'), asked
    once per request: kept on the user object, which lives as long as the request, like its
    roles (the board's panel and the top bar's count then cost one asking)."""
    if user is None:
        return []
    cached = getattr(user, _CACHE, None)
    if cached is None:
        cached = inbox.waiting_for(user)
        if getattr(user, "is_authenticated", False):
            setattr(user, _CACHE, cached)
    return cached
