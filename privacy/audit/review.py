"""Reads of the audit log for the administrator: what each entry says in words, filters, flags
of unusual activity, the chain's status and its verification on demand.

Customers appear only as pseudonymous references (C-XXXXXXXX); an entry's ``data`` is shown
through a list of known, safe keys only. ``describe`` is total: whatever an entry holds (any
JSON in its data or changes, keys missing, values of the wrong type), it returns a row.
"""

import re
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.audit import chain as audit_chain
from privacy.audit import checkpoints as audit_checkpoints
from privacy.audit.models import AuditLogEntry, AuditVerification
from privacy.core.dates import within_hours

READ_EVENT_SUFFIX = ".read"
CUSTOMER_READ = "customers.customer.read"
Action = AuditLogEntry.Action

# Every event the code writes, in words. tests/privacy/test_audit_labels.py finds the events
# in the source tree and fails for one without a label here.
EVENT_LABELS = {
    # Staff accounts and logins
    "accounts.created": _("Staff account created"),
    "accounts.deactivated": _("Staff account deactivated"),
    "accounts.password_changed": _("Password changed"),
    "accounts.password_reset": _("Password reset by the administrator"),
    "accounts.authenticator_reset": _("Authenticator reset by the administrator"),
    "accounts.setup_link.code_failed": _("Wrong code on a setup link"),
    "accounts.setup_link.expired": _("Setup link expired"),
    "accounts.setup_link.issued": _("Setup link issued"),
    "accounts.setup_link.used": _("Setup link used"),
    "accounts.setup_link.voided": _("Setup link voided"),
    "auth.reauth": _("Password confirmed again"),
    "auth.reauth.failed": _("Password confirmation failed"),
    "accounts.end_date_set": _("Staff member's end date set"),
    "accounts.rules_acknowledged": _("Handling rules acknowledged"),
    "accounts.rules_published": _("Handling rules published"),
    "accounts.sessions_ended": _("Staff member's sessions ended"),
    "accounts.role_proposed": _("Role proposed, waiting for a second person"),
    "accounts.role_confirmed": _("Role confirmed by a second person"),
    "accounts.role_refused": _("Proposed role refused"),
    "accounts.role_expired": _("Proposed role expired unconfirmed"),
    "accounts.role_withdrawn": _("Proposed role withdrawn"),
    "privacy.access.grant_self_withdrawn": _("Manager's own access request withdrawn"),
    "privacy.hours.override_withdrawn": _("Long business-hours override withdrawn"),
    "accounts.role_added": _("Role added"),
    "accounts.role_removed": _("Role removed"),
    "privacy.access.grant_self_proposed": _("Manager asked for their own access to a customer"),
    "privacy.access.grant_self_confirmed": _("Manager's own access confirmed"),
    "privacy.access.grant_self_refused": _("Manager's own access refused"),
    "privacy.access.grant_self_expired": _("Manager's own access request expired"),
    "privacy.hours.override_proposed": _("Long business-hours override proposed"),
    "privacy.hours.override_confirmed": _("Long business-hours override confirmed"),
    "privacy.hours.override_refused": _("Long business-hours override refused"),
    "privacy.hours.override_expired": _("Long business-hours override request expired"),
    "privacy.terminal.registered": _("Shop terminal registered"),
    "privacy.terminal.revoked": _("Shop terminal revoked"),
    "privacy.terminal.refused": _("Terminal cookie refused"),
    "records.access_review.recorded": _("Access review recorded"),
    "records.contractor.added": _("Contractor added"),
    "records.contractor.changed": _("Contractor changed"),
    "records.contractor.checked": _("Contractor supervision check recorded"),
    "records.contractor.staff_set": _("Contractor's staff set"),
    "records.contractor.account_ended": _("Contractor's staff account ended with the contract"),
    "records.training.recorded": _("Training session recorded"),
    "auth.2fa.enrolled": _("Authenticator enrolled"),
    "auth.2fa.failed": _("Second login step failed"),
    "auth.2fa.verified": _("Second login step passed"),
    "auth.lockout": _("Account locked after failed logins"),
    "auth.lockout.released": _("Account lock released"),
    "auth.lockout.sessions_ended": _("Sessions ended by the lock"),
    "auth.login": _("Logged in"),
    "auth.login.failed": _("Failed login"),
    "auth.logout": _("Logged out"),
    # The counter
    "customers.customer.confirmed": _("Customer's details confirmed"),
    "customers.customer.new_release_mail": _("New-release mail sent"),
    "customers.customer.read": _("Customer data read"),
    "customers.import.completed": _("Spreadsheet import completed"),
    "customers.order.arrived": _("Order marked arrived"),
    "customers.order.cancelled": _("Order cancelled"),
    "customers.order.created": _("Order taken"),
    "customers.order.details_cleared": _("Order's book details cleared (retention)"),
    "customers.order.notice_sent": _("Arrival mail sent"),
    "customers.order.notice_failed": _("Arrival mail failed"),
    "customers.order.notice_requeued": _("Arrival mail queued again"),
    "customers.order.notified_by_phone": _("Customer phoned about arrival"),
    "customers.order.notified": _("Customer told of arrival"),
    "customers.order.ordered": _("Order placed with the distributor"),
    "customers.order.picked_up": _("Order picked up"),
    "customers.print.created": _("List or slip printed"),
    "customers.print.read": _("Customer data printed"),
    "customers.print.reopened": _("Print opened again"),
    "customers.print.trace.read": _("Print traced by the manager"),
    # Incidents
    "incidents.affected.added": _("Affected customers added to an incident"),
    "incidents.affected.read": _("Incident's affected customers read"),
    "incidents.affected.removed": _("Affected customers removed from an incident"),
    "incidents.incident.closed": _("Incident closed"),
    "incidents.incident.read": _("Incident read"),
    "incidents.incident.recorded": _("Incident recorded"),
    "incidents.incident.updated": _("Incident updated"),
    "incidents.notice.recorded": _("Notice to affected customers recorded"),
    "incidents.report.final": _("Final report to the PPC recorded"),
    "incidents.report.preliminary": _("Preliminary report to the PPC recorded"),
    # Access
    "privacy.access.expired": _("Access grant expired"),
    "privacy.access.granted": _("Access granted"),
    "privacy.access.lookup.read": _("Manager's look-up of any customer"),
    "privacy.access.refused": _("Read refused"),
    "privacy.access.revoked": _("Access revoked"),
    "privacy.access_request.filed": _("Access requested"),
    "privacy.access_request.granted": _("Access request granted"),
    "privacy.access_request.refused": _("Access request refused"),
    "privacy.gate.refused": _("Read without a decision refused"),
    "privacy.hours.override_opened": _("Business hours opened by the manager"),
    "privacy.hours.refused": _("Read refused outside business hours"),
    "privacy.search.refused": _("Search refused: matches not visible"),
    # The audit log itself
    "privacy.audit.exported": _("Audit log downloaded (CSV)"),
    "privacy.audit.verified": _("Audit chain verified"),
    # Operations
    "privacy.backup.restored": _("Restored from a backup"),
    "privacy.job.failed": _("Scheduled job failed"),
    "privacy.job.ran": _("Scheduled job ran"),
    # Customers' rights, retention, exports
    "privacy.customer.erased": _("Customer erased"),
    "privacy.customer.erased_again": _("Customer erased again after a restore"),
    "privacy.disclosure.downloaded": _("Disclosure package downloaded"),
    "privacy.disclosure.read": _("Disclosure package built"),
    "privacy.disclosure.released": _("Disclosure link released"),
    "privacy.export.approved": _("Bulk export approved"),
    "privacy.export.downloaded": _("Bulk export downloaded"),
    "privacy.export.refused": _("Bulk export refused"),
    "privacy.export.requested": _("Bulk export requested"),
    "privacy.notice.published": _("Purpose notice published"),
    "privacy.notice.recorded": _("Customer told of the purposes"),
    "privacy.purposes.suspended": _("Use of data suspended on request"),
    "privacy.purposes.lifted": _("Suspension of use lifted"),
    "privacy.request.approved": _("Request approved"),
    "privacy.request.corrected": _("Customer's data corrected on request"),
    "privacy.request.extended": _("Request's due date extended"),
    "privacy.request.identity_verified": _("Requester's identity checked"),
    "privacy.request.proposed": _("Request's outcome proposed"),
    "privacy.request.read": _("Request read"),
    "privacy.request.received": _("Request received at the counter"),
    "privacy.request.received_web": _("Request received on the web"),
    "privacy.request.sent_back": _("Request sent back"),
    "privacy.request.started": _("Request taken up"),
    "privacy.retention.approved": _("Retention batch approved"),
    "privacy.retention.kept": _("Kept from a retention batch"),
    "privacy.retention.proposed": _("Retention batch proposed"),
    "privacy.retention.purged": _("Retention batch carried out"),
    "privacy.retention.refused": _("Retention batch refused"),
    "privacy.third_party.deleted": _("Third-party provision record deleted"),
    "privacy.third_party.deletion_proposed": _("Deletion of a provision record proposed"),
    "privacy.third_party.read": _("Third-party provision record read"),
    "privacy.third_party.recorded": _("Third-party provision recorded"),
    # Keys
    "privacy.keys.audit_key_rotated": _("Audit signing key rotated"),
    "privacy.keys.backup_key_rotated": _("Backup key rotated"),
    "privacy.keys.customer_rekeyed": _("Customer's data key replaced"),
    "privacy.keys.reindexed": _("Search indexes recomputed"),
    "privacy.keys.retired": _("Old key retired"),
    "privacy.keys.rewrapped": _("Data keys rewrapped"),
    "privacy.keys.rotation_started": _("Key rotation started"),
}

