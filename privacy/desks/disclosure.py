"""The disclosure package (開示): everything held about one customer, built in memory, never
written to disk, released once through an expiring link after a second person's approval."""

import csv
import hashlib
import io
import json
import secrets
import zipfile
from datetime import timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from privacy.audit import log as audit
from privacy.audit.models import AuditLogEntry
from privacy.desks.models import DisclosureRelease
from privacy.vault.fields import encrypted_field_names


def _profile_fields(customer) -> list[str]:
    return [*encrypted_field_names(type(customer)), "preferred_contact", "last_confirmed_at"]


ORDER_FIELDS = [
    "reference",
    "title",
    "author",
    "publisher",
    "isbn",
    "quantity",
    "status",
    "requested_at",
    "picked_up_at",
    "cancelled_at",
]


def _text(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def build(customer) -> dict:
    """Profile, orders, notices and choices, suspensions, third-party provisions, and who
    looked at the record and when."""
    orders = list(customer.orders.order_by("requested_at"))
    reads = (
        AuditLogEntry.objects.filter(object_pk=str(customer.pk), event__endswith=".read")
        .select_related("actor")
        .order_by("timestamp")
    )
    return {
        "reference": customer.reference,
        "created_at": _text(customer.created_at),
        "profile": {name: _text(getattr(customer, name)) for name in _profile_fields(customer)},
        "orders": [
            {name: _text(getattr(order, name)) for name in ORDER_FIELDS} for order in orders
        ],
        "notices": [
            {
                "told_at": _text(r.told_at),
                "notice_version": r.notice.version,
                "method": r.method,
                "choices": r.choices,
            }
            for r in customer.notice_records.select_related("notice").order_by("told_at")
        ],
        "suspensions": [
            {"purpose": s.purpose, "since": _text(s.since), "lifted_at": _text(s.lifted_at)}
            for s in customer.suspensions.order_by("since")
        ],
        "third_party_provisions": [
            {
                "reference": p.reference,
                "recipient": _text(p.recipient),
                "recipient_details": _text(p.recipient_details),
                "items": ", ".join(p.items),
                "purpose": _text(p.purpose),
                "provided_on": _text(p.provided_on),
                "basis": p.basis,
                "consent_obtained_at": _text(p.consent_obtained_at),
                "other_basis": _text(p.other_basis),
                "keep_until": _text(p.keep_until),
            }
            for p in customer.third_party_provisions.order_by("provided_on", "created_at")
        ],
        "access_log": [
            {
                "when": _text(entry.timestamp),
                "who": (
                    f"{entry.actor.last_name} {entry.actor.first_name}".strip()
                    or entry.actor.username
                )
                if entry.actor
                else "",
                "purpose": (entry.additional_data or {}).get("purpose", ""),
                "fields": ", ".join((entry.additional_data or {}).get("fields", [])),
            }
            for entry in reads
        ],
    }


def _csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()  # BOM: spreadsheets in Japan open UTF-8 CSV correctly


def as_zip(package: dict) -> bytes:
    """JSON, CSV and a printable page, zipped in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("package.json", json.dumps(package, ensure_ascii=False, indent=2))
        archive.writestr("profile.csv", _csv([package["profile"]]))
        archive.writestr("orders.csv", _csv(package["orders"]))
        archive.writestr("third_party.csv", _csv(package["third_party_provisions"]))
        archive.writestr("access_log.csv", _csv(package["access_log"]))
        archive.writestr(
            "package.html",
            render_to_string("privacy/disclosure_package.html", {"package": package}),
        )
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
