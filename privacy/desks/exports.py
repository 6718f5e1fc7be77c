"""Bulk export (一括書き出し): personal data of more than one customer leaves the app only
here. A manager asks, with a reason; a second staff member approves; the person who asked
downloads it once, within a few hours. The file is built in memory, carries a watermark
(export, who asked, who approved, when, no copies) on its first line and on every row, and
each customer in it gets a read entry in the audit log."""

import csv
import io
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.access import decisions
from privacy.audit import log as audit
from privacy.desks import approvals
from privacy.desks.models import ApprovalStatus, ExportRequest, ExportScope
from privacy.staff import two_person
from privacy.vault import datakeys
from privacy.vault.fields import encrypted_field_names

A = ApprovalStatus
PURPOSE = "bulk_export"


class ExportError(Exception):
    """A refused step; the message is shown to the staff member."""


class NotYours(Exception):
    """Only the person who asked downloads the export; for anyone else it does not exist."""


def _require_manager(user) -> None:
    approvals.require_manager(user, ExportError)


def profile_fields() -> list[str]:
    from customers.models import Customer

    return [*encrypted_field_names(Customer), "preferred_contact"]


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def customers_in_scope(scope: str, date_from=None, date_to=None):
    """The customers (not erased) an export of this scope covers, as a query."""
    from customers.models import Customer, SpecialOrder

    customers = Customer.objects.filter(erased_at__isnull=True)
    if scope == ExportScope.ALL:
        return customers
    if scope == ExportScope.ORDERED_BETWEEN:
        if date_from is None or date_to is None or date_from > date_to:
            raise ExportError(_("Give the first and the last day, the first not after the last."))
        ordered = SpecialOrder.objects.filter(
            requested_at__gte=_start_of(date_from),
            requested_at__lt=_start_of(date_to) + timedelta(days=1),
        )
        return customers.filter(pk__in=ordered.values("customer"))
    raise ExportError(_("Choose which customers to export."))


@transaction.atomic
def request_export(*, by, scope: str, reason: str, date_from=None, date_to=None) -> ExportRequest:
    """Ask for an export. The customers are frozen now: the approver approves exactly them."""
    _require_manager(by)
    if not reason.strip():
        raise ExportError(_("Give a reason for the export."))
    ids = [
        str(pk)
        for pk in customers_in_scope(scope, date_from, date_to)
        .order_by("created_at")
        .values_list("pk", flat=True)
    ]
    if not ids:
        raise ExportError(_("No customer matches: there is nothing to export."))
    item = ExportRequest.objects.create(
        scope=scope,
        date_from=date_from if scope == ExportScope.ORDERED_BETWEEN else None,
        date_to=date_to if scope == ExportScope.ORDERED_BETWEEN else None,
        reason=reason.strip(),
        requested_by=by,
        customer_ids=ids,
    )
    audit.record(
        "privacy.export.requested",
        target=item,
        actor=by,
        data={"scope": scope, "customers": len(ids)},
    )
    return item


def _pending(export_id, *, allowed=(A.PROPOSED,)) -> ExportRequest:
    return approvals.locked_in_status(
        ExportRequest,
        export_id,
        allowed=allowed,
        error=ExportError,
        message=_("This export is “%(status)s”; that step is not possible now."),
    )


@transaction.atomic
def approve(*, export_id, by) -> ExportRequest:
    """A second staff member approves; the person who asked cannot. The download window
    opens."""
    two_person.require_counter_staff(by, ExportError)
    item = _pending(export_id)
    two_person.require_second_person(
        item.requested_by_id, by, ExportError, own=two_person.OWN_REQUEST
    )
    now = timezone.now()
    return approvals.decide(
        item,
        status=A.APPROVED,
        by=by,
        event="privacy.export.approved",
        decided_at=now,
        download_until=now + timedelta(hours=settings.BOOKSHOP_EXPORT_DOWNLOAD_HOURS),
    )


@transaction.atomic
def refuse(*, export_id, by) -> ExportRequest:
    """A second staff member does not agree (or the person who asked withdraws it)."""
    two_person.require_counter_staff(by, ExportError)
    item = _pending(export_id)
    return approvals.decide(item, status=A.REFUSED, by=by, event="privacy.export.refused")


def _name(user) -> str:
    if user is None:
        return ""
    return f"{user.last_name} {user.first_name}".strip() or user.username


def _cell(value) -> str:
    """A value as text, defused for spreadsheets: a cell starting with = + - @ (or a tab or
    carriage return) would be run as a formula, so it gets a leading apostrophe."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def watermark(item: ExportRequest, generated_at) -> str:
    return _(
        "CONFIDENTIAL. Shiori export %(ref)s. Asked for by %(asked)s, approved by %(approved)s, "
        "made %(when)s. Personal data: do not copy or forward it; delete it when its purpose "
        "is done."
    ) % {
        "ref": item.reference,
        "asked": _name(item.requested_by),
        "approved": _name(item.decided_by),
        "when": timezone.localtime(generated_at).strftime("%Y-%m-%d %H:%M %Z"),
    }


def build_csv(item: ExportRequest, customers, generated_at) -> str:
    """UTF-8 with a byte-order mark, so that spreadsheets in Japan open it correctly. The first
    line is the watermark; every row repeats the export's reference."""
    fields = profile_fields()
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["# " + watermark(item, generated_at)])
    writer.writerow(["export", "reference", *fields, "created_at", "last_confirmed_at"])
    for customer in customers:
        writer.writerow(
            [
                item.reference,
                customer.reference,
                *(_cell(getattr(customer, name)) for name in fields),
                _cell(customer.created_at),
                _cell(customer.last_confirmed_at),
            ]
        )
    return out.getvalue()


def _customers(ids: list[str], chunk: int = 500) -> list:
    from customers.models import Customer

    found = []
    for start in range(0, len(ids), chunk):
        found.extend(
            Customer.objects.filter(pk__in=ids[start : start + chunk], erased_at__isnull=True)
        )
    order = {pk: index for index, pk in enumerate(ids)}
    return sorted(found, key=lambda c: order[str(c.pk)])


@transaction.atomic
def download(*, export_id, by) -> tuple[ExportRequest, str]:
    """Build the file once, for the person who asked, inside the window; log one read per
    customer in it. Customers erased since the request are left out."""
    item = ExportRequest.objects.select_for_update().filter(pk=export_id).first()
    if item is None or item.requested_by_id != by.pk:
        raise NotYours
    if not item.may_download_now:
        raise ExportError(
            _(
                "This export cannot be downloaded: it is not approved, was downloaded "
                "already, or its time ran out."
            )
        )
    customers = decisions.decide(
        by,
        _customers(item.customer_ids),
        purpose=PURPOSE,
        fields=[*profile_fields(), "created_at", "last_confirmed_at"],
        data={"export": item.reference},
    )
    datakeys.preload(c.pk for c in customers)
    now = timezone.now()
    text = build_csv(item, customers, now)
    item.status = A.DONE
    item.downloaded_at = now
    item.customers_exported = len(customers)
    item.save()
    audit.record(
        "privacy.export.downloaded",
        target=item,
        actor=by,
        data={"customers": len(customers)},
    )
    return item, text
