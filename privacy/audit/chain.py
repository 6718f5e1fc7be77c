"""Hash chain over the audit log: each entry carries a sequence number, the previous entry's
hash, and SHA-256 over that hash and a canonical serialization of the entry.

Two writers can never fork the chain. Inside a transaction (a service that changes data and
logs it), a writer takes the chain lock first: a PostgreSQL advisory lock held to the end of
the transaction, or SQLite's write lock (transactions begin IMMEDIATE). Outside one (the read
entries of a page), a writer reads the head, then inserts in one statement that commits by
itself and takes the lock first (PostgreSQL: in the statement; SQLite: as every write does).
``seq`` is unique: if another writer extended the chain between the read and the insert,
the insert fails, and the writer reads the new head and tries again. A transaction's writer
holds the lock from its read of the head to its commit, so it is never overtaken. The page
saves a BEGIN, a round trip for the lock and a COMMIT.

Checkpoints (head and count, signed with a key from the keyring) are kept outside the
database, so that cutting off the tail of the log shows too.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC

from django.db import IntegrityError, connection, transaction

from privacy.audit.models import AuditLogEntry
from privacy.core import context
from privacy.core.prepared import prepared

GENESIS = "0" * 64
_ADVISORY_LOCK_ID = 0x5348494F  # "SHIO"

HASHED_FIELDS = (
    "seq",
    "timestamp",
    "content_type_id",
    "object_pk",
    "object_id",
    "object_repr",
    "action",
    "event",
    "changes",
    "changes_text",
    "serialized_data",
    "additional_data",
    "actor_id",
    "actor_email",
    "remote_addr",
    "remote_port",
    "cid",
)


# json.dumps with these options would build a new encoder for every entry.
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _utc_text(moment) -> str:
    """The timestamp as hashed: UTC, microseconds, a final Z (strftime's format, faster)."""
    moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime's own rendering of such years, kept as it was
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031 - speed
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def _canonical_payload(payload: dict) -> bytes:
    """Serialize an entry's hashed fields; ``payload`` is changed in place."""
    payload["timestamp"] = _utc_text(payload["timestamp"])
    return _ENCODER.encode(payload).encode()


def _canonical_values(values: dict) -> bytes:
    return _canonical_payload(dict(values))


def canonical(entry) -> bytes:
    return _canonical_values({name: getattr(entry, name) for name in HASHED_FIELDS})


def link_hash(prev_hash: str, canonical_bytes: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_bytes).hexdigest()


def entry_hash(prev_hash: str, entry) -> str:
    return link_hash(prev_hash, canonical(entry))


# PostgreSQL: the chain lock and the head in one round trip. A VOLATILE function reads with a
# fresh snapshot in each statement, so the head is read after the lock is held: a writer
# that committed while this one waited is seen. (One SELECT that took the lock and read the
# head would read with the snapshot taken before the wait, and fork the chain.)
_HEAD_FUNCTION_SQL = """
    CREATE OR REPLACE FUNCTION privacy_audit_chain_head(lock_id bigint, OUT seq bigint,
        OUT hash text)
    AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock(lock_id);
        SELECT e.seq, e.entry_hash INTO seq, hash
            FROM privacy_auditlogentry e ORDER BY e.seq DESC LIMIT 1;
    END
    $$ LANGUAGE plpgsql VOLATILE
"""


def install_head_function(connection) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_HEAD_FUNCTION_SQL)


def remove_head_function(connection) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP FUNCTION IF EXISTS privacy_audit_chain_head(bigint)")


def _locked_head(model) -> tuple[int, str]:
    """Take the chain lock (PostgreSQL: an advisory lock to the end of the transaction;
    SQLite: the write lock its IMMEDIATE transactions already hold), then read the head."""
    if connection.vendor != "postgresql":
        return head(model)
    with connection.cursor() as cursor:
        if model is AuditLogEntry:
            cursor.execute(
                "SELECT seq, hash FROM privacy_audit_chain_head(%s)", [_ADVISORY_LOCK_ID]
            )
            seq, last_hash = cursor.fetchone()
            return (seq, last_hash) if seq is not None else (0, GENESIS)
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_ID])
    return head(model)


