"""Key rotation without closing the counter.

``rotate`` adds a key-encryption key, makes it active, and rewraps every data key in batches;
no field is re-encrypted. Rows wrapped by the old and the new key are both readable at every
moment, so the app keeps serving, and a run that stops half-way (crash, kill, ``limit``) is
finished by running it again. ``reindex`` recomputes every blind index from decrypted values.
"""

import dataclasses
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from privacy.audit import log as audit
from privacy.vault import crypto, datakeys, keyring
from privacy.vault.models import DataKey, KeyCanary


class RotationError(Exception):
    pass


@dataclasses.dataclass
class RotationResult:
    active_kek_id: str
    started_new_key: bool
    rewrapped: int
    remaining: int


def _replace_keyring(ring: keyring.Keyring, **changes) -> keyring.Keyring:
    new = dataclasses.replace(ring, _index_keys={}, **changes)
    keyring.write_new(new, overwrite=True)
    return keyring.load()


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
            ring, keks={**ring.keks, new_id: crypto.new_key()}, active_kek_id=new_id
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


def retire(kek_id: str) -> None:
    """Remove a key from the keyring; refused while it is active or still wraps anything."""
    ring = keyring.load()
    if kek_id not in ring.keks:
        raise RotationError(f"The keyring holds no key {kek_id}.")
    if kek_id == ring.active_kek_id:
        raise RotationError(f"Key {kek_id} is the active key; rotate first.")
    still = DataKey.objects.filter(kek_id=kek_id).count()
    if still:
        raise RotationError(
            f"Key {kek_id} still wraps {still} data keys; run `keys rotate` until none remain."
        )
    KeyCanary.objects.filter(kek_id=kek_id).delete()
    _replace_keyring(ring, keks={k: v for k, v in ring.keks.items() if k != kek_id})
    audit.record("privacy.keys.retired", data={"kek": kek_id})


def reindex(*, new_index_key: bool = False, batch: int = 500, progress=None) -> int:
    """Recompute every blind index (after changing BOOKSHOP_BLIND_INDEX_BITS, or with a new
    index key). Searches may miss rows until it finishes: run it outside opening hours."""
    from django.apps import apps

    from privacy.vault import blind_index
    from privacy.vault.blind_index import BlindIndexField

    ring = keyring.load()
    if new_index_key:
        ring = _replace_keyring(ring, index_root=crypto.new_key())
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
