"""Restore: load an encrypted backup into an empty database, then re-apply the erasure
ledger, so that a customer erased after the backup was taken stays erased.

A restore never half-loads. Everything is checked before a byte is written to the target:

1. the file: its header, its integrity (AES-GCM), its manifest's checksum, and the snapshot
   itself (SQLite: opened in memory, ``quick_check``; PostgreSQL: the dump is whole, and its
   data-key table's COPY block parses);
2. the engine: the backup's vendor against DATABASE_URL's;
3. the target: a database with no tables;
4. the keyring: the erasure ledger verifies line by line with the audit keys that signed it;
   every key-encryption key (KEK) the snapshot's data keys need is held, and opens each of
   them (the data keys of customers in the ledger excepted: the restore destroys them). The
   key ids are read from the snapshot itself, not only from the manifest (old backups have
   none).

A missing key is named, with the backup that needs it, and nothing is loaded. After the load
the remaining steps (the audit log's guard, the ledger, the restore's own audit event and the
signed restore line that starts a new checkpoint lineage) need no key that was not checked;
should one fail all the same, the error says so and how to get back to an empty target."""

import sqlite3
import subprocess  # noqa: S404 - psql, with fixed arguments
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import DatabaseError, connection

from privacy.ops import backup
from privacy.ops.backup import BackupError, _copy_unescape, _pg_args
from privacy.vault import crypto, datakeys, keyring
from privacy.vault.models import DataKey

RESTORED_EVENT = "privacy.backup.restored"


class RestoreFailedAfterLoad(BackupError):
    """The snapshot was loaded, then a later step failed: the target is not usable as is."""


@dataclass(frozen=True)
class WrappedKey:
    subject_id: uuid.UUID
    kek_id: str
    wrapped: bytes


# --- 1. the snapshot, read before anything is loaded ---------------------------------------

# SQLite's file header: bytes 18 and 19 are the file format's write and read versions, 1 for
# a rollback journal and 2 for WAL (https://sqlite.org/fileformat2.html#file_format_version).
_SQLITE_FORMAT_VERSIONS = slice(18, 20)
_ROLLBACK, _WAL = b"\x01\x01", b"\x02\x02"


def _open_sqlite_snapshot(path: Path, data: bytes) -> sqlite3.Connection:
    """The snapshot as an in-memory database, checked (``quick_check``).

    A snapshot of a database in WAL mode keeps WAL's version numbers in its header; an
    in-memory database cannot be in WAL mode, and copying such pages into a file fails
    ("unable to open database file"). The snapshot is opened with the rollback-journal
    numbers (the pages are otherwise untouched; its checksum was verified as it was stored),
    and WAL is switched on again once the target file holds it."""
    header = data[_SQLITE_FORMAT_VERSIONS]
    if header not in (_ROLLBACK, _WAL):
        raise BackupError(f"{path}: the snapshot is not a SQLite database. Nothing was loaded.")
    image = bytearray(data)
    image[_SQLITE_FORMAT_VERSIONS] = _ROLLBACK
    source = sqlite3.connect(":memory:")
    try:
        source.deserialize(bytes(image))
        checked = source.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        source.close()
        raise BackupError(
            f"{path}: the SQLite snapshot cannot be read ({exc}). Nothing was loaded."
        ) from None
    if checked != "ok":
        source.close()
        raise BackupError(
            f"{path}: the snapshot fails SQLite's quick_check ({checked}). Nothing was loaded."
        )
    return source


def _sqlite_data_keys(source: sqlite3.Connection) -> list[WrappedKey]:
    table = DataKey._meta.db_table
    present = source.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    ).fetchone()
    if not present:
        return []
    rows = source.execute(f'SELECT subject_id, kek_id, wrapped FROM "{table}"')  # noqa: S608  # nosec B608 - the model's own table name
    return [WrappedKey(uuid.UUID(str(s)), k, bytes(w)) for s, k, w in rows]


def _bytea(text: str) -> bytes:
    if not text.startswith("\\x"):
        raise ValueError("not hex bytea")
    return bytes.fromhex(text[2:])


