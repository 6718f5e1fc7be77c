"""Encrypted backups. A backup is one file: a magic line, a nonce, and AES-256-GCM over a
compressed archive holding the database snapshot and a manifest (time, counts, schema,
checksum), under the backup key from the keyring. The keyring is never inside a backup.

A restore loads the snapshot into an empty database and then re-applies the erasure ledger,
so that a customer erased after the backup was taken stays erased."""

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess  # noqa: S404 - pg_dump and psql, with fixed arguments
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from privacy.vault import crypto, keyring

MAGIC = b"SHIORI-BACKUP-1\n"
AAD = b"shiori backup v1"


class BackupError(Exception):
    """The backup is damaged, truncated, not ours, or cannot be restored here."""


def _pg_args(tool: str) -> tuple[list[str], dict]:
    settings = connection.settings_dict
    args = [tool, "-h", settings["HOST"] or "127.0.0.1", "-U", settings["USER"] or "postgres"]
    if settings["PORT"]:
        args += ["-p", str(settings["PORT"])]
    env = {**os.environ}
    if settings["PASSWORD"]:
        env["PGPASSWORD"] = settings["PASSWORD"]
    if not shutil.which(tool):
        raise BackupError(f"{tool} is not installed; install the PostgreSQL client tools.")
    return args, env


def _snapshot() -> tuple[bytes, str]:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        copy = sqlite3.connect(":memory:")
        connection.connection.backup(copy)  # SQLite's online backup: a consistent copy
        data = copy.serialize()
        copy.close()
        return data, "database.sqlite3"
    if connection.vendor == "postgresql":
        args, env = _pg_args("pg_dump")
        # pg_dump runs in one repeatable-read transaction: a transaction-consistent dump.
        dump = subprocess.run(  # noqa: S603
            [*args, "--no-owner", "--no-privileges", connection.settings_dict["NAME"]],
            capture_output=True,
            env=env,
            check=False,
        )
        if dump.returncode != 0:
            raise BackupError(f"pg_dump failed: {dump.stderr.decode(errors='replace').strip()}")
        return dump.stdout, "database.sql"
    raise BackupError(f"No backup for {connection.vendor}.")


def _counts() -> dict:
    from customers.models import Customer, SpecialOrder
    from privacy.audit.models import AuditLogEntry
    from privacy.vault.models import DataKey

    return {
        "customers": Customer._base_manager.count(),
        "orders": SpecialOrder._base_manager.count(),
        "data_keys": DataKey.objects.count(),
        "audit_entries": AuditLogEntry.objects.count(),
    }


def _schema() -> dict:
    latest = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        latest[app] = max(latest.get(app, ""), name)
    return dict(sorted(latest.items()))


def create(output: Path) -> dict:
    """Write an encrypted, authenticated backup; returns its manifest."""
    data, name = _snapshot()
    manifest = {
        "format": 1,
        "created_at": timezone.now().isoformat(),
        "vendor": connection.vendor,
        "file": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "counts": _counts(),
        "schema": _schema(),
    }
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("manifest.json", json.dumps(manifest, indent=2))
        zipped.writestr(name, data)
    nonce = os.urandom(crypto.NONCE_BYTES)
    sealed = AESGCM(keyring.load().backup_key).encrypt(nonce, archive.getvalue(), AAD)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(MAGIC + nonce + sealed)
    return manifest


