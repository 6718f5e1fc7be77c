"""One way to write the audit log: ``record`` for events, ``record_reads`` for pages that
show decrypted data. Entries name what happened and to whom, never a personal value."""

from auditlog.models import AbstractLogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models.base import ModelState
from django.dispatch import receiver
from django.utils import timezone
from django.utils.encoding import smart_str

from privacy.audit import chain as audit_chain
from privacy.audit.models import AuditLogEntry
from privacy.core.subjects import subject_model
from privacy.vault import gate

Action = AbstractLogEntry.Action


def _entry(
    event, *, target=None, actor=None, action=Action.ACCESS, data=None, subject_pk=None
) -> AuditLogEntry:
    if target is not None:
        content_type = ContentType.objects.get_for_model(target)
        object_pk, object_repr = str(target.pk), str(target)
    elif subject_pk is not None:  # a customer named by id only (one that was not shown)
        content_type = ContentType.objects.get_for_model(subject_model())
        object_pk, object_repr = str(subject_pk), ""
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
    audit_chain.fill_from_context(entry)
    return entry


def record(
    event: str, *, target=None, actor=None, action=Action.ACCESS, data=None, subject_pk=None
):
    """Append one event such as ``customers.order.arrived`` or ``auth.login.failed``.
    ``subject_pk`` names a customer by id when there is no row to name (a refused look-up)."""
    return audit_chain.append(
        [_entry(event, target=target, actor=actor, action=action, data=data, subject_pk=subject_pk)]
    )[0]


@receiver(gate.refused)
def _gate_refused(sender, subject_id, actor, **kwargs):
    """Code that read a subject without an access decision: the gate said no."""
    record(
        "privacy.gate.refused",
        actor=actor,
        subject_pk=subject_id,
        data={"reason": "no access decision"},
    )


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
    shown = list({c.pk: c for c in customers}.values())
    if not shown:
        return []
    first = _entry(
        event,
        target=shown[0],
        actor=actor,
        data={**(data or {}), "purpose": purpose, "fields": list(fields)},
    )
    # The others differ from the first only in whom they name: copies of it, without a
    # model constructor each (a third of a fifty-customer board's audit cost).
    entries = [first]
    for customer in shown[1:]:
        object_pk = str(customer.pk)
        entries.append(_copy(first, object_pk=object_pk, object_repr=str(customer)))
    return audit_chain.append(entries)


def _copy(entry: AuditLogEntry, **values) -> AuditLogEntry:
    """A new, unsaved entry with ``entry``'s values but for ``values``."""
    copy = AuditLogEntry.__new__(AuditLogEntry)
    copy.__dict__.update(entry.__dict__)
    if entry.additional_data is not None:
        copy.additional_data = dict(entry.additional_data)
    copy.__dict__.update(values)
    copy._state = ModelState()
    copy._state.fields_cache = dict(entry._state.fields_cache)
    return copy


def record_many(entries: list[AuditLogEntry]) -> list[AuditLogEntry]:
    """Append entries built with ``event_entry`` and ``created_entries`` in one insert."""
    return audit_chain.append(entries)


def event_entry(event: str, *, target=None, actor=None, data=None) -> AuditLogEntry:
    """One event entry, not yet written: for batches (``record_many``)."""
    return _entry(event, target=target, actor=actor, data=data)


def created_entries(instances, *, actor=None, data=None) -> list[AuditLogEntry]:
    """The write-log entries django-auditlog would have made for rows inserted with
    ``bulk_create``, which sends no signals: one CREATE entry per row with the same diff and
    the same masks (so no personal value). ``data`` goes into additional_data.

    Equal to auditlog's ``model_instance_diff(None, row)``, with its per-model work (fields,
    masks, the "old" side of a creation) done once per model instead of once per row."""
    from auditlog.diff import (
        get_field_value,
        get_fields_in_model,
        get_mask_function,
        model_instance_diff,
    )
    from auditlog.registry import auditlog
    from django.conf import settings

    instances = list(instances)
    if not instances:
        return []
    if settings.AUDITLOG_STORE_JSON_CHANGES:  # not ours; keep auditlog's own diff
        return [
            _created_entry(i, model_instance_diff(None, i, use_json_for_changes=True), actor, data)
            for i in instances
        ]
    model = type(instances[0])
    registered = auditlog.get_model_fields(model)
    fields = [
        f
        for f in get_fields_in_model(instances[0])
        if (not registered["include_fields"] or f.name in registered["include_fields"])
        and f.name not in registered["exclude_fields"]
    ]
    before = {f.name: get_field_value(None, f) for f in fields}
    # Reverse relations read the same on every new row ("app.Model.None"): read them once.
    constant = {f.name: get_field_value(instances[0], f) for f in fields if not f.concrete}
    masked = set(registered["mask_fields"])
    mask = get_mask_function(registered.get("mask_callable"))
    entries = []
    for instance in instances:
        changes = {}
        for f in fields:
            old = before[f.name]
            new = constant[f.name] if f.name in constant else get_field_value(instance, f)
            if old != new:
                if f.name in masked:
                    changes[f.name] = (mask(smart_str(old)), mask(smart_str(new)))
                else:
                    changes[f.name] = (smart_str(old), smart_str(new))
        entries.append(_created_entry(instance, changes or None, actor, data))
    return entries


def _created_entry(instance, changes, actor, data) -> AuditLogEntry:
    """As auditlog's ``LogEntryManager.log_create`` fills an entry."""
    entry = _entry("", target=instance, actor=actor, action=Action.CREATE, data=data)
    entry.changes = changes
    entry.serialized_data = AuditLogEntry.objects._get_serialized_data_or_none(instance)
    if isinstance(instance.pk, int):
        entry.object_id = instance.pk
    return entry
