"""One way to write the audit log: ``record`` for events, ``record_reads`` for pages that
show decrypted data. Entries name what happened and to whom, never a personal value."""

from auditlog.models import AbstractLogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from privacy import audit_chain, context
from privacy.models import AuditLogEntry

Action = AbstractLogEntry.Action


def _fill_context(entry: AuditLogEntry) -> None:
    scope = context.current()
    if scope is None:
        return
    if entry.actor_id is None and getattr(scope.actor, "is_authenticated", False):
        entry.actor = scope.actor
    if not entry.remote_addr:
        entry.remote_addr = scope.remote_addr
    if not entry.cid:
        entry.cid = scope.cid


def _entry(event, *, target=None, actor=None, action=Action.ACCESS, data=None) -> AuditLogEntry:
    if target is not None:
        content_type = ContentType.objects.get_for_model(target)
        object_pk, object_repr = str(target.pk), str(target)
    else:
        content_type = ContentType.objects.get_for_model(AuditLogEntry)
        object_pk, object_repr = "", ""
    entry = AuditLogEntry(
        content_type=content_type,
        object_pk=object_pk,
        object_repr=object_repr,
        action=action,
        event=event,
        changes=None,
        additional_data=data or None,
        timestamp=timezone.now(),
    )
    if actor is not None and getattr(actor, "is_authenticated", False):
        entry.actor = actor
    _fill_context(entry)
    return entry


def record(event: str, *, target=None, actor=None, action=Action.ACCESS, data=None):
    """Append one event such as ``customers.order.arrived`` or ``auth.login.failed``."""
    return audit_chain.append(
        [_entry(event, target=target, actor=actor, action=action, data=data)]
    )[0]


def record_reads(
    customers,
    *,
    actor,
    purpose: str,
    fields: list[str],
    event="customers.customer.read",
    data: dict | None = None,
):
    """Append one access entry per customer shown, in one insert. ``data`` adds context
    (the bulk export a read belongs to, for instance), never a personal value."""
    entries = [
        _entry(
            event,
            target=customer,
            actor=actor,
            data={**(data or {}), "purpose": purpose, "fields": fields},
        )
        for customer in {c.pk: c for c in customers}.values()
    ]
    return audit_chain.append(entries)


def fill_from_context(entry: AuditLogEntry) -> None:
    """Used for entries that django-auditlog builds itself (the write log)."""
    _fill_context(entry)
