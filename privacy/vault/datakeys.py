"""Per-subject data keys (DEKs): created on first write, unwrapped on read, cached for the
length of one request (privacy.context), destroyed on erasure."""

import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from privacy.core import context
from privacy.vault import crypto, keyring
from privacy.vault.models import DataKey, KeyCanary

CANARY_PLAINTEXT = b"shiori keyring canary"


class DataKeyDestroyed(Exception):
    """The subject's data key no longer exists: the data was erased."""


def _aad(subject_id: uuid.UUID) -> bytes:
    return f"privacy.datakey:{subject_id}".encode()


def wrap(ring: keyring.Keyring, subject_id: uuid.UUID, dek: bytes) -> bytes:
    return crypto.seal(ring.active_aead, dek, _aad(subject_id))


def unwrap(ring: keyring.Keyring, row: DataKey) -> AESGCM:
    dek = crypto.unseal(ring.kek_aead(row.kek_id), bytes(row.wrapped), _aad(row.subject_id))
    return AESGCM(dek)


def _cache() -> dict:
    scope = context.current()
    return scope.data_keys if scope is not None else {}


def aead_for_instance(instance, *, create: bool = False) -> AESGCM:
    """The cipher for a model instance's data subject, kept on the instance once found.
    A subject being inserted for the first time gets its key without a look-up."""
    aead = instance.__dict__.get("_data_key")
    if aead is None:
        subject_id = instance.data_subject_id()
        new_subject = create and instance._state.adding and subject_id == instance.pk
        aead = aead_for(subject_id, create=create, new_subject=new_subject)
        instance.__dict__["_data_key"] = aead
    return aead


def aead_for(subject_id: uuid.UUID, *, create: bool = False, new_subject: bool = False) -> AESGCM:
    """Return the cipher for one subject's data key; create the key when asked and absent."""
    cache = _cache()
    aead = cache.get(subject_id)
    if aead is not None:
        return aead
    ring = keyring.load()
    row = None if new_subject else DataKey.objects.filter(subject_id=subject_id).first()
    if row is None:
        if not create:
            raise DataKeyDestroyed(f"No data key for subject {subject_id}.")
        row = _create(ring, subject_id)
    aead = unwrap(ring, row)
    cache[subject_id] = aead
    return aead


def _create(ring: keyring.Keyring, subject_id: uuid.UUID) -> DataKey:
    ensure_canary(ring)
    row = DataKey(
        subject_id=subject_id,
        kek_id=ring.active_kek_id,
        wrapped=wrap(ring, subject_id, crypto.new_key()),
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # another request created it first
        row = DataKey.objects.get(subject_id=subject_id)
    return row


def create_many(instances) -> None:
    """Give each of many new subjects (instances about to be bulk-inserted, whose primary key
    is the subject id) a fresh data key: the wrapped keys go in with one insert and each
    instance keeps its cipher, so encrypting their fields costs no look-up."""
    ring = keyring.load()
    ensure_canary(ring)
    cache = _cache()
    rows = []
    for instance in instances:
        dek = crypto.new_key()
        rows.append(
            DataKey(
                subject_id=instance.pk,
                kek_id=ring.active_kek_id,
                wrapped=wrap(ring, instance.pk, dek),
            )
        )
        aead = AESGCM(dek)
        instance.__dict__["_data_key"] = aead
        cache[instance.pk] = aead
    DataKey.objects.bulk_create(rows)


def preload(subject_ids) -> None:
    """Unwrap the data keys of many subjects with one query (list pages)."""
    cache = _cache()
    wanted = {sid for sid in subject_ids if sid not in cache}
    if not wanted or context.current() is None:
        return
    ring = keyring.load()
    keks = {}
    rows = DataKey.objects.filter(subject_id__in=wanted).values_list(
        "subject_id", "kek_id", "wrapped"
    )
    for subject_id, kek_id, wrapped in rows:  # tuples: no model instance per key
        kek = keks.get(kek_id)
        if kek is None:
            kek = keks[kek_id] = ring.kek_aead(kek_id)
        cache[subject_id] = AESGCM(crypto.unseal(kek, bytes(wrapped), _aad(subject_id)))


_KEK, _WRAPPED = "_datakey_kek_id", "_datakey_wrapped"


def with_keys(queryset, subject: str = "pk"):
    """The rows with their subject's wrapped data key, read in the same query (two indexed
    subqueries) instead of a query of its own. ``adopt_keys`` then unwraps them."""
    keys = DataKey.objects.filter(subject_id=OuterRef(subject))
    return queryset.annotate(
        **{
            _KEK: Subquery(keys.values("kek_id")[:1]),
            _WRAPPED: Subquery(keys.values("wrapped")[:1]),
        }
    )


def adopt_keys(instances, subject: str = "pk") -> None:
    """Unwrap the data keys read by ``with_keys`` into this request's cache, as ``preload``
    would (the same unwrap, the same binding to the subject); the wrapped copies are dropped
    from the instances. Outside a request scope nothing is cached."""
    cache = _cache()
    ring = keks = None
    for instance in instances:
        values = instance.__dict__
        kek_id, wrapped = values.pop(_KEK, None), values.pop(_WRAPPED, None)
        subject_id = getattr(instance, subject)
        if wrapped is None or subject_id in cache or context.current() is None:
            continue
        if ring is None:
            ring, keks = keyring.load(), {}
        kek = keks.get(kek_id)
        if kek is None:
            kek = keks[kek_id] = ring.kek_aead(kek_id)
        cache[subject_id] = AESGCM(crypto.unseal(kek, bytes(wrapped), _aad(subject_id)))


def destroy(subject_id: uuid.UUID) -> None:
    """Crypto-shred: every value sealed under this subject's key becomes unreadable."""
    DataKey.objects.filter(subject_id=subject_id).delete()
    _cache().pop(subject_id, None)


def canary_index_check(ring: keyring.Keyring) -> str:
    return crypto.keyed_hash(ring.index_key("canary"), CANARY_PLAINTEXT).hex()


def ensure_canary(ring: keyring.Keyring) -> None:
    if KeyCanary.objects.filter(kek_id=ring.active_kek_id).exists():
        return
    KeyCanary.objects.get_or_create(
        kek_id=ring.active_kek_id,
        defaults={
            "sealed": crypto.seal(ring.active_aead, CANARY_PLAINTEXT, b"privacy.canary"),
            "index_check": canary_index_check(ring),
            "created_at": timezone.now(),
        },
    )
