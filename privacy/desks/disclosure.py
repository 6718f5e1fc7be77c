"""The disclosure package (開示): everything held about one customer, built in memory, never
written to disk, released once through an expiring link after a second person's approval."""

import csv
import hashlib
import io
import json
import secrets
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from privacy.audit import log as audit
from privacy.audit import review
from privacy.audit.models import AuditLogEntry
from privacy.consent import purposes
from privacy.desks import exports
from privacy.desks.models import DisclosureRelease

# What the shop keeps only to run itself, not about the person: keys, blind indexes (keyed
# hashes of fields shown in full), row versions, the staff who did each step, and the
# arrival mail's delivery state (its time and channel are shown).
_INTERNAL = {"id", "customer", "version", "erased_at", "notice_mail"}

# Labels for the stored fields whose models name them only in English (or not at all);
# every other field is shown under its own verbose name.
_LABELS = {
    "created_at": gettext_lazy("Registered at"),
    "updated_at": gettext_lazy("Last changed at"),
    "last_confirmed_at": gettext_lazy("Details last confirmed with you at"),
    "requested_at": gettext_lazy("Ordered at"),
    "ordered_at": gettext_lazy("Ordered from the distributor at"),
    "arrived_at": gettext_lazy("Arrived at"),
    "notified_at": gettext_lazy("You were told of the arrival at"),
    "notified_channel": gettext_lazy("How you were told of the arrival"),
    "picked_up_at": gettext_lazy("Picked up at"),
    "cancelled_at": gettext_lazy("Cancelled at"),
    "details_cleared_at": gettext_lazy("Book details cleared after the retention period at"),
}
YES, NO = gettext_lazy("Yes"), gettext_lazy("No")
STYLESHEET = "disclosure.css"


def _stored_fields(model) -> list[models.Field]:
    """The fields of ``model`` that hold something about the person, in declaration order
    (a field added to the model later is included without a change here)."""
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in _INTERNAL
        and not f.name.endswith("_bidx")
        and not f.is_relation
        and f.name != "deletion_proposed_at"
    ]


def _profile_fields(customer) -> list[str]:
    return [f.name for f in _stored_fields(type(customer))]


def _label(model_field) -> str:
    return str(_LABELS.get(model_field.name, model_field.verbose_name))


def shop_time(value) -> str:
    """A moment in the shop's time zone (settings.TIME_ZONE), to the minute."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _display(instance, model_field) -> str:
    """A stored value as the person reads it: the label of a code, the shop's time, yes or
    no; empty when nothing is stored."""
    value = getattr(instance, model_field.name)
    if value in (None, ""):
        return ""
    if model_field.choices:
        return str(getattr(instance, f"get_{model_field.name}_display")())
    if isinstance(value, bool):
        return str(YES if value else NO)
    if isinstance(value, (datetime, date)):
        return shop_time(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _text(value) -> str:
    """A value for the machine-readable JSON: ISO 8601 in the shop's time, to the second."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@dataclass
class Table:
    """One part of the package as the person reads it: a heading, column labels, rows of
    text. The same table is a section of package.html and a CSV file."""

    name: str  # the CSV file's name, without .csv
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


class Package(dict):
    """The package: the machine-readable data (this dict: codes, ISO times; package.json)
    and, as ``tables``, the same data as the person reads it (labels, the shop's time)."""

    tables: list[Table]


def _staff_name(user) -> str:
    if user is None:
        return ""
    return f"{user.last_name} {user.first_name}".strip() or user.username


def _choices_text(choices: dict, notice) -> str:
    return " / ".join(
        f"{purposes.purpose_label(code, notice)}: {YES if yes else NO}"
        for code, yes in choices.items()
    )


_OTHER_ITEMS = {
    "all": gettext_lazy("All of your details"),
    "orders": gettext_lazy("Your special orders"),
    "access_grants": gettext_lazy("Which staff may see your record"),
    "reference": gettext_lazy("Your customer reference"),
}


def _field_labels(models_read: list, names: list[str]) -> str:
    """The items a read entry names, in words: a field of the customer or of an order by its
    label, a few others by name given here, anything else as stored."""
    labels = {}
    for model in reversed(models_read):  # the customer's own labels win
        labels.update({f.name: _label(f) for f in _stored_fields(model)})
    labels.update({name: str(label) for name, label in _OTHER_ITEMS.items()})
    return ", ".join(labels.get(name, name) for name in names)