def _last_entry(model):
    return model.objects.order_by("-seq").values_list("seq", "entry_hash")[:1]


@prepared()
def _last_log_entry():
    return _last_entry(AuditLogEntry)


def head(model=None) -> tuple[int, str]:
    """The newest entry's sequence number and hash (the genesis before the first entry)."""
    if model is None or model is AuditLogEntry:
        last = _last_log_entry()
    else:
        last = list(_last_entry(model))
    return last[0] if last else (0, GENESIS)


_HEAD_SEQ, _HEAD_HASH = "_chain_head_seq", "_chain_head_hash"


def with_head(queryset):
    """The rows with the chain's head, read in the same query (two subqueries on the seq
    index, asked once whatever the number of rows): the page that shows them appends its
    read entries without asking for the head again (``adopt_head``)."""
    from django.db.models import Subquery

    last = AuditLogEntry.objects.order_by("-seq")
    return queryset.annotate(
        **{
            _HEAD_SEQ: Subquery(last.values("seq")[:1]),
            _HEAD_HASH: Subquery(last.values("entry_hash")[:1]),
        }
    )


def adopt_head(instances) -> None:
    """Keep the head that ``with_head`` read for this request's next lock-free append. It
    is a guess, nothing more: if another writer has gone on since, the append's insert
    fails on ``seq`` and it reads the head again."""
    scope = context.current()
    found = None
    for instance in instances:
        values = instance.__dict__
        found = (values.pop(_HEAD_SEQ, None) or 0, values.pop(_HEAD_HASH, None) or GENESIS)
    if scope is not None and found is not None:
        scope.chain_head = found


def _guessed_head(model):
    """The head a page's query read (once), for the first try of a lock-free append."""
    scope = context.current()
    if scope is None or scope.chain_head is None or model is not AuditLogEntry:
        return None
    guess, scope.chain_head = scope.chain_head, None
    return guess


# Tries of the lock-free append before it waits for the lock like a transaction's writer.
_OPTIMISTIC_TRIES = 3


def append(entries: list) -> list:
    """Chain and insert audit entries in one statement: under the chain lock inside a
    transaction, lock-free (see above) outside one."""
    if not entries:
        return entries
    model = type(entries[0])
    lock_free = connection.get_autocommit() and not connection.in_atomic_block
    if lock_free and _batch_size(model, entries) >= len(entries):
        guess = _guessed_head(model)
        for _ in range(_OPTIMISTIC_TRIES):
            first = _chain(entries, *(guess or head(model)))
            guess = None
            try:
                # The INSERT waits for the chain lock: a transaction's writer, which read
                # the head under the lock, never finds its place taken.
                _insert(model, entries, lock=True)
            except IntegrityError:
                if head(model)[0] < first:  # nobody took our place: another error
                    raise
            else:
                return entries
    with transaction.atomic():
        _chain(entries, *_locked_head(model))
        _insert(model, entries)
    return entries


def fill_from_context(entry) -> None:
    """Fill who, from where and in which request from the current scope, where the entry
    does not say it: for the entries the log module builds and for those django-auditlog
    builds itself (the write log)."""
    scope = context.current()
    if scope is None:
        return
    if entry.actor_id is None and getattr(scope.actor, "is_authenticated", False):
        entry.actor = scope.actor
    if not entry.remote_addr:
        entry.remote_addr = scope.remote_addr
    if not entry.cid:
        entry.cid = scope.cid


def _chain(entries: list, seq: int, prev: str) -> int:
    """Number and hash the entries after the head (``seq``, ``prev``); returns the first
    entry's number."""
    first = seq + 1
    for entry in entries:
        fill_from_context(entry)
        entry.object_pk = str(entry.object_pk)
        seq += 1
        entry.seq = seq
        entry.prev_hash = prev
        entry.entry_hash = prev = entry_hash(prev, entry)
    return first


