"""Streaming decryption of many rows (exports, the disclosure of everything, the benchmark).

Rows are read in primary-key order, a batch at a time: one query for the rows' ciphertexts
together with their subjects' wrapped data keys, unwrapped and used within the batch and then
forgotten. Memory stays bounded whatever the table's size. The binding is checked as on any
read: each value must open under its own subject's key with ``app.model.field:pk`` as
associated data.

Each subject's key passes the gate (privacy.vault.gate): the caller takes the access
decision for every subject first (privacy.access.decisions), which also logs the read.
"""

import uuid
from collections.abc import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connections, models

from privacy.vault import crypto, gate, keyring
from privacy.vault.fields import EncryptedTextField
from privacy.vault.models import DataKey


def decrypted_rows(
    model, fields: list[str], *, subject: str = "pk", batch: int = 2000, queryset=None
) -> Iterator[tuple[object, dict]]:
    """Yield ``(pk, {field: plaintext})`` for every row of ``queryset`` (default: all rows).
    ``subject`` names the column holding the data subject's id (``pk`` for a customer,
    ``customer_id`` for an order). A destroyed key (erased subject) yields ``None`` values."""
    from privacy.vault import datakeys

    queryset = model._base_manager.all() if queryset is None else queryset
    meta = model._meta
    for name in fields:
        if not isinstance(meta.get_field(name), EncryptedTextField):
            raise ValueError(f"{meta.label}.{name} is not an encrypted field.")
    names = tuple(fields)
    prefixes = [f"{meta.app_label}.{meta.model_name}.{name}:".encode() for name in fields]
    pk_name = meta.pk.attname
    subject_column = pk_name if subject == "pk" else subject
    # Each row comes with its subject's wrapped data key, joined to the page (one query a
    # batch, and no list of thousands of ids sent back for the keys).
    columns = [pk_name, *([] if subject_column == pk_name else [subject_column]), *fields]
    first_value = len(columns) - len(fields) + 2  # after the key's two columns
    subject_at = 1 if subject_column != pk_name else 0
    uuid_ids = isinstance(meta.pk, models.UUIDField)
    ring = keyring.load()
    keks: dict[str, AESGCM] = {}
    last = None
    while True:
        page = queryset.order_by(pk_name)
        if last is not None:
            page = page.filter(**{f"{pk_name}__gt": last})
        rows = _raw_rows(page.values_list(*columns)[:batch], columns, first_value)
        if not rows:
            return
        # SQLite keeps UUIDs as 32 hex digits: made UUIDs here, row by row.
        as_id = uuid.UUID if uuid_ids and not isinstance(rows[0][0], uuid.UUID) else None
        opened = 0
        for row in rows:
            pk, kek_id, wrapped = row[0], row[first_value - 2], row[first_value - 1]
            if as_id is not None:
                pk = as_id(pk)
            blobs = row[first_value:]
            suffix = str(pk).encode()
            aead = None
            if wrapped is not None:
                kek = keks.get(kek_id)
                if kek is None:
                    kek = keks[kek_id] = ring.kek_aead(kek_id)
                subject_id = pk if subject_at == 0 else row[subject_at]
                if subject_at and as_id is not None and not isinstance(subject_id, uuid.UUID):
                    subject_id = as_id(subject_id)
                gate.check(subject_id)
                aead = AESGCM(datakeys.open_wrapped(kek, subject_id, wrapped))
            try:
                # crypto.unseal, inlined for speed: the format byte, the nonce, the tag and
                # the binding to app.model.field:pk are checked as there.
                decrypt = aead.decrypt
                plain = [
                    decrypt(blob[1:_BODY], blob[_BODY:], prefix + suffix).decode()
                    if blob[0] == _V1 and len(blob) >= _MIN_BLOB
                    else _refuse()
                    for prefix, blob in zip(prefixes, blobs, strict=True)
                ]
                opened += len(plain)
            except (AttributeError, TypeError, InvalidTag, _Damaged):
                # A destroyed key, an empty value, or one that does not open: field by
                # field, with unseal's own checks, errors and count.
                plain = [
                    None
                    if blob is None or aead is None
                    else crypto.unseal(aead, blob, prefix + suffix).decode()
                    for prefix, blob in zip(prefixes, blobs, strict=True)
                ]
            yield pk, dict(zip(names, plain, strict=True))
        crypto.counters["decrypt"] += opened
        last = rows[-1][0]


class _Damaged(Exception):
    pass


def _refuse():
    raise _Damaged


_V1 = crypto.FORMAT_V1
_BODY = 1 + crypto.NONCE_BYTES
_MIN_BLOB = _BODY + 16


def _raw_rows(queryset, columns: list[str], first_value: int) -> list[tuple]:
    """The page's rows as the driver returns them, without a converter call per value (a
    third of the time at a million rows), each with its subject's key-encryption key id and
    wrapped data key after the ids; the wrapped key and the ciphertexts (from
    ``first_value - 1`` on) made bytes where the driver gives memoryviews.

    The data keys are joined to the page in SQL around the ORM's own query: a data key
    belongs to a subject by id, not by foreign key, so the ORM has no join to offer, and
    two subqueries a row (one a column) took four times as long in PostgreSQL."""
    connection = connections[queryset.db]
    quote = connection.ops.quote_name
    names = [quote(queryset.model._meta.get_field(name).column) for name in columns]
    ids, values = names[: first_value - 2], names[first_value - 2 :]
    page_sql, params = queryset.query.sql_with_params()
    selected = ", ".join(
        [*(f"p.{n}" for n in ids), "k.kek_id", "k.wrapped", *(f"p.{n}" for n in values)]
    )
    keys = f"{quote(DataKey._meta.db_table)} k ON k.subject_id = p.{ids[-1]}"
    # Quoted names and the ORM's own SQL; every value goes as a parameter.
    sql = " ".join(
        ["SELECT", selected, f"FROM ({page_sql}) p LEFT JOIN", keys, f"ORDER BY p.{ids[0]}"]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    start = first_value - 1
    if rows and any(not isinstance(v, bytes | None) for v in rows[0][start:]):
        rows = [(*row[:start], *map(_as_bytes, row[start:])) for row in rows]
    return rows


def _as_bytes(value):
    return None if value is None else bytes(value)