def build(customer) -> Package:
    """Profile, orders, notices and choices, suspensions, third-party provisions, and who
    looked at the record and when: every stored field, in data and in words."""
    customer_model = type(customer)
    profile_fields = _stored_fields(customer_model)
    orders = list(customer.orders.order_by("requested_at"))
    order_fields = _stored_fields(customer.orders.model)
    notices = list(customer.notice_records.select_related("notice", "told_by").order_by("told_at"))
    suspensions = list(customer.suspensions.order_by("since"))
    provisions = list(customer.third_party_provisions.order_by("provided_on", "created_at"))
    provision_fields = _stored_fields(customer.third_party_provisions.model)
    reads = list(
        AuditLogEntry.objects.filter(object_pk=str(customer.pk), event__endswith=".read")
        .select_related("actor")
        .order_by("timestamp")
    )

    package = Package(
        reference=customer.reference,
        created_at=_text(customer.created_at),
        profile={f.name: _text(getattr(customer, f.name)) for f in profile_fields},
        orders=[
            {
                "reference": order.reference,
                **{f.name: _text(getattr(order, f.name)) for f in order_fields},
            }
            for order in orders
        ],
        notices=[
            {
                "told_at": _text(r.told_at),
                "notice_version": r.notice.version,
                "method": r.method,
                "choices": r.choices,
            }
            for r in notices
        ],
        suspensions=[
            {
                "purpose": s.purpose,
                "since": _text(s.since),
                "lifted_at": _text(s.lifted_at),
                "lift_reason": s.lift_reason,
            }
            for s in suspensions
        ],
        third_party_provisions=[
            {
                "reference": p.reference,
                **{f.name: _text(getattr(p, f.name)) for f in provision_fields},
            }
            for p in provisions
        ],
        access_log=[
            {
                "when": _text(entry.timestamp),
                "who": _staff_name(entry.actor),
                "purpose": (entry.additional_data or {}).get("purpose", ""),
                "fields": ", ".join((entry.additional_data or {}).get("fields", [])),
            }
            for entry in reads
        ],
    )
    package.tables = [
        Table(
            "profile",
            str(_("Your details")),
            [str(_("Item")), str(_("What we hold"))],
            [[_label(f), _display(customer, f)] for f in profile_fields],
        ),
        Table(
            "orders",
            str(_("Your special orders")),
            [str(_("Order no.")), *(_label(f) for f in order_fields)],
            [[order.reference, *(_display(order, f) for f in order_fields)] for order in orders],
        ),
        Table(
            "notices",
            str(_("The purposes you were told, and your choices")),
            [
                str(_("When")),
                str(_("Notice version")),
                str(_("How you were told")),
                str(_("Your choices")),
            ],
            [
                [
                    shop_time(r.told_at),
                    f"v{r.notice.version}",
                    r.get_method_display(),
                    _choices_text(r.choices, r.notice) or "—",
                ]
                for r in notices
            ],
        ),
        Table(
            "suspensions",
            str(_("Uses stopped at your request")),
            [
                str(_("Use of your data")),
                str(_("Stopped at")),
                str(_("Resumed at")),
                str(_("Reason for resuming")),
            ],
            [
                [
                    purposes.purpose_label(s.purpose),
                    shop_time(s.since),
                    shop_time(s.lifted_at),
                    s.lift_reason,
                ]
                for s in suspensions
            ],
        ),
        Table(
            "third_party",
            str(_("Records of provision to third parties")),
            [str(_("Record no.")), *(_label(f) for f in provision_fields)],
            [
                [
                    p.reference,
                    *(
                        ", ".join(p.item_labels()) if f.name == "items" else _display(p, f)
                        for f in provision_fields
                    ),
                ]
                for p in provisions
            ],
        ),
        Table(
            "access_log",
            str(_("Who looked at your record")),
            [str(_("When")), str(_("Staff member")), str(_("Purpose")), str(_("Items seen"))],
            [
                [
                    shop_time(entry.timestamp),
                    _staff_name(entry.actor),
                    review.purpose_label((entry.additional_data or {}).get("purpose", "")),
                    _field_labels(
                        [customer_model, customer.orders.model],
                        (entry.additional_data or {}).get("fields", []),
                    ),
                ]
                for entry in reads
            ],
        ),
    ]
    return package


def _csv(table: Table) -> str:
    """The table as CSV: its header row even when it has no rows, every cell defused
    against spreadsheet formulas as in the bulk export."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([exports._cell(label) for label in table.columns])
    writer.writerows([[exports._cell(cell) for cell in row] for row in table.rows])
    return "\ufeff" + out.getvalue()  # BOM: spreadsheets in Japan open UTF-8 CSV correctly


def _stylesheet() -> str:
    path = finders.find(STYLESHEET)
    if not path:
        return ""
    with open(path, encoding="utf-8") as css:
        return css.read()


def _style_hash(css: str) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()


def render_html(package: Package) -> str:
    """The printable page. Its style is the static stylesheet disclosure.css, embedded so
    that the one file reads well offline; a Content-Security-Policy allows that stylesheet
    alone (by its hash) and nothing else: no script, no other style, nothing fetched."""
    css = _stylesheet()
    return render_to_string(
        "privacy/disclosure_package.html",
        {
            "package": package,
            "tables": package.tables,
            "css": css,
            "css_hash": _style_hash(css),
            "generated_at": shop_time(timezone.now()),
            "time_zone": settings.TIME_ZONE,
        },
    )


def as_zip(package: Package) -> bytes:
    """JSON (the data, for machines), a CSV per table and a printable page, zipped in memory."""
    if not hasattr(package, "tables"):
        raise TypeError("as_zip takes the package build() made")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("package.json", json.dumps(package, ensure_ascii=False, indent=2))
        for table in package.tables:
            archive.writestr(f"{table.name}.csv", _csv(table))
        archive.writestr("package.html", render_html(package))
    return buffer.getvalue()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def release(data_request, *, by) -> str:
    """Create the one-time link; the token is returned once and only its hash is kept."""
    token = secrets.token_urlsafe(32)
    DisclosureRelease.objects.create(
        request=data_request,
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(days=settings.BOOKSHOP_DISCLOSURE_LINK_DAYS),
    )
    audit.record("privacy.disclosure.released", target=data_request, actor=by)
    return token


def redeem(token: str):
    """The release for this token if it is unused and unexpired, marked used; else None."""
    found = (
        DisclosureRelease.objects.select_for_update(of=("self",))
        .select_related("request__customer")
        .filter(token_hash=_hash(token), used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if found is None:
        return None
    found.used_at = timezone.now()
    found.save(update_fields=["used_at"])
    return found