def open_backup(path: Path) -> tuple[dict, bytes]:
    """Decrypt and check a backup; returns (manifest, database bytes)."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror}.") from None
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + crypto.NONCE_BYTES + 16:
        raise BackupError(f"{path} is not a Shiori backup, or it is truncated.")
    nonce = blob[len(MAGIC) : len(MAGIC) + crypto.NONCE_BYTES]
    try:
        plain = AESGCM(keyring.load().backup_key).decrypt(
            nonce, blob[len(MAGIC) + crypto.NONCE_BYTES :], AAD
        )
    except Exception:  # noqa: BLE001 - InvalidTag: altered, truncated, or another keyring
        raise BackupError(
            f"{path} failed its integrity check: it was altered or truncated, or it was made "
            "with another keyring (BOOKSHOP_KEYRING)."
        ) from None
    with zipfile.ZipFile(io.BytesIO(plain)) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        data = zipped.read(manifest["file"])
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise BackupError(f"{path}: the snapshot does not match its manifest checksum.")
    return manifest, data


def restore(path: Path) -> dict:
    """Load a backup into this (empty) database, then re-apply the erasure ledger."""
    manifest, data = open_backup(path)
    if manifest["vendor"] != connection.vendor:
        raise BackupError(
            f"This backup is of a {manifest['vendor']} database; "
            f"DATABASE_URL points at {connection.vendor}."
        )
    if connection.introspection.table_names():
        raise BackupError("Restore needs an empty database; this one has tables.")
    if connection.vendor == "sqlite":
        connection.close()
        _load_sqlite(data, Path(connection.settings_dict["NAME"]))
    else:
        args, env = _pg_args("psql")
        loaded = subprocess.run(  # noqa: S603
            [*args, "-v", "ON_ERROR_STOP=1", "-q", "-d", connection.settings_dict["NAME"]],
            input=data,
            capture_output=True,
            env=env,
            check=False,
        )
        if loaded.returncode != 0:
            raise BackupError(
                f"psql failed: {loaded.stderr.decode(errors='replace').strip()[:500]}"
            )
    _guard_the_audit_log()
    erased = reapply_erasures()
    return {**manifest, "reapplied_erasures": erased}


# SQLite's file header: bytes 18 and 19 are the file format's write and read versions, 1 for
# a rollback journal and 2 for WAL (https://sqlite.org/fileformat2.html#file_format_version).
_SQLITE_FORMAT_VERSIONS = slice(18, 20)
_ROLLBACK, _WAL = b"\x01\x01", b"\x02\x02"


def _load_sqlite(data: bytes, target: Path) -> None:
    """Copy the snapshot into the (empty) database file with SQLite's backup API, and leave
    the file in the journal mode its source had (WAL, as the settings open it).

    A snapshot of a database in WAL mode keeps WAL's version numbers in its header; an
    in-memory database cannot be in WAL mode, and copying such pages into a file fails
    ("unable to open database file"). The snapshot is loaded with the rollback-journal
    numbers (the pages are otherwise untouched; its checksum was verified as it was stored),
    and WAL is switched on again once the file holds it."""
    header = data[_SQLITE_FORMAT_VERSIONS]
    if header not in (_ROLLBACK, _WAL):
        raise BackupError(f"The snapshot is not a SQLite database (format {header.hex()}).")
    image = bytearray(data)
    image[_SQLITE_FORMAT_VERSIONS] = _ROLLBACK
    source = sqlite3.connect(":memory:")
    destination = sqlite3.connect(target)
    try:
        source.deserialize(bytes(image))
        checked = source.execute("PRAGMA quick_check").fetchone()[0]
        if checked != "ok":
            raise BackupError(f"The snapshot fails SQLite's quick_check: {checked}.")
        # Into a file in WAL mode (as the settings made it), the copy cannot change its page
        # size: the empty target goes back to a rollback journal for the copy.
        destination.execute("PRAGMA journal_mode=DELETE")
        source.backup(destination)
        if header == _WAL:
            (mode,) = destination.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode != "wal":
                raise BackupError(f"{target} could not be put back in WAL mode ({mode}).")
    finally:
        destination.close()
        source.close()


def _guard_the_audit_log() -> None:
    """The snapshot carries the audit log's append-only triggers; install them again all the
    same (idempotent), so that a backup of a database that had lost them (SQLite before
    migration 0016) does not come back as a log anyone may rewrite."""
    from privacy.audit import guard

    if guard.TABLE in connection.introspection.table_names():
        guard.install(connection)
        if guard.missing(connection):
            raise BackupError("The restored database does not refuse changes to the audit log.")


def reapply_erasures() -> int:
    """Erase again every customer in the ledger who came back with the backup."""
    from customers.models import Customer
    from privacy.core import context
    from privacy.desks import erasure

    ids = erasure.erased_subjects()
    count = 0
    with context.scope():
        for customer in Customer._base_manager.filter(pk__in=ids, erased_at__isnull=True):
            erasure.erase_customer(customer, by=None, reapply=True)
            count += 1
    return count