def _batch_size(model, entries: list) -> int:
    """How many entries one INSERT takes here."""
    if connection.vendor == "postgresql":
        return 10_000
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    return max(1, connection.ops.bulk_batch_size(fields, entries))


def _insert(model, entries: list, *, lock: bool = False) -> None:
    """``bulk_create`` for log entries, without its per-value compiler work: each value goes
    through its field's own ``get_db_prep_save`` as there (but for text and whole numbers,
    which it hands over unchanged), then one INSERT per batch. On PostgreSQL, a batch goes
    in as ``INSERT ... SELECT``: one value for each column its entries share, an array
    through UNNEST (as Django's own bulk_create there) only for the others. The read
    entries of a page differ only in whom they name, their place in the chain and their
    hashes: five arrays and fourteen values stand for fifty rows (half the time of nineteen
    arrays). ``lock``: the statement itself takes the chain lock first (the lock-free
    append). Elsewhere, rows of values. The new ids come back (RETURNING) where the database
    can say them."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    head_sql = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    returning = connection.features.can_return_rows_from_bulk_insert
    tail = f" RETURNING {quote(meta.pk.column)}" if returning else ""
    size = _batch_size(model, entries)
    values_of = _row_values(fields)
    with connection.cursor() as cursor:
        for start in range(0, len(entries), size):
            chunk = entries[start : start + size]
            rows = values_of(chunk)
            if connection.vendor == "postgresql":
                body, params = _postgres_select(fields, chunk, rows, lock=lock)
            else:  # SQLite: its write lock comes with every write
                one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
                body = "VALUES " + ", ".join([one_row] * len(chunk))
                params = [value for row in rows for value in row]
            cursor.execute(f"{head_sql} {body}{tail}", params)
            if returning:
                for entry, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                    entry.pk = pk
            for entry in chunk:
                entry._state.adding = False
                entry._state.db = connection.alias


def _row_values(fields):
    """A function from entries to their rows of database values. The read entries of one
    page are copies of one entry: they share their timestamp and their context object by
    object, so each such value is prepared once. (Keyed by the value's identity: every
    entry, and so every value, lives until the insert is done.)"""
    preps = [(f.attname, f.get_db_prep_save, _passes_through(f)) for f in fields]
    prepared = {}

    def rows(chunk) -> list[list]:
        out = []
        for entry in chunk:
            values, row = entry.__dict__, []
            for attname, prep, plain in preps:
                value = values[attname]
                if type(value) not in plain:
                    key = (attname, id(value))
                    done = prepared.get(key)
                    if done is None:
                        done = prepared[key] = (prep(value, connection),)
                    value = done[0]
                row.append(value)
            out.append(row)
        return out

    return rows


def _postgres_select(fields, chunk, rows, *, lock: bool) -> tuple[str, list]:
    """The ``SELECT`` of a batch's INSERT: a cast value for each column that holds one value
    in every entry (compared as the entries hold them), an UNNEST column for the others; a
    single row is values only. With ``lock``, the chain lock is taken before any row."""
    selected, arrays, scalars, varying = [], [], [], []
    for i, field in enumerate(fields):
        cast = field.db_type(connection).split("(")[0]
        first = chunk[0].__dict__[field.attname]
        if all(
            type(e.__dict__[field.attname]) is type(first) and e.__dict__[field.attname] == first
            for e in chunk
        ):
            selected.append(f"(%s)::{cast}")
            scalars.append(rows[0][i])
        else:
            selected.append(f"u.c{len(varying)}")
            arrays.append(f"(%s)::{cast}[]")
            varying.append([row[i] for row in rows])
    if len(chunk) > 1 and not varying:  # never for chain entries: each has its own seq
        raise ValueError("A batch of identical rows cannot go through UNNEST.")
    sources, params = [], scalars
    if lock:
        sources.append("(SELECT pg_advisory_xact_lock(%s)) AS chain_lock")
        params.append(_ADVISORY_LOCK_ID)
    if varying:
        names = ", ".join(f"c{k}" for k in range(len(varying)))
        sources.append(f"UNNEST({', '.join(arrays)}) AS u({names})")
        params.extend(varying)
    body = f"SELECT {', '.join(selected)}"
    if sources:
        body += f" FROM {', '.join(sources)}"
    return body, params


_PLAIN_TYPES = {
    "CharField": (str, type(None)),
    "TextField": (str, type(None)),
    "BigIntegerField": (int, type(None)),
    "IntegerField": (int, type(None)),
    "PositiveIntegerField": (int, type(None)),
    "PositiveSmallIntegerField": (int, type(None)),
    "ForeignKey": (int, type(None)),
    "AutoField": (int, type(None)),
    "BigAutoField": (int, type(None)),
}


def _passes_through(field) -> tuple:
    """Value types this field's ``get_db_prep_save`` returns unchanged (text as text, a
    whole number as itself): those skip the call. Everything else (JSON, dates, addresses)
    goes through it."""
    kind = field.get_internal_type()
    if kind == "ForeignKey" and field.target_field.get_internal_type() not in _PLAIN_TYPES:
        return ()
    return _PLAIN_TYPES.get(kind, ())


@dataclass
class Verification:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problem: str = ""
    broken_seq: int | None = None


def verify(*, checkpoints: list[dict] | None = None, batch: int = 5000) -> Verification:
    """Walk the whole chain in order. Names the first broken entry and how it broke."""
    fields = [*HASHED_FIELDS, "prev_hash", "entry_hash"]
    hashed = len(HASHED_FIELDS)
    seq_at = HASHED_FIELDS.index("seq")
    prev_hash, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    queryset = AuditLogEntry.objects.order_by("seq").values_list(*fields)
    for row in queryset.iterator(chunk_size=batch):
        seq = row[seq_at]
        if seq != expected_seq:
            return Verification(
                False,
                count,
                last_seq,
                prev_hash,
                f"entry {expected_seq} is missing (the next entry is {seq})",
                expected_seq,
            )
        if row[hashed] != prev_hash:
            return Verification(
                False,
                count,
                last_seq,
                prev_hash,
                f"entry {seq} does not follow entry {seq - 1} (previous hash differs)",
                seq,
            )
        stored = row[hashed + 1]
        payload = dict(zip(HASHED_FIELDS, row[:hashed], strict=True))
        if link_hash(prev_hash, _canonical_payload(payload)) != stored:
            return Verification(
                False,
                count,
                last_seq,
                prev_hash,
                f"entry {seq} was changed after it was written (hash differs)",
                seq,
            )
        prev_hash, last_seq, expected_seq, count = stored, seq, seq + 1, count + 1
    for checkpoint in checkpoints or []:
        if checkpoint["seq"] > last_seq:
            return Verification(
                False,
                count,
                last_seq,
                prev_hash,
                f"the log was cut off: a checkpoint holds entry {checkpoint['seq']}, "
                f"the log ends at entry {last_seq}",
                last_seq + 1,
            )
        found = (
            AuditLogEntry.objects.filter(seq=checkpoint["seq"])
            .values_list("entry_hash", flat=True)
            .first()
        )
        if found != checkpoint["hash"]:
            return Verification(
                False,
                count,
                last_seq,
                prev_hash,
                f"entry {checkpoint['seq']} differs from its signed checkpoint",
                checkpoint["seq"],
            )
    return Verification(True, count, last_seq, prev_hash)


def sign_checkpoint(key: bytes, seq: int, head_hash: str, at: str) -> str:
    message = f"shiori-audit-checkpoint-v1|{seq}|{head_hash}|{at}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# A new entry's save() appends it here (the model cannot import this module: see
# AuditLogEntry.append_to_chain).
AuditLogEntry.append_to_chain = staticmethod(append)
