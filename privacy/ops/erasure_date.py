"""The erasure date: when an erasure is final in every copy.

An erasure is final in the live database at once. In a backup made before it, the customer's
data key is still there, wrapped by the key-encryption key (KEK) active when the backup was
made; that backup, and any copy of it that left the shop, stops yielding the customer's data
once that KEK is destroyed (``keys retire``). A KEK can be retired once every backup needing
it has expired: the backups made during its epoch (from its creation to the next scheduled
rotation, creation + BOOKSHOP_KEY_ROTATE_DAYS) expire BOOKSHOP_BACKUP_KEEP_DAYS after they
were made. So an erasure is final in every backup on about epoch end + keep days, computed
here from the kept backups (their stated expiry) and the keys' epochs. A date that has passed
while the key is still in the keyring is reported as an overdue retirement, not as done.

(This lives with the operations, not with the erasure desk: it reads the kept backups.)"""

import dataclasses
import logging
from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from privacy.ops import backup
from privacy.vault import keyring

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class KeyToRetire:
    """A key-encryption key that opens a kept backup holding the customer's data key: the
    erasure is final in every backup once it is retired (``keys retire``)."""

    key_id: str
    retire_from: datetime  # when the last kept backup needing it expires
    in_keyring: bool

    @property
    def overdue(self) -> bool:
        return self.in_keyring and self.retire_from <= timezone.now()


@dataclasses.dataclass(frozen=True)
class ErasureStatus:
    reference: str
    erased_at: datetime | None  # in the live database
    unreadable_in_backups_from: object | None  # a date in shop time; None: not erased
    keys: tuple[KeyToRetire, ...] = ()

    @property
    def overdue(self) -> tuple[KeyToRetire, ...]:
        return tuple(key for key in self.keys if key.overdue)


def _kek_created(ring, kek_id: str) -> datetime | None:
    """When a key-encryption key was made (the keyring's record, else the day in its id)."""
    return ring.created_at(kek_id)


def _epoch_end(ring, kek_id: str, now: datetime) -> datetime:
    """When backups stop being made under this key: for the active key, its next scheduled
    rotation (creation + BOOKSHOP_KEY_ROTATE_DAYS, or now if that is overdue); for an older
    key, when the next key was made."""
    created = _kek_created(ring, kek_id) or now
    if kek_id == ring.active_kek_id:
        return max(created + timedelta(days=settings.BOOKSHOP_KEY_ROTATE_DAYS), now)
    later = [
        made
        for other in ring.keks
        if other != kek_id and (made := _kek_created(ring, other)) is not None and made > created
    ]
    return min(later) if later else created


def _keys_to_retire(
    erased_at: datetime, now: datetime, *, use_kept_backups: bool = True
) -> list[KeyToRetire]:
    """The keys whose retirement makes an erasure at ``erased_at`` final in every backup.

    Any key-encryption key that existed at the erasure may wrap the customer's data key in a
    backup made before it, in the backup folder or in a copy that left it (pruning never
    reaches those): every one of them, and the keys of the kept backups made before the
    erasure. Each may be retired once the last backup of its epoch expired (epoch end +
    BOOKSHOP_BACKUP_KEEP_DAYS) and every kept backup needing it has expired; a key already
    retired counts from when it was."""
    ring = keyring.load()
    kept = list(_kept_backups(now)) if use_kept_backups else []
    needed = {b for backup_ in kept if backup_.created_at <= erased_at for b in backup_.kek_ids}
    needed |= {kek_id for kek_id in ring.keks if (_kek_created(ring, kek_id) or now) <= erased_at}
    needed |= {
        key_id
        for key_id, when in ring.retired.items()
        if key_id.startswith("kek-") and when > erased_at
    }
    keep = timedelta(days=settings.BOOKSHOP_BACKUP_KEEP_DAYS)
    found = []
    for kek_id in sorted(needed):
        # The last backup of the key's epoch expires KEEP_DAYS after the epoch ends (kept
        # backups that say otherwise, by their own expiry).
        expiries = [b.expires_at for b in kept if kek_id in b.kek_ids]
        expiries.append(_epoch_end(ring, kek_id, now) + keep)
        retire_from = max(expiries)
        if kek_id not in ring.keks:  # retired: from when the keyring (or the log) says
            retire_from = ring.retired.get(kek_id) or _retired_at(kek_id) or retire_from
        found.append(KeyToRetire(kek_id, retire_from, kek_id in ring.keks))
    return found


