"""Key rotation without closing the counter.

``rotate`` adds a key-encryption key, makes it active, and rewraps every data key in batches;
no field is re-encrypted. Rows wrapped by the old and the new key are both readable at every
moment, so the app keeps serving, and a run that stops half-way (crash, kill, ``limit``) is
finished by running it again. ``rotate_if_due`` does it only once the active key is older
than BOOKSHOP_KEY_ROTATE_DAYS (a new key epoch; the scheduler runs it). ``reindex`` recomputes
every blind index from decrypted values.

The other keys rotate too: ``rotate_backup_key`` (new backups under a new key, old ones still
open while the keyring keeps theirs), ``rotate_audit_key`` (new checkpoints and ledger lines
signed with a new key, the old ones kept to verify), and ``rotate_customer`` (one customer's
data key suspected leaked: their values re-encrypted under a brand-new data key). ``retire``
destroys a key once nothing needs it, kept backups included (privacy.ops.backup).
"""

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from privacy.audit import log as audit
from privacy.core import subjects
from privacy.ops import backup
from privacy.vault import crypto, datakeys, keyring
from privacy.vault.fields import EncryptedTextField, Sealed
from privacy.vault.models import DataKey, KeyCanary


class RotationError(Exception):
    pass


@dataclasses.dataclass
class RotationResult:
    active_kek_id: str
    started_new_key: bool
    rewrapped: int
    remaining: int


def _replace_keyring(ring: keyring.Keyring, *, new_ids=(), **changes) -> keyring.Keyring:
    """Write the keyring with ``changes`` (a new file, renamed over the old one); each id in
    ``new_ids`` is recorded as made now."""
    if new_ids:
        now = timezone.now()
        changes["created"] = {**ring.created, **dict.fromkeys(new_ids, now)}
    new = dataclasses.replace(ring, _index_keys={}, **changes)
    keyring.write_new(new, overwrite=True)
    return keyring.load()


def key_age(ring: keyring.Keyring, key_id: str, now: datetime | None = None) -> timedelta | None:
    made = ring.created_at(key_id)
    return None if made is None else (now or timezone.now()) - made


def rotation_due(now: datetime | None = None) -> bool:
    """True when the active key-encryption key is older than BOOKSHOP_KEY_ROTATE_DAYS (or
    its age is unknown), or a rotation is unfinished."""
    ring = keyring.load()
    if DataKey.objects.exclude(kek_id=ring.active_kek_id).exists():
        return True
    age = key_age(ring, ring.active_kek_id, now)
    return age is None or age >= timedelta(days=settings.BOOKSHOP_KEY_ROTATE_DAYS)


def pending() -> int:
    ring = keyring.load()
    return DataKey.objects.exclude(kek_id=ring.active_kek_id).count()


def rotate(
    *,
    batch: int = 1000,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
):
    """Start a rotation (new active key) unless one is unfinished, then rewrap data keys."""
    ring = keyring.load()
    started = False
    if not DataKey.objects.exclude(kek_id=ring.active_kek_id).exists():
        new_id = keyring.new_kek_id()
        ring = _replace_keyring(
            ring,
            keks={**ring.keks, new_id: crypto.new_key()},
            active_kek_id=new_id,
            new_ids=[new_id],
        )
        started = True
        audit.record("privacy.keys.rotation_started", data={"kek": new_id})
    datakeys.ensure_canary(ring)
    total = DataKey.objects.exclude(kek_id=ring.active_kek_id).count()
    done, last = 0, None
    keks: dict[str, object] = {}
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        with transaction.atomic():
            # Keyset pagination: each batch starts after the last one, so a million keys
            # cost a million row visits, not a rescan of every rewrapped row per batch.
            queryset = DataKey.objects.select_for_update().exclude(kek_id=ring.active_kek_id)
            if last is not None:
                queryset = queryset.filter(subject_id__gt=last)
            rows = list(
                queryset.order_by("subject_id").values_list("subject_id", "kek_id", "wrapped")[
                    :size
                ]
            )
            if not rows:
                break
            now = timezone.now()
            changes = []
            for subject_id, kek_id, wrapped in rows:
                if kek_id not in keks:
                    keks[kek_id] = ring.kek_aead(kek_id)
                rewrapped = datakeys.rewrap(ring, keks[kek_id], subject_id, wrapped)
                changes.append((rewrapped, subject_id, kek_id))
            _store_rewrapped(changes, ring.active_kek_id, now)
        done += len(rows)
        last = rows[-1][0]
        if progress:
            progress(done, total)
    remaining = DataKey.objects.exclude(kek_id=ring.active_kek_id).count()
    audit.record(
        "privacy.keys.rewrapped",
        data={"kek": ring.active_kek_id, "rewrapped": done, "remaining": remaining},
    )
    return RotationResult(ring.active_kek_id, started, done, remaining)