# django-auditlog's write log (no event code): the action, then the kind of row.
ACTION_LABELS = {
    Action.CREATE: _("Created"),
    Action.UPDATE: _("Updated"),
    Action.DELETE: _("Deleted"),
    Action.ACCESS: _("Accessed"),
}
UNKNOWN_EVENT = _("Other event")

# The purposes of use (privacy.access.decisions.PURPOSES) in words; the test checks that
# every purpose has one.
PURPOSE_LABELS = {
    "order_desk": _("Order desk"),
    "customer_lookup": _("Customer search"),
    "customer_record": _("Customer page"),
    "correction": _("Correcting details"),
    "shipment": _("Receiving a shipment"),
    "print_pickup_list": _("Printing the pickup list"),
    "print_order_slip": _("Printing an order slip"),
    "print_reopened": _("Opening a print again"),
    "arrival_notice": _("Arrival notice"),
    "new_release_info": _("New-release news"),
    "third_party_record": _("Recording a provision to a third party"),
    "request_handling": _("Handling a customer's request"),
    "request_correction": _("Correction on request"),
    "disclosure": _("Disclosure"),
    "bulk_export": _("Bulk export"),
    "customer_import": _("Spreadsheet import"),
    "third_party_review": _("Reviewing provision records"),
    "incident": _("Incident"),
    "incident_notice": _("Notice of an incident"),
    "disclosure_download": _("Disclosure download"),
}