_KEPT: dict = {}


def _kept_backups(now: datetime) -> list:
    """The kept backups (privacy.ops.backup opens and checks each one: costly), remembered
    for as long as the backup folder and the keyring do not change."""
    folder = backup.backup_dir()
    try:
        listing = tuple(
            sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir())
        )
    except OSError:
        listing = ()
    ring = keyring.load()
    signature = (str(folder), listing, str(ring.path), repr(ring), tuple(sorted(ring.retired)))
    found = _KEPT.get(signature)
    if found is None:
        found = backup.kept_backups(now=now)
        _KEPT.clear()
        _KEPT[signature] = found
    return [b for b in found if b.expires_at > now]


def _retired_at(kek_id: str) -> datetime | None:
    from privacy.audit.models import AuditLogEntry

    return (
        AuditLogEntry.objects.filter(event="privacy.keys.retired", additional_data__kek=kek_id)
        .order_by("seq")
        .values_list("timestamp", flat=True)
        .first()
    )


def _day_from(moment: datetime):
    """The first whole day (shop time) from which ``moment`` has passed."""
    local = timezone.localtime(moment)
    return local.date() if local.time() == time.min else local.date() + timedelta(days=1)


def backup_horizon(at: datetime | None = None, *, use_kept_backups: bool = True):
    """The date (shop time) from which an erasure made at ``at`` (default now) cannot be
    read from any backup: today if no kept backup holds the data, else the day the last
    key-encryption key opening such a backup may be retired."""
    now = timezone.now()
    at = at or now
    keys = _keys_to_retire(at, now, use_kept_backups=use_kept_backups)
    latest = max([at, *(key.retire_from for key in keys)])
    return _day_from(latest) if latest > at else timezone.localdate(at)


def stated_horizon():
    """The date the pages and replies state (``backup_horizon`` now). If a file in the backup
    folder cannot be opened, the date from the keys' epochs alone (the backups' own expiry
    cannot be read) rather than an error page, and the operator is told in the log."""
    try:
        return backup_horizon()
    except backup.BackupError as exc:
        log.warning("Erasure date without the kept backups: %s", exc)
        return backup_horizon(use_kept_backups=False)


def find_customer(reference: str):
    """The customer (erased or not) with reference C-XXXXXXXX; None if none or several."""
    import re

    from customers.models import Customer

    match = re.fullmatch(r"C-?([0-9A-F]{8})", reference.strip().upper())
    if not match:
        return None
    found = list(Customer._base_manager.filter(pk__startswith=match.group(1).lower())[:2])
    return found[0] if len(found) == 1 else None


def erasure_status(customer) -> ErasureStatus:
    """When this customer's data stopped being readable: in the live database at the
    erasure; in every backup from the day the keys opening the kept backups made before it
    are retired. Keys past that day and still in the keyring are listed as overdue."""
    from customers.models import Customer

    erased_at = Customer._base_manager.filter(pk=customer.pk).values_list("erased_at", flat=True)[0]
    reference = f"C-{customer.pk.hex[:8].upper()}"
    if erased_at is None:
        return ErasureStatus(reference, None, None)
    now = timezone.now()
    keys = tuple(_keys_to_retire(erased_at, now))
    latest = max([erased_at, *(key.retire_from for key in keys)])
    day = _day_from(latest) if latest > erased_at else timezone.localdate(erased_at)
    return ErasureStatus(reference, erased_at, day, keys)