def _dump_data_keys(path: Path, data: bytes) -> list[WrappedKey]:
    """The data-key table's rows from a plain pg_dump's COPY block (text format)."""
    import re

    table = re.escape(DataKey._meta.db_table.encode())
    header = re.compile(
        rb'^COPY (?:"?public"?\.)?"?' + table + rb'"? \(([^)]*)\) FROM stdin;$', re.MULTILINE
    )
    match = header.search(data)
    if match is None:
        return []
    columns = [name.strip().strip('"') for name in match.group(1).decode().split(",")]
    damaged = BackupError(f"{path}: the dump's data-key table is damaged. Nothing was loaded.")
    if not {"subject_id", "kek_id", "wrapped"} <= set(columns):
        raise damaged
    at = [columns.index(name) for name in ("subject_id", "kek_id", "wrapped")]
    found, position = [], match.end() + 1
    while True:
        end = data.find(b"\n", position)
        if end == -1:
            raise damaged  # the block never ends: truncated
        line = data[position:end]
        if line == b"\\.":
            return found
        fields = line.split(b"\t")
        if len(fields) != len(columns):
            raise damaged
        try:
            subject, kek_id, wrapped = (_copy_unescape(fields[i]) for i in at)
            found.append(WrappedKey(uuid.UUID(subject), kek_id, _bytea(wrapped)))
        except (ValueError, TypeError, AttributeError, UnicodeDecodeError):
            raise damaged from None
        position = end + 1


def _check_dump(path: Path, data: bytes) -> None:
    if b"-- PostgreSQL database dump complete" not in data[-4096:]:
        raise BackupError(
            f"{path}: the PostgreSQL dump inside is not complete (pg_dump did not finish). "
            "Nothing was loaded."
        )


# --- 2. the keyring, checked against what the snapshot needs -------------------------------


def _check_keys(path: Path, manifest: dict, keys: list[WrappedKey], erased: set[str]) -> None:
    ring = keyring.load()
    made = manifest.get("created_at", "?")
    needed = [k for k in keys if str(k.subject_id) not in erased]
    missing: dict[str, int] = {}
    for key in needed:
        if key.kek_id not in ring.keks:
            missing[key.kek_id] = missing.get(key.kek_id, 0) + 1
    if missing:
        kek_id, count = sorted(missing.items())[0]
        retired = ring.retired.get(kek_id)
        why = f", retired on {retired:%Y-%m-%d}" if retired else ""
        raise BackupError(
            f"{path} (made {made}) needs key-encryption key {kek_id}{why}, which is not in "
            f"the keyring {ring.path}: {count} data keys in it are wrapped by it"
            + (f" (and {len(missing) - 1} other keys are missing too)" if len(missing) > 1 else "")
            + ". Set BOOKSHOP_KEYRING to a keyring copy that still holds it, or restore a "
            "newer backup. Nothing was loaded."
        )
    keks: dict[str, AESGCM] = {}
    for key in needed:
        kek = keks.get(key.kek_id)
        if kek is None:
            kek = keks[key.kek_id] = ring.kek_aead(key.kek_id)
        try:
            datakeys.open_wrapped(kek, key.subject_id, key.wrapped)
        except crypto.DecryptionError:
            raise BackupError(
                f"{path} (made {made}): key-encryption key {key.kek_id} in the keyring "
                f"{ring.path} does not open the data keys it should: this is another keyring "
                "with the same key id. Set BOOKSHOP_KEYRING to this shop's keyring. Nothing "
                "was loaded."
            ) from None


def _ledger_subjects() -> set[str]:
    from privacy.desks import erasure

    try:
        return {line.subject for line in erasure.read_ledger()}
    except erasure.LedgerError as exc:
        raise BackupError(
            f"The erasure ledger cannot be trusted: {exc}. A restore must know whom to erase "
            "again; put back the ledger's safe copy (BOOKSHOP_ERASURE_LEDGER). Nothing was "
            "loaded."
        ) from None


def _target_name() -> str:
    return str(connection.settings_dict["NAME"])


# --- 3. the load and what follows it ----------------------------------------------------------


def _back_to_empty() -> str:
    name = _target_name()
    if connection.vendor == "sqlite":
        return f"delete {name} (and {name}-wal, {name}-shm) and run the restore again"
    return (
        f"drop and create the database again (dropdb {name}; createdb {name}) and run the "
        "restore again"
    )


def _copy_sqlite(source: sqlite3.Connection, data: bytes, target: Path) -> None:
    destination = sqlite3.connect(target)
    try:
        # Into a file in WAL mode (as the settings made it), the copy cannot change its page
        # size: the empty target goes back to a rollback journal for the copy.
        destination.execute("PRAGMA journal_mode=DELETE")
        source.backup(destination)
        if data[_SQLITE_FORMAT_VERSIONS] == _WAL:
            (mode,) = destination.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode != "wal":
                raise RestoreFailedAfterLoad(
                    f"{target} was loaded but could not be put back in WAL mode ({mode})."
                )
    finally:
        destination.close()