# Files and papers that leave the shop: which hold customers' personal data. The audit CSV
# names customers by reference only: it is not a personal-data export.
DOWNLOADS = {
    "privacy.export.downloaded": True,  # the bulk export
    "privacy.disclosure.downloaded": True,  # the disclosure package (ZIP)
    "customers.print.created": True,  # pickup list, order slip
    "customers.print.reopened": True,
    "privacy.audit.exported": False,  # the audit CSV: references, never personal data
}
PERSONAL_DOWNLOADS = [code for code, personal in DOWNLOADS.items() if personal]
# Downloads of a file (not paper) holding personal data: each one is flagged.
PERSONAL_FILES = ["privacy.export.downloaded", "privacy.disclosure.downloaded"]

REFUSED_EVENTS = [
    "privacy.access.refused",
    "privacy.gate.refused",
    "privacy.hours.refused",
    "privacy.search.refused",
]

# A read of one customer opened by itself (the customer page, the edit and new-order forms),
# as opposed to a row on a board, a list or a search's results. The customer pages mark
# their reads ``"opened": true`` (customers.selectors); entries written before that mark are
# recognised by their purpose.
OPENING_PURPOSES = ["customer_record", "correction"]
OPENED = Q(event=CUSTOMER_READ) & (
    Q(additional_data__opened=True) | Q(additional_data__purpose__in=OPENING_PURPOSES)
)

