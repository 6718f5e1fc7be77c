"""Erasure (消去): destroy the customer's data key (crypto-shredding), clear every encrypted
field of the customer and of the records registered as theirs, keep the rows for sales
figures, and append the customer to the erasure ledger, which lives outside the database
and its backups so that a restore can re-apply it.

The ledger gets its line when the erasure COMMITS (``transaction.on_commit``): an approval
that is refused or rolled back writes nothing, so a restore never erases a customer whom the
second person declined. Should the process die between the commit and the line, the
database still says who was erased: ``erasure ledger --repair`` (run by the schedule) writes
the missing lines. Each line names the audit key that signed it.

The erasure date: an erasure is final in the live database at once, and in every backup
once the last kept backup holding the customer's data key has expired AND the key-encryption
key (KEK) that wraps it there is destroyed (``keys retire``): from then on no copy of that
backup, wherever it lies, opens that customer's fields. ``privacy.ops.erasure_date``
computes that date (it reads the kept backups, an operation above this desk)."""

import dataclasses
import hashlib
import hmac
import json
import os
from functools import partial
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


class LedgerError(Exception):
    """A ledger line that cannot be trusted (damaged, bad signature) or whose signing key is
    not in the keyring: a restore cannot know whom to erase again, and says so."""


def ledger_path() -> Path:
    return Path(settings.BOOKSHOP_ERASURE_LEDGER)


# --- the ledger ---------------------------------------------------------------------------


def active_audit_key(ring=None) -> tuple[str, bytes]:
    """(id, key) of the audit key that signs new lines."""
    ring = ring or keyring.load()
    return ring.active_audit_key_id, ring.audit_key


def audit_key_by_id(ring, key_id: str) -> bytes:
    """The audit key ``key_id``; raises LedgerError naming it when the keyring lacks it."""
    try:
        return ring.audit_key_by_id(key_id)
    except keyring.KeyringError:
        raise LedgerError(
            f"it is signed by audit key {key_id}, which is not in the keyring {ring.path}: "
            "put back the keyring copy that holds it (BOOKSHOP_KEYRING)"
        ) from None


def _mac_v2(key: bytes, subject_id: str, at: str, key_id: str) -> str:
    message = f"shiori-erasure-v2|{subject_id}|{at}|{key_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _mac_v1(key: bytes, subject_id: str, at: str) -> str:
    return hmac.new(key, f"erasure|{subject_id}|{at}".encode(), hashlib.sha256).hexdigest()


def _legacy_keys(ring) -> list[bytes]:
    """Lines written before they named their key were signed with the keyring's single
    audit key of format v1 (``audit-v1``); any audit key the keyring holds is tried."""
    first = ring.audit_keys.get(keyring.AUDIT_V1_ID)
    others = [key for kid, key in ring.audit_keys.items() if kid != keyring.AUDIT_V1_ID]
    return ([first] if first else []) + others


def _append_to_ledger(subject_id: str, at: str) -> None:
    ring = keyring.load()
    key_id, key = active_audit_key(ring)
    record = {
        "subject": subject_id,
        "at": at,
        "v": 2,
        "key": key_id,
        "mac": _mac_v2(key, subject_id, at, key_id),
    }
    path = ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@dataclasses.dataclass(frozen=True)
class LedgerLine:
    number: int
    subject: str
    at: str
    key_id: str | None


def read_ledger(path: Path | None = None, ring=None) -> list[LedgerLine]:
    """Every line of the ledger, each signature checked against the key it names (lines
    without a key name: the first audit key). Raises LedgerError on the first line that
    is damaged, forged, or signed by a key the keyring does not hold; never skips one."""
    path = path or ledger_path()
    if not path.exists():
        return []
    ring = ring or keyring.load()
    lines = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        where = f"line {number} of the erasure ledger {path}"
        try:
            entry = json.loads(text)
            subject, at, mac = str(entry["subject"]), str(entry["at"]), str(entry["mac"])
            key_id = entry.get("key")
        except (ValueError, KeyError, TypeError):
            raise LedgerError(f"{where} is damaged") from None
        if entry.get("v") == 2:
            try:
                key = audit_key_by_id(ring, str(key_id))
            except LedgerError as exc:
                raise LedgerError(f"{where}: {exc}") from None
            good = hmac.compare_digest(mac, _mac_v2(key, subject, at, key_id))
        else:
            good = any(
                hmac.compare_digest(mac, _mac_v1(key, subject, at)) for key in _legacy_keys(ring)
            )
        if not good:
            raise LedgerError(f"{where} has a bad signature (altered, or not ours)")
        lines.append(LedgerLine(number, subject, at, key_id))
    return lines


def erased_subjects() -> set[str]:
    """Every subject id in the ledger. A line that does not verify raises LedgerError."""
    return {line.subject for line in read_ledger()}


def repair_ledger() -> list[str]:
    """Write the lines of committed erasures the ledger lacks (a crash between the commit
    and the line); returns the customers' references. Never lines for anyone not erased."""
    from customers.models import Customer

    known = erased_subjects()
    added = []
    erased = Customer._base_manager.filter(erased_at__isnull=False).order_by("erased_at")
    for pk, erased_at in erased.values_list("pk", "erased_at"):
        if str(pk) not in known:
            _append_to_ledger(str(pk), erased_at.isoformat())
            added.append(f"C-{pk.hex[:8].upper()}")
    return added


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
    if not reapply:
        # Only once the erasure is durable: a refused or rolled-back approval (the whole
        # transaction, not just this function) writes no line.
        transaction.on_commit(
            partial(_append_to_ledger, str(customer.pk), customer.erased_at.isoformat())
        )
    audit.record(
        "privacy.customer.erased_again" if reapply else "privacy.customer.erased",
        target=customer,
        actor=by,
        data=data,
    )
