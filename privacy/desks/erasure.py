"""Erasure (消去): destroy the customer's data key (crypto-shredding), clear every encrypted
field of the customer and of the records registered as theirs, keep the rows for sales
figures, and append the customer to the erasure ledger, which lives outside the database
and its backups so that a restore can re-apply it."""

import hashlib
import hmac
import json
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.audit import log as audit
from privacy.core import subjects
from privacy.vault import datakeys, keyring
from privacy.vault.blind_index import BlindIndexField
from privacy.vault.fields import EncryptedTextField


class ErasureRefused(Exception):
    pass


def ledger_path() -> Path:
    return Path(settings.BOOKSHOP_ERASURE_LEDGER)


def _mac(subject_id: str, at: str) -> str:
    key = keyring.load().audit_key
    return hmac.new(key, f"erasure|{subject_id}|{at}".encode(), hashlib.sha256).hexdigest()


def _append_to_ledger(subject_id: str) -> None:
    at = timezone.now().isoformat()
    path = ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"subject": subject_id, "at": at, "mac": _mac(subject_id, at)}) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def erased_subjects() -> set[str]:
    """Every subject id in the ledger whose entry is authentic."""
    path = ledger_path()
    if not path.exists():
        return set()
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if hmac.compare_digest(entry["mac"], _mac(entry["subject"], entry["at"])):
            found.add(entry["subject"])
    return found


def _clear(instance) -> None:
    names = []
    for field in instance._meta.get_fields():
        if isinstance(field, (EncryptedTextField, BlindIndexField)):
            instance.__dict__[field.attname] = None
            names.append(field.name)
    instance.save(
        update_fields=[*names, *(["erased_at"] if hasattr(instance, "erased_at") else [])]
    )


@transaction.atomic
def erase_customer(customer, *, by, reapply: bool = False, data: dict | None = None) -> None:
    """Erase for good. Refused while the customer has an open order, except when a restore
    re-applies an erasure that was already decided (``reapply``). ``data`` goes into the
    audit entry (the retention batch that decided it, for instance)."""
    from customers.models import OPEN_STATUSES, Customer

    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.erased_at is not None:
        return
    if not reapply and customer.orders.filter(status__in=OPEN_STATUSES).exists():
        raise ErasureRefused(
            _("This customer has open orders: close or cancel them before erasing.")
        )
    for model, subject_field in subjects.holders():
        for held in model.objects.filter(**{subject_field: customer}):
            _clear(held)
    customer.erased_at = timezone.now()
    _clear(customer)
    datakeys.destroy(customer.pk)
    # Written before commit: if the commit fails, a ledger line for a customer who still
    # exists is harmless (a restore erases them again); the reverse would not be.
    if not reapply:
        _append_to_ledger(str(customer.pk))
    audit.record(
        "privacy.customer.erased_again" if reapply else "privacy.customer.erased",
        target=customer,
        actor=by,
        data=data,
    )