ACTION_FILTERS = {
    "read": (_("Reads"), Q(event__endswith=READ_EVENT_SUFFIX)),
    "opened": (_("Customers opened one by one"), OPENED),
    "refused": (_("Refused reads"), Q(event__in=REFUSED_EVENTS)),
    "download": (_("Personal data downloaded or printed"), Q(event__in=PERSONAL_DOWNLOADS)),
    "export": (
        _("Exports and downloads"),
        Q(event__in=list(DOWNLOADS)) | Q(event__contains="export"),
    ),
    "print": (_("Prints"), Q(event__startswith="customers.print.")),
    "create": (_("Created"), Q(action=Action.CREATE)),
    "update": (_("Updated"), Q(action=Action.UPDATE)),
    "delete": (_("Deleted"), Q(action=Action.DELETE)),
    "login": (_("Logins"), Q(event__startswith="auth.")),
    "accounts": (_("Staff accounts"), Q(event__startswith="accounts.")),
    "grant": (_("Grants and refusals"), Q(event__startswith="privacy.access.")),
    "hours": (_("Business hours"), Q(event__startswith="privacy.hours.")),
    "requests": (_("Customers' requests"), Q(event__startswith="privacy.request.")),
    "incident": (_("Incidents"), Q(event__startswith="incidents.")),
    "audit": (_("The audit log"), Q(event__startswith="privacy.audit.")),
}

_REFERENCE = re.compile(r"^([A-Z])-?([0-9A-F]{4,32})$")
_ANY_REFERENCE = re.compile(r"\b([A-Z]-[0-9A-F]{8})\b")


def customer_reference_filter(reference: str) -> Q | None:
    """A reference (C-1A2B3C4D for a customer, O- for an order, R-, P-, B-, E-, I- ... for
    the other kinds) to a filter on the logged object; None if it is not one."""
    match = _REFERENCE.match(reference.strip().replace(" ", "").upper())
    if not match:
        return None
    letter, digits = match.groups()
    if letter in "CO":
        # object_pk holds the UUID with hyphens; the reference is its first eight hex digits.
        prefix = digits.lower()
        if len(prefix) > 8:
            prefix = f"{prefix[:8]}-{prefix[8:12]}"
        condition = Q(object_pk__startswith=prefix)
        if letter == "O" and len(digits) == 8:  # the customer's entries naming the order
            condition |= Q(additional_data__order=f"O-{digits}")
        return condition
    if len(digits) != 8:
        return None
    return Q(object_repr__endswith=f"{letter}-{digits}")


def shop_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _start_of(day) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=shop_zone())


def filtered_entries(
    *, actor=None, reference="", action="", date_from=None, date_to=None, event="", job=""
):
    """The entries matching the administrator's filters, newest first. Days are shop days
    (settings.TIME_ZONE)."""
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
        entries = entries.filter(timestamp__lt=_start_of(date_to + timedelta(days=1)))
    if event:
        entries = entries.filter(event=event)
    if job:
        entries = entries.filter(additional_data__job=job)
    return entries


# ---- What one entry says ----------------------------------------------------------------

# Keys of an entry's data shown to the administrator, each a count, a code or a reference
# (never a personal value). Other keys are not shown.
_SHOWN_KEYS = {
    "reason": _("reason"),
    "subjects": _("customers"),
    "matches": _("matches"),
    "order": _("order"),
    "orders": _("orders"),
    "status": _("status"),
    "kind": _("kind"),
    "days": _("days"),
    "version": _("version"),
    "role": _("role"),
    "removed": _("removed"),
    "rows": _("rows"),
    "customers": _("customers"),
    "batch": _("batch"),
    "export": _("export"),
    "print_id": _("print"),
    "action": _("filter"),
    "entries": _("entries"),
    "broken_seq": _("first broken entry"),
    "ok": _("intact"),
    "job": _("job"),
    "exit_status": _("exit status"),
    "timed_out": _("timed out"),
}
_CODE_TEXT = re.compile(r"^[a-z][a-z0-9 _.:'-]{0,80}$")
_TEXT_LIMIT = 200


def _safe_scalar(value) -> str:
    """A count, a yes/no, a reference or a short lower-case code; anything else is left
    out (text a person typed is never shown)."""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and (_ANY_REFERENCE.fullmatch(value) or _CODE_TEXT.match(value)):
        return value
    return ""


