"""Per-subject data keys (DEKs): created on first write, unwrapped on read, cached for the
length of one request (privacy.core.context), destroyed on erasure.

A key reaches code outside the vault only through ``aead_for`` and ``aead_for_instance``,
which ask the gate (privacy.vault.gate) first. ``open_wrapped`` is the one way a wrapped key
is opened, whoever reads it (a page, the streaming decryption, the key rotation)."""

import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from privacy.core import context
from privacy.vault import crypto, gate, keyring
from privacy.vault.models import DataKey, KeyCanary

CANARY_PLAINTEXT = b"shiori keyring canary"


class DataKeyDestroyed(Exception):
    """The subject's data key no longer exists: the data was erased."""


def _aad(subject_id: uuid.UUID) -> bytes:
    return f"privacy.datakey:{subject_id}".encode()


def wrap(ring: keyring.Keyring, subject_id: uuid.UUID, dek: bytes) -> bytes:
    return crypto.seal(ring.active_aead, dek, _aad(subject_id))


def open_wrapped(kek: AESGCM, subject_id: uuid.UUID, wrapped: bytes) -> bytes:
    """The data key itself, from its wrapped form: bound to its subject, so a wrapped key
    copied to another subject's row does not open."""
    return crypto.unseal(kek, bytes(wrapped), _aad(subject_id))


def rewrap(ring: keyring.Keyring, kek: AESGCM, subject_id: uuid.UUID, wrapped: bytes) -> bytes:
    """The same data key, wrapped under the active key-encryption key (key rotation): the
    key itself never leaves this module."""
    return wrap(ring, subject_id, open_wrapped(kek, subject_id, wrapped))


def unwrap(ring: keyring.Keyring, row: DataKey) -> AESGCM:
    return AESGCM(open_wrapped(ring.kek_aead(row.kek_id), row.subject_id, row.wrapped))


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
    """Return the cipher for one subject's data key, if the gate lets this scope have it;
    create the key when asked and absent (the scope that creates a subject may read it)."""
    if not new_subject:
        gate.check(subject_id)
    return _vault_only(subject_id, create=create, new_subject=new_subject)


def _vault_only(
    subject_id: uuid.UUID, *, create: bool = False, new_subject: bool = False
) -> AESGCM:
    """The cipher without asking the gate: for the vault's own work, whose plaintext never
    leaves it (comparing a search's candidates, recomputing blind indexes)."""
    cache = _cache()
    aead = cache.get(subject_id)
    if aead is not None:
        return aead
    ring = keyring.load()
    row = None if new_subject else DataKey.objects.filter(subject_id=subject_id).first()
    if row is None:
        if not create:
            raise DataKeyDestroyed(f"No data key for subject {subject_id}.")
        row, created = _create(ring, subject_id)
        if created:
            _admit_creator([subject_id])
    aead = unwrap(ring, row)
    cache[subject_id] = aead
    return aead


def hand_over(instances, subject: str = "pk") -> None:
    """Right after a decision: give each instance (and, for ``customer_id``, its customer)
    the cipher its scope may now use, so that reading its fields asks the gate once per
    subject, not once per row. Keys not adopted yet are left to ``aead_for``."""
    cache = _cache()
    opened = {}
    for instance in instances:
        subject_id = getattr(instance, subject)
        aead = opened.get(subject_id)
        if aead is None and subject_id in cache:
            gate.check(subject_id)
            aead = opened[subject_id] = cache[subject_id]
        if aead is None:
            continue
        instance.__dict__["_data_key"] = aead
        if subject != "pk":
            related = instance._state.fields_cache.get(subject.removesuffix("_id"))
            if related is not None:
                related.__dict__["_data_key"] = aead


def _admit_creator(subject_ids) -> None:
    """Whoever creates a subject typed its data: the scope may read what it wrote."""
    scope = context.current()
    if scope is None:
        return
    actor = scope.actor
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    gate.admit(subject_ids, actor_id=actor_id, purpose="record")


def _create(ring: keyring.Keyring, subject_id: uuid.UUID) -> tuple[DataKey, bool]:
    ensure_canary(ring)
    row = DataKey(
        subject_id=subject_id,
        kek_id=ring.active_kek_id,
        wrapped=wrap(ring, subject_id, crypto.new_key()),
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # another request created it first: theirs, not ours to read
        gate.check(subject_id)
        return DataKey.objects.get(subject_id=subject_id), False
    return row, True


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
    _admit_creator([row.subject_id for row in rows])


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
        cache[subject_id] = AESGCM(open_wrapped(kek, subject_id, wrapped))


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
        cache[subject_id] = AESGCM(open_wrapped(kek, subject_id, wrapped))


def destroy(subject_id: uuid.UUID) -> None:
    """Crypto-shred: every value sealed under this subject's key becomes unreadable."""
    DataKey.objects.filter(subject_id=subject_id).delete()
    gate.forget(subject_id)


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
