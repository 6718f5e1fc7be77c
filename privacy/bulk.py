"""Streaming decryption of many rows (exports, the disclosure of everything, the benchmark).

Rows are read in primary-key order, a batch at a time: one query for the rows' ciphertexts and
one for their data keys, both unwrapped and used within the batch and then forgotten. Memory
stays bounded whatever the table's size. The binding is checked as on any read: each value
must open under its own subject's key with ``app.model.field:pk`` as associated data.

The caller logs the read (privacy.audit): this module only decrypts.
"""

from collections.abc import Iterator

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy import crypto, keyring
from privacy.fields import EncryptedTextField, Sealed
from privacy.models import DataKey


def decrypted_rows(
    model, fields: list[str], *, subject: str = "pk", batch: int = 2000, queryset=None
) -> Iterator[tuple[object, dict]]:
    """Yield ``(pk, {field: plaintext})`` for every row of ``queryset`` (default: all rows).
    ``subject`` names the column holding the data subject's id (``pk`` for a customer,
    ``customer_id`` for an order). A destroyed key (erased subject) yields ``None`` values."""
    from privacy import datakeys

    queryset = model._base_manager.all() if queryset is None else queryset
    meta = model._meta
    for name in fields:
        if not isinstance(meta.get_field(name), EncryptedTextField):
            raise ValueError(f"{meta.label}.{name} is not an encrypted field.")
    prefixes = [f"{meta.app_label}.{meta.model_name}.{name}:" for name in fields]
    pk_name = meta.pk.attname
    subject_column = pk_name if subject == "pk" else subject
    columns = [pk_name, *([] if subject_column == pk_name else [subject_column]), *fields]
    first_value = len(columns) - len(fields)
    last = None
    while True:
        page = queryset.order_by(pk_name)
        if last is not None:
            page = page.filter(**{f"{pk_name}__gt": last})
        rows = list(page.values_list(*columns)[:batch])
        if not rows:
            return
        ring = keyring.load()
        subject_at = 1 if first_value == 2 else 0
        wanted = {row[subject_at] for row in rows}
        keks: dict[str, AESGCM] = {}
        keys: dict = {}
        for key in DataKey.objects.filter(subject_id__in=wanted):
            if key.kek_id not in keks:
                keks[key.kek_id] = ring.kek_aead(key.kek_id)
            dek = crypto.unseal(keks[key.kek_id], bytes(key.wrapped), datakeys._aad(key.subject_id))
            keys[key.subject_id] = AESGCM(dek)
        for row in rows:
            pk, aead = row[0], keys.get(row[subject_at])
            suffix = str(pk)
            values = {}
            for name, prefix, value in zip(fields, prefixes, row[first_value:], strict=True):
                if value is None or aead is None:
                    values[name] = None
                    continue
                blob = value.blob if isinstance(value, Sealed) else bytes(value)
                values[name] = crypto.unseal(aead, blob, (prefix + suffix).encode()).decode()
            yield pk, values
        keys.clear()
        last = rows[-1][0]