def _names(value) -> str:
    """Field names: a list of names, a count, or nothing."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(_("%(n)s fields") % {"n": value})
    if isinstance(value, str):
        return value if _CODE_TEXT.match(value) else ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value if isinstance(v, str) and _CODE_TEXT.match(v))
    if isinstance(value, dict):
        return ", ".join(sorted(str(k) for k in value if _CODE_TEXT.match(str(k))))
    return ""


def event_label(code, action=None, model_name="") -> str:
    """The entry's "what", in the page's language."""
    if isinstance(code, str) and code:
        label = EVENT_LABELS.get(code)
        return str(label) if label is not None else f"{UNKNOWN_EVENT} ({code[:80]})"
    label = str(ACTION_LABELS.get(action, UNKNOWN_EVENT))
    return f"{label}: {model_name}" if model_name else label


def purpose_label(code) -> str:
    if not isinstance(code, str) or not code:
        return ""
    label = PURPOSE_LABELS.get(code)
    if label is not None:
        return str(label)
    return code if _CODE_TEXT.match(code) else ""


def _reference(entry, model: str) -> str:
    object_pk = entry.object_pk if isinstance(entry.object_pk, str) else ""
    if model in {"customer", "specialorder"} and object_pk:
        prefix = "C" if model == "customer" else "O"
        return f"{prefix}-{object_pk.replace('-', '')[:8].upper()}"
    repr_ = entry.object_repr if isinstance(entry.object_repr, str) else ""
    found = _ANY_REFERENCE.search(repr_)
    if found:
        return found.group(1)
    return repr_[:60]


def describe(entry: AuditLogEntry) -> dict:
    """What the administrator sees of one entry: no decrypted value, customers as
    references, the event in words. Total: any data, any changes, any missing piece."""
    content_type = entry.content_type if entry.content_type_id else None
    model = content_type.model if content_type is not None else ""
    model_name = ""
    if content_type is not None:
        model_class = content_type.model_class()
        model_name = str(model_class._meta.verbose_name) if model_class else model
    data = entry.additional_data if isinstance(entry.additional_data, dict) else {}
    details = []
    for key, label in _SHOWN_KEYS.items():
        if key in data:
            shown = _safe_scalar(data[key])
            if shown:
                details.append(f"{label}: {shown}")
    timestamp = entry.timestamp
    local = timezone.localtime(timestamp, shop_zone()) if timestamp else None
    opened = entry.event == CUSTOMER_READ and (
        data.get("opened") is True or data.get("purpose") in OPENING_PURPOSES
    )
    return {
        "seq": entry.seq,
        "timestamp": local,
        "time": local.strftime("%Y-%m-%d %H:%M:%S") if local else "",
        "actor": entry.actor.username if entry.actor_id and entry.actor else "",
        "event": entry.event or "",
        "what": event_label(entry.event, entry.action, model_name),
        "refused": entry.event in REFUSED_EVENTS,
        "opened": opened,
        "reference": _reference(entry, model),
        "purpose": purpose_label(data.get("purpose")),
        "fields": _names(data.get("fields")),
        "changed": _names(entry.changes) if isinstance(entry.changes, dict) else "",
        "details": "; ".join(details)[:_TEXT_LIMIT],
        "remote_addr": entry.remote_addr if isinstance(entry.remote_addr, str) else "",
        "cid": (entry.cid if isinstance(entry.cid, str) else "")[:12],
    }


def keyset_pages(entries, *, size: int = 2000):
    """Every entry of ``entries`` (ordered newest first), fetched ``size`` at a time by
    sequence number: each batch is its own short query, nothing held open between them, and
    never more than one batch in memory. Entries added after the first batch are left out."""
    entries = entries.order_by("-seq")
    last = None
    while True:
        batch = entries if last is None else entries.filter(seq__lt=last)
        rows = list(batch[:size])
        if not rows:
            return
        yield from rows
        if len(rows) < size:
            return
        last = rows[-1].seq


# ---- Flags ------------------------------------------------------------------------------


@dataclass
class Flag:
    kind: str
    message: str
    actor: str
    at: datetime
    actor_id: int | None = None


def flags(*, since: datetime | None = None, until: datetime | None = None, actor=None):
    """Unusual activity between two moments (default: the last 7 days), for one staff member
    or all: many customers opened one by one in a short time, bursts of failed logins,
    personal data downloaded as a file, reads outside business hours."""
    since = since or timezone.now() - timedelta(days=7)
    found: list[Flag] = []
    recent = AuditLogEntry.objects.filter(timestamp__gte=since)
    if until is not None:
        recent = recent.filter(timestamp__lt=until)
    if actor is not None:
        recent = recent.filter(actor=actor)

    _many_opened(recent, found)

    if actor is None:
        failed = recent.filter(event="auth.login.failed").values_list("timestamp", flat=True)
        _bursts(
            [("", None, moment, moment) for moment in failed.order_by("timestamp")],
            settings.BOOKSHOP_FLAG_FAILED_LOGINS_MINUTES,
            settings.BOOKSHOP_FLAG_FAILED_LOGINS,
            found,
            "failed_logins",
            _("%(n)s failed logins within %(minutes)s minutes"),
        )

    downloads = (
        recent.filter(event__in=PERSONAL_FILES).select_related("actor").order_by("-seq")[:50]
    )
    for entry in downloads:
        found.append(
            Flag(
                "download",
                str(_("Personal data downloaded: %(what)s") % {"what": event_label(entry.event)}),
                entry.actor.username if entry.actor else "",
                entry.timestamp,
                entry.actor_id,
            )
        )

    reads = recent.filter(event__endswith=READ_EVENT_SUFFIX).values_list(
        "actor__username", "actor_id", "timestamp"
    )
    outside = {}
    for username, actor_id, moment in reads.iterator(chunk_size=2000):
        if not within_hours(moment):
            outside.setdefault((username, actor_id), moment)
    for (username, actor_id), moment in outside.items():
        found.append(
            Flag(
                "outside_hours",
                str(_("Customer data read outside business hours")),
                username or "",
                moment,
                actor_id,
            )
        )
    return sorted(found, key=lambda flag: flag.at, reverse=True)


def _many_opened(recent, found) -> None:
    """More than BOOKSHOP_FLAG_READS distinct customers opened one by one by one person
    within BOOKSHOP_FLAG_READS_MINUTES. Rows shown on the board, a list or a search's results
    do not count: a board view shows fifty customers and is ordinary work."""
    opened = (
        recent.filter(OPENED, actor__isnull=False)
        .order_by("actor_id", "timestamp")
        .values_list("actor__username", "actor_id", "timestamp", "object_pk")
    )
    _bursts(
        list(opened.iterator(chunk_size=2000)),
        settings.BOOKSHOP_FLAG_READS_MINUTES,
        settings.BOOKSHOP_FLAG_READS + 1,
        found,
        "many_opened",
        _("%(n)s customers opened one by one within %(minutes)s minutes"),
    )


def _bursts(rows, minutes: int, minimum: int, found, kind, message) -> None:
    """Slide a window of ``minutes`` over (actor name, actor id, moment, key) rows in time
    order per actor; flag each burst of at least ``minimum`` distinct keys once."""
    window = timedelta(minutes=minutes)
    by_actor: dict = {}
    for username, actor_id, moment, key in rows:
        by_actor.setdefault((username or "", actor_id), []).append((moment, key))
    for (username, actor_id), events in by_actor.items():
        events.sort(key=lambda pair: pair[0])
        inside: deque = deque()
        counts: Counter = Counter()
        flagged_until = None
        for moment, key in events:
            inside.append((moment, key))
            counts[key] += 1
            while inside[0][0] <= moment - window:
                _old, old_key = inside.popleft()
                counts[old_key] -= 1
                if not counts[old_key]:
                    del counts[old_key]
            if len(counts) >= minimum and (flagged_until is None or moment > flagged_until):
                found.append(
                    Flag(
                        kind,
                        str(message % {"n": len(counts), "minutes": minutes}),
                        username,
                        moment,
                        actor_id,
                    )
                )
                flagged_until = moment + window


# ---- The chain --------------------------------------------------------------------------


def last_checkpoint() -> dict:
    """The newest signed checkpoint (its time and sequence number), or why there is none."""
    try:
        signed = audit_checkpoints.read_checkpoints()
    except audit_checkpoints.CheckpointError as exc:
        return {"error": str(exc)}
    if not signed:
        return {}
    newest = signed[-1]
    at = newest.get("at")
    try:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        moment = None
    return {
        "seq": newest.get("seq"),
        "at": timezone.localtime(moment, shop_zone()) if moment and moment.tzinfo else None,
        "count": len(signed),
    }


def chain_status() -> dict:
    seq, head_hash = audit_chain.head()
    last = AuditVerification.objects.order_by("-ran_at", "-pk").first()
    return {
        "head_seq": seq,
        "head_hash": head_hash,
        "last_verification": last,
        "checkpoint": last_checkpoint(),
    }


def verify_now() -> AuditVerification:
    """What ``manage.py verify_audit_log`` does: walk the chain, check it against the signed
    checkpoints, and keep the result for the chain panel."""
    result, _lineages = audit_checkpoints.verify()  # restores start new lineages
    return AuditVerification.objects.create(
        ok=result.ok,
        entries=result.entries,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        problem=result.problem,
    )
