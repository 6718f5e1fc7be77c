"""Hash chain over the audit log: each entry carries a sequence number, the previous entry's
hash, and SHA-256 over that hash and a canonical serialization of the entry.

Writers take a lock so concurrent requests cannot fork the chain: a PostgreSQL advisory lock
held to the end of the transaction, or SQLite's write lock (transactions begin IMMEDIATE).
"""

import hashlib
import json
from datetime import UTC

from django.db import connection, transaction

GENESIS = "0" * 64
_ADVISORY_LOCK_ID = 0x5348494F  # "SHIO"


def canonical(entry) -> bytes:
    timestamp = entry.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = {
        "seq": entry.seq,
        "timestamp": timestamp,
        "content_type": entry.content_type_id,
        "object_pk": entry.object_pk,
        "object_repr": entry.object_repr,
        "action": entry.action,
        "event": entry.event,
        "changes": entry.changes,
        "serialized_data": entry.serialized_data,
        "additional_data": entry.additional_data,
        "actor": entry.actor_id,
        "remote_addr": entry.remote_addr,
        "cid": entry.cid,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(prev_hash: str, entry) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(entry)).hexdigest()


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_ID])


def head(model) -> tuple[int, str]:
    last = model.objects.order_by("-seq").values_list("seq", "entry_hash").first()
    return last if last else (0, GENESIS)


def append(entries: list) -> list:
    """Chain and insert audit entries in one statement, under the chain lock."""
    if not entries:
        return entries
    from privacy import audit

    model = type(entries[0])
    with transaction.atomic():
        _lock()
        seq, prev = head(model)
        for entry in entries:
            audit.fill_from_context(entry)
            entry.object_pk = str(entry.object_pk)
            seq += 1
            entry.seq = seq
            entry.prev_hash = prev
            entry.entry_hash = prev = entry_hash(prev, entry)
        model.objects.bulk_create(entries)
    return entries