def _load_postgresql(path: Path, data: bytes) -> None:
    args, env = _pg_args("psql")
    loaded = subprocess.run(  # noqa: S603
        [
            *args,
            "-v",
            "ON_ERROR_STOP=1",
            "--single-transaction",  # all of the dump, or nothing
            "-q",
            "-d",
            _target_name(),
        ],
        input=data,
        capture_output=True,
        env=env,
        check=False,
    )
    if loaded.returncode != 0:
        raise BackupError(
            f"psql could not load {path} into {_target_name()} (nothing was kept: it ran in "
            f"one transaction): {loaded.stderr.decode(errors='replace').strip()[:500]}"
        )


def _guard_the_audit_log() -> None:
    """The snapshot carries the audit log's append-only triggers; install them again all the
    same (idempotent), so that a backup of a database that had lost them (SQLite before
    migration 0016) does not come back as a log anyone may rewrite."""
    from privacy.audit import guard

    if guard.TABLE in connection.introspection.table_names():
        guard.install(connection)
        if guard.missing(connection):
            raise RestoreFailedAfterLoad(
                "The restored database does not refuse changes to the audit log."
            )


def reapply_erasures(subjects: set[str] | None = None) -> int:
    """Erase again every customer in the ledger who came back with the backup. Needs no key:
    erasing clears fields and deletes the data key, it decrypts nothing."""
    from customers.models import Customer
    from privacy.core import context
    from privacy.desks import erasure

    ids = erasure.erased_subjects() if subjects is None else subjects
    count = 0
    with context.scope():
        for customer in Customer._base_manager.filter(pk__in=ids, erased_at__isnull=True):
            erasure.erase_customer(customer, by=None, reapply=True)
            count += 1
    return count


def _record_the_restore(path: Path, manifest: dict, reapplied: int) -> dict:
    """The restore's event in the chain (which file, when it was made, the head it brought
    back), and the signed restore line that starts the new checkpoint lineage."""
    from privacy.audit import chain as audit_chain
    from privacy.audit import checkpoints
    from privacy.audit import log as audit
    from privacy.core import context

    head_seq, head_hash = audit_chain.head()
    data = {
        "backup": path.name,
        "backup_created_at": manifest.get("created_at"),
        "backup_head_seq": head_seq,
        "backup_head_hash": head_hash,
        "reapplied_erasures": reapplied,
    }
    with context.scope():
        entry = audit.record(RESTORED_EVENT, data=data)
    return checkpoints.write_restore_line(entry, data)


def restore(path: Path) -> dict:
    """Check everything, then load the backup into this (empty) database, re-apply the
    erasure ledger and record the restore. Raises BackupError before loading anything when a
    check fails; RestoreFailedAfterLoad (with the way back) when a later step fails."""
    manifest, data = backup.open_backup(path)
    if manifest["vendor"] != connection.vendor:
        raise BackupError(
            f"{path} is a backup of a {manifest['vendor']} database; DATABASE_URL points at "
            f"{connection.vendor}. Set DATABASE_URL to an empty {manifest['vendor']} database. "
            "Nothing was loaded."
        )
    try:
        tables = connection.introspection.table_names()
    except DatabaseError as exc:
        raise BackupError(f"DATABASE_URL cannot be reached: {exc}. Nothing was loaded.") from None
    if tables:
        raise BackupError(
            f"Restore needs an empty database; DATABASE_URL names {_target_name()}, which has "
            f"{len(tables)} tables. Create a new database and point DATABASE_URL at it. "
            "Nothing was loaded."
        )
    erased = _ledger_subjects()
    source = None
    try:
        if connection.vendor == "sqlite":
            source = _open_sqlite_snapshot(path, data)
            keys = _sqlite_data_keys(source)
        else:
            _check_dump(path, data)
            keys = _dump_data_keys(path, data)
        _check_keys(path, manifest, keys, erased)
        # Everything is checked: load.
        if source is not None:
            connection.close()
            try:
                _copy_sqlite(source, data, Path(_target_name()))
            except sqlite3.Error as exc:
                raise RestoreFailedAfterLoad(
                    f"Copying {path} into {_target_name()} failed: {exc}. Do not use this "
                    f"database: {_back_to_empty()}."
                ) from None
        else:
            _load_postgresql(path, data)
    finally:
        if source is not None:
            source.close()
    try:
        _guard_the_audit_log()
        reapplied = reapply_erasures(erased)
        line = _record_the_restore(path, manifest, reapplied)
    except Exception as exc:
        raise RestoreFailedAfterLoad(
            f"{path} was loaded into {_target_name()}, but a step after the load failed: "
            f"{exc}. Do not use this database: {_back_to_empty()}."
        ) from exc
    return {**manifest, "reapplied_erasures": reapplied, "restore_line": line}