def _store_rewrapped(changes, active_kek_id: str, now) -> None:
    """One UPDATE per key, sent together (executemany). Each is conditional on the key it
    was read under, so a row changed in between is left for the next run, never clobbered.
    Django's bulk_update would build one CASE over the whole batch, evaluated for every row."""
    meta = DataKey._meta
    fields = {name: meta.get_field(name) for name in ("wrapped", "subject_id", "rewrapped_at")}
    table = connection.ops.quote_name(meta.db_table)  # the model's own name; values are bound
    sql = (
        f"UPDATE {table} SET wrapped = %s, kek_id = %s, rewrapped_at = %s "  # noqa: S608  # nosec B608
        "WHERE subject_id = %s AND kek_id = %s"
    )
    stamp = fields["rewrapped_at"].get_db_prep_value(now, connection)
    params = [
        (
            fields["wrapped"].get_db_prep_value(wrapped, connection),
            active_kek_id,
            stamp,
            fields["subject_id"].get_db_prep_value(subject_id, connection),
            old_kek_id,
        )
        for wrapped, subject_id, old_kek_id in changes
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def rotate_if_due(*, now: datetime | None = None, **options) -> RotationResult | None:
    """``rotate`` when the active key is due (or a rotation is unfinished); else None."""
    if not rotation_due(now):
        return None
    return rotate(**options)


def rotate_backup_key() -> str:
    """A new active backup key; the old ones stay (kept backups need them until retired)."""
    ring = keyring.load()
    new_id = keyring.new_backup_key_id()
    ring = _replace_keyring(
        ring,
        backup_keys={**ring.backup_keys, new_id: crypto.new_key()},
        active_backup_key_id=new_id,
        new_ids=[new_id],
    )
    audit.record("privacy.keys.backup_key_rotated", data={"backup_key": new_id})
    return new_id


def rotate_audit_key() -> str:
    """A new active audit key: checkpoints and ledger lines from now on are signed with it;
    the old ones are kept to verify what they signed."""
    ring = keyring.load()
    new_id = keyring.new_audit_key_id()
    ring = _replace_keyring(
        ring,
        audit_keys={**ring.audit_keys, new_id: crypto.new_key()},
        active_audit_key_id=new_id,
        new_ids=[new_id],
    )
    audit.record("privacy.keys.audit_key_rotated", data={"audit_key": new_id})
    return new_id


@dataclasses.dataclass
class CustomerRekey:
    subject_id: uuid.UUID
    records: int  # rows re-encrypted: the customer and those registered as theirs
    values: int  # encrypted values re-encrypted
    stragglers: int  # values found under the old key after the first pass (then fixed)


def _reseal(subject_id: uuid.UUID, old: AESGCM, new: AESGCM, *, lock: bool) -> tuple[int, int]:
    """Every encrypted value of the subject and of the records registered as theirs, sealed
    under ``new``: a value that ``new`` opens is left alone, one that ``old`` opens is sealed
    again with the same binding. The plaintext stays in this function (the vault's own work,
    like rewrapping: no decision, nothing shown). Returns (records changed, values)."""
    subject = subjects.subject_model()
    sources = [(subject, {"pk": subject_id})]
    sources += [(model, {f"{field}_id": subject_id}) for model, field in subjects.holders()]
    records = values = 0
    for model, condition in sources:
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if not fields:
            continue
        queryset = model._base_manager.filter(**condition).order_by("pk")
        if lock:
            queryset = queryset.select_for_update()
        for row in queryset.iterator(chunk_size=200):
            if row.data_subject_id() != subject_id:
                continue  # sealed under a key of its own (not this subject's)
            changes = {}
            for field in fields:
                sealed = row.__dict__.get(field.attname)
                if not isinstance(sealed, Sealed):
                    continue
                bound = field.associated_data(row)
                try:
                    crypto.unseal(new, sealed.blob, bound)
                    continue  # already under the new key
                except crypto.DecryptionError:
                    pass
                changes[field.attname] = Sealed(
                    crypto.seal(new, crypto.unseal(old, sealed.blob, bound), bound)
                )
            if changes:
                # update(): the rows' values change form, not content; no write-log diff.
                model._base_manager.filter(pk=row.pk).update(**changes)
                records += 1
                values += len(changes)
    return records, values


def rotate_customer(subject_id: uuid.UUID) -> CustomerRekey:
    """A suspected leak of one customer's data key: a brand-new data key, and every value of
    theirs (their own row and every record registered as theirs through
    ``privacy.core.subjects.holders()``) decrypted with the old key and sealed with the new,
    in one transaction with the key's replacement. Blind indexes do not change (they do not
    depend on the data key). The old key is gone once it commits: a copy of it, or of the
    ciphertext taken before, opens nothing stored now.

    A request that unwrapped the old key just before and saves just after would write a
    value under the old key; a second pass, with the old key still in memory, finds such
    values and seals them again."""
    subject = subjects.subject_model()
    with transaction.atomic():
        found = subject._base_manager.select_for_update().filter(pk=subject_id).first()
        if found is None:
            raise RotationError(f"No customer {subject_id}.")
        if getattr(found, "erased_at", None) is not None:
            raise RotationError(f"{found} was erased: there is no key left to replace.")
        row = DataKey.objects.select_for_update().filter(subject_id=subject_id).first()
        if row is None:
            raise RotationError(f"{found} has no data key: nothing to re-encrypt.")
        ring = keyring.load()
        old = AESGCM(datakeys.open_wrapped(ring.kek_aead(row.kek_id), subject_id, row.wrapped))
        dek = crypto.new_key()
        new = AESGCM(dek)
        records, values = _reseal(subject_id, old, new, lock=True)
        DataKey.objects.filter(subject_id=subject_id).update(
            wrapped=datakeys.wrap(ring, subject_id, dek),
            kek_id=ring.active_kek_id,
            created_at=timezone.now(),
            rewrapped_at=None,
        )
        datakeys._cache().pop(subject_id, None)
    with transaction.atomic():
        late_records, late_values = _reseal(subject_id, old, new, lock=True)
    audit.record(
        "privacy.keys.customer_rekeyed",
        target=found,
        data={
            "records": records,
            "values": values,
            "late_values": late_values,
            "kek": ring.active_kek_id,
        },
    )
    return CustomerRekey(subject_id, records + late_records, values + late_values, late_values)


def find_subject(reference: str) -> uuid.UUID:
    """The customer id for a reference (C-1A2B3C4D) or a full id."""
    import re

    text = reference.strip()
    try:
        return uuid.UUID(text)
    except ValueError:
        pass
    match = re.fullmatch(r"[Cc]-?([0-9A-Fa-f]{8})", text)
    if not match:
        raise RotationError(f"{reference!r} is not a customer reference (such as C-1A2B3C4D).")
    subject = subjects.subject_model()
    found = list(
        subject._base_manager.filter(pk__startswith=match.group(1).lower()).values_list(
            "pk", flat=True
        )[:2]
    )
    if len(found) != 1:
        raise RotationError(f"No single customer has the reference {reference}.")
    return found[0]


@dataclasses.dataclass
class Retired:
    key_id: str
    kind: str  # "kek" or "backup"
    unreadable: list  # kept backups that needed the key (retired with --force)
    unchecked: list  # files in BOOKSHOP_BACKUP_DIR that could not be opened (with --force)


def describe_backups(found) -> str:
    return "\n".join(
        f"  {b.path.name} (made {timezone.localtime(b.created_at):%Y-%m-%d %H:%M}, "
        f"kept until {timezone.localtime(b.expires_at):%Y-%m-%d})"
        for b in found
    )


def retire(key_id: str, *, force: bool = False, now: datetime | None = None) -> Retired:
    """Destroy a key-encryption key or a backup key: refused while it is active, while data
    keys are wrapped by it (a KEK), and, unless ``force``, while a kept backup needs it. The
    keyring is written anew without it (and notes when it was retired)."""
    ring = keyring.load()
    kind = ring.kind_of(key_id)
    if kind is None:
        raise RotationError(f"The keyring holds no key {key_id}.")
    if kind == "audit":
        raise RotationError(
            f"{key_id} is an audit key: audit keys are kept, to verify the checkpoints and "
            "erasure-ledger lines they signed; they are never retired."
        )
    if kind == "kek":
        if key_id == ring.active_kek_id:
            raise RotationError(f"Key {key_id} is the active key; rotate first.")
        still = DataKey.objects.filter(kek_id=key_id).count()
        if still:
            raise RotationError(
                f"Key {key_id} still wraps {still} data keys; run `keys rotate` until none remain."
            )
    elif key_id == ring.active_backup_key_id:
        raise RotationError(
            f"Backup key {key_id} is the active backup key; run `keys rotate-backup-key` first."
        )
    needing, unchecked = [], []
    try:
        needing = backup.backups_needing(kind, key_id, now)
    except backup.BackupError as exc:
        if not force:
            raise RotationError(
                f"Cannot tell whether a kept backup still needs {key_id}. {exc}"
            ) from None
        unchecked = [u for u in backup.scan(now).unreadable if u.retired_key is None]
    if needing and not force:
        raise RotationError(
            f"{len(needing)} kept backup(s) in {backup.backup_dir()} still need {key_id}; "
            f"retiring it would make them unreadable:\n{describe_backups(needing)}\n"
            "Wait until they expire and `backup --prune` deletes them, or retire with --force."
        )
    if kind == "kek":
        KeyCanary.objects.filter(kek_id=key_id).delete()
        changes = {"keks": {k: v for k, v in ring.keks.items() if k != key_id}}
    else:
        changes = {"backup_keys": {k: v for k, v in ring.backup_keys.items() if k != key_id}}
    created = {k: v for k, v in ring.created.items() if k != key_id}
    _replace_keyring(
        ring,
        created=created,
        retired={**ring.retired, key_id: timezone.now()},
        **changes,
    )
    audit.record(
        "privacy.keys.retired",
        data={
            "kek" if kind == "kek" else "backup_key": key_id,
            "forced": bool(force and (needing or unchecked)),
            "unreadable_backups": [b.path.name for b in needing],
        },
    )
    return Retired(key_id, kind, needing, unchecked)


def retire_unneeded(*, now: datetime | None = None) -> list[str]:
    """Retire every old key-encryption key and backup key that no live data key and no kept
    backup needs: what makes an erasure final in the backups once they expire. Never forced;
    a kept backup that cannot be opened stops it (RotationError naming the file)."""
    ring = keyring.load()
    wrapping = set(DataKey.objects.values_list("kek_id", flat=True).distinct())
    candidates = [k for k in ring.keks if k != ring.active_kek_id and k not in wrapping]
    candidates += [k for k in ring.backup_keys if k != ring.active_backup_key_id]
    done = []
    for key_id in sorted(candidates):
        kind = "kek" if key_id in ring.keks else "backup"
        try:
            if backup.backups_needing(kind, key_id, now):
                continue  # its turn comes when those backups expire
        except backup.BackupError as exc:
            raise RotationError(
                f"Cannot tell whether a kept backup needs {key_id}. {exc}"
            ) from None
        retire(key_id, now=now)
        done.append(key_id)
    return done


def reindex(*, new_index_key: bool = False, batch: int = 500, progress=None) -> int:
    """Recompute every blind index (after changing BOOKSHOP_BLIND_INDEX_BITS, or with a new
    index key). Searches may miss rows until it finishes: run it outside opening hours."""
    from django.apps import apps

    from privacy.vault import blind_index
    from privacy.vault.blind_index import BlindIndexField

    ring = keyring.load()
    if new_index_key:
        ring = _replace_keyring(
            ring, index_root=crypto.new_key(), new_ids=[keyring.INDEX_ROOT_NAME]
        )
        KeyCanary.objects.update(index_check=datakeys.canary_index_check(ring))
    count = 0
    for model in apps.get_models():
        fields = [f for f in model._meta.get_fields() if isinstance(f, BlindIndexField)]
        if not fields:
            continue
        queryset = model._base_manager.order_by("pk")
        for start in range(0, queryset.count(), batch):
            rows = list(queryset[start : start + batch])
            blind_index.recompute(rows, fields)
            # Index columns only, no personal value: one event below instead of a row each.
            model._base_manager.bulk_update(rows, [f.attname for f in fields])
            count += len(rows)
            if progress:
                progress(count, None)
    audit.record("privacy.keys.reindexed", data={"rows": count, "new_index_key": new_index_key})
    return count
