"""Encrypted backups that expire.

A backup is one file: a header, a nonce, and AES-256-GCM over a compressed archive holding the
database snapshot and a manifest, under a backup key from the keyring. The keyring is never
inside a backup.

File format 2 (``SHIORI-BACKUP-2``): the magic line, then the id of the backup key it was
sealed with and a newline; the whole header is the cipher's associated data, so the id cannot
be changed without the file failing its check, and the right key is chosen among the
keyring's backup keys (`keys rotate-backup-key` adds one; old backups stay readable while the
keyring holds theirs). Format 1 files (magic only) were sealed with a v1 keyring's single
backup key, which a keyring read from v1 calls ``backup-v1``.

The manifest (format 2) records ``created_at``, ``expires_at`` (``BOOKSHOP_BACKUP_KEEP_DAYS``
later), ``backup_key_id`` and ``kek_ids``: every key-encryption key that wraps a data key in
the snapshot, read from the snapshot itself, so it is exactly what a restore of it needs.
For a format 1 backup they are worked out when it is opened (the key ids read from its
snapshot: the SQLite image, or the COPY block of the data-key table in a PostgreSQL dump).

``BOOKSHOP_BACKUP_DIR`` holds the kept backups (``*.backup``). ``kept_backups`` lists those
not yet expired, ``backups_needing`` those that need one key (so that `keys retire` refuses to
destroy it), ``prune`` deletes the expired ones. A file there that cannot be opened (damaged,
not a Shiori backup, sealed with a backup key this keyring never held) makes
``kept_backups`` raise ``BackupError`` naming it: whether it needs a key cannot be known, so
nothing that depends on the answer may guess. A backup sealed with a backup key that was
retired (the keyring records it) is dead by design: it is not a kept backup, ``scan`` lists
it as such and ``prune`` deletes it.

Restoring is privacy.ops.restore."""

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess  # noqa: S404 - pg_dump, with fixed arguments
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from privacy.vault import crypto, keyring
from privacy.vault.models import DataKey

MAGIC_V1 = b"SHIORI-BACKUP-1\n"
AAD_V1 = b"shiori backup v1"
MAGIC = b"SHIORI-BACKUP-2\n"
MANIFEST_FORMAT = 2
SUFFIX = ".backup"
_KEY_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
_TAG_BYTES = 16


class BackupError(Exception):
    """The backup is damaged, truncated, not ours, or cannot be restored here."""


@dataclass(frozen=True)
class KeptBackup:
    path: Path
    created_at: datetime
    expires_at: datetime
    kek_ids: frozenset[str]
    backup_key_id: str


@dataclass(frozen=True)
class Unreadable:
    """A file in BOOKSHOP_BACKUP_DIR that cannot be opened, and why. ``retired_key`` is set
    when it was sealed with a backup key that `keys retire` destroyed (dead on purpose)."""

    path: Path
    reason: str
    retired_key: str | None = None


@dataclass(frozen=True)
class Scan:
    kept: list[KeptBackup]
    expired: list[KeptBackup]
    unreadable: list[Unreadable]


def backup_dir() -> Path:
    return Path(settings.BOOKSHOP_BACKUP_DIR)


def keep_for() -> timedelta:
    return timedelta(days=settings.BOOKSHOP_BACKUP_KEEP_DAYS)


def _pg_args(tool: str) -> tuple[list[str], dict]:
    settings_dict = connection.settings_dict
    args = [
        tool,
        "-h",
        settings_dict["HOST"] or "127.0.0.1",
        "-U",
        settings_dict["USER"] or "postgres",
    ]
    if settings_dict["PORT"]:
        args += ["-p", str(settings_dict["PORT"])]
    env = {**os.environ}
    if settings_dict["PASSWORD"]:
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
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


# SQLite's file header: bytes 18 and 19 are the write and read versions, 2 for WAL; an
# in-memory copy is opened with the rollback-journal numbers (privacy.ops.restore says why).
_SQLITE_FORMAT_VERSIONS = slice(18, 20)
_ROLLBACK, _WAL = b"\x01\x01", b"\x02\x02"


def _kek_ids_in_sqlite(data: bytes) -> frozenset[str]:
    image = bytearray(data)
    if bytes(image[_SQLITE_FORMAT_VERSIONS]) not in (_ROLLBACK, _WAL):
        raise BackupError("The snapshot is not a SQLite database.")
    image[_SQLITE_FORMAT_VERSIONS] = _ROLLBACK
    memory = sqlite3.connect(":memory:")
    try:
        memory.deserialize(bytes(image))
        table = DataKey._meta.db_table
        present = memory.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
        ).fetchone()
        if not present:
            return frozenset()
        rows = memory.execute(f'SELECT DISTINCT kek_id FROM "{table}"')  # noqa: S608  # nosec B608 - the model's own table name
        return frozenset(kek_id for (kek_id,) in rows)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"The SQLite snapshot cannot be read: {exc}.") from None
    finally:
        memory.close()


def _copy_unescape(value: bytes) -> str | None:
    """One field of COPY's text format: \\N is NULL, backslash escapes otherwise."""
    if value == b"\\N":
        return None
    text = value.decode()
    if "\\" not in text:
        return text
    escapes = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "b": "\b", "f": "\f", "v": "\v"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), text)


def _kek_ids_in_dump(data: bytes) -> frozenset[str]:
    """The kek_id column of the data-key table's COPY block in a plain pg_dump."""
    table = re.escape(DataKey._meta.db_table.encode())
    header = re.compile(
        rb'^COPY (?:"?public"?\.)?"?' + table + rb'"? \(([^)]*)\) FROM stdin;$', re.MULTILINE
    )
    match = header.search(data)
    if match is None:
        return frozenset()  # a database not migrated that far holds no data keys
    columns = [name.strip().strip('"') for name in match.group(1).decode().split(",")]
    if "kek_id" not in columns:
        raise BackupError("The dump's data-key table has no kek_id column.")
    at = columns.index("kek_id")
    found = set()
    position = match.end() + 1
    while True:
        end = data.find(b"\n", position)
        line = data[position : end if end != -1 else len(data)]
        if line == b"\\." or end == -1:
            break
        fields = line.split(b"\t")
        if len(fields) != len(columns):
            raise BackupError("The dump's data-key table is damaged (a row of the wrong width).")
        value = _copy_unescape(fields[at])
        if value is not None:
            found.add(value)
        position = end + 1
    return frozenset(found)


def kek_ids_in_snapshot(data: bytes, name: str) -> frozenset[str]:
    """Every key-encryption key id that wraps a data key in a snapshot."""
    if name.endswith(".sqlite3"):
        return _kek_ids_in_sqlite(data)
    if name.endswith(".sql"):
        return _kek_ids_in_dump(data)
    raise BackupError(f"Unknown snapshot {name!r}.")


def _counts() -> dict:
    from customers.models import Customer, SpecialOrder
    from privacy.audit.models import AuditLogEntry

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


def default_output(now: datetime | None = None) -> Path:
    """A new file in BOOKSHOP_BACKUP_DIR named by the shop's local time."""
    now = timezone.localtime(now or timezone.now())
    directory = backup_dir()
    name = f"shiori-{now:%Y-%m-%d-%H%M%S}"
    path = directory / f"{name}{SUFFIX}"
    number = 1
    while path.exists():
        number += 1
        path = directory / f"{name}-{number}{SUFFIX}"
    return path


def _header(backup_key_id: str) -> bytes:
    encoded = backup_key_id.encode("ascii")
    if not _KEY_ID.match(encoded):
        raise BackupError(f"Unusable backup key id {backup_key_id!r}.")
    return MAGIC + encoded + b"\n"


def create(output: Path | None = None, *, now: datetime | None = None) -> dict:
    """Write an encrypted, authenticated backup (into BOOKSHOP_BACKUP_DIR unless ``output``
    is given); returns its manifest, with ``path`` added."""
    now = now or timezone.now()
    output = output or default_output(now)
    ring = keyring.load()
    data, name = _snapshot()
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": now.isoformat(),
        "expires_at": (now + keep_for()).isoformat(),
        "backup_key_id": ring.active_backup_key_id,
        "kek_ids": sorted(kek_ids_in_snapshot(data, name)),
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
    header = _header(ring.active_backup_key_id)
    nonce = os.urandom(crypto.NONCE_BYTES)
    sealed = AESGCM(ring.backup_key).encrypt(nonce, archive.getvalue(), header)
    output.parent.mkdir(parents=True, exist_ok=True)
    # Written beside its place and renamed once whole: a crash leaves no half backup under a
    # backup's name (the .partial file is hidden from the listing).
    partial = output.with_name(f".{output.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(header + nonce + sealed)
            handle.flush()
            os.fsync(handle.fileno())
        if output.exists():
            raise BackupError(f"{output} exists; refusing to overwrite it.")
        try:
            os.link(partial, output)  # fails, rather than replaces, if the name was taken
        except FileExistsError:
            raise BackupError(f"{output} exists; refusing to overwrite it.") from None
        except OSError:  # a file system without hard links
            os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return {**manifest, "path": str(output)}


def _split(path: Path, blob: bytes) -> tuple[str | None, bytes, bytes]:
    """(backup key id or None for format 1, associated data, nonce + ciphertext)."""
    if blob.startswith(MAGIC):
        end = blob.find(b"\n", len(MAGIC))
        key_id = blob[len(MAGIC) : end] if end != -1 else b""
        if end == -1 or not _KEY_ID.match(key_id):
            raise BackupError(f"{path} is not a Shiori backup, or it is truncated.")
        header = blob[: end + 1]
        body = blob[end + 1 :]
        identity, aad = key_id.decode("ascii"), header
    elif blob.startswith(MAGIC_V1):
        body, identity, aad = blob[len(MAGIC_V1) :], None, AAD_V1
    else:
        raise BackupError(f"{path} is not a Shiori backup, or it is truncated.")
    if len(body) < crypto.NONCE_BYTES + _TAG_BYTES:
        raise BackupError(f"{path} is not a Shiori backup, or it is truncated.")
    return identity, aad, body


def backup_key_id_of(path: Path) -> str:
    """The backup key a file was sealed with, from its header (read, not yet checked)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(MAGIC) + 66)
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror}.") from None
    if head.startswith(MAGIC_V1):
        return keyring.BACKUP_V1_ID
    identity, _aad, _body = _split(path, head + b"\0" * (crypto.NONCE_BYTES + _TAG_BYTES))
    return identity


def open_backup(path: Path) -> tuple[dict, bytes]:
    """Decrypt and check a backup; returns (manifest, database bytes). The manifest of a
    format 1 backup is completed as format 2 describes it (``backup_key_id``, ``kek_ids``
    from its snapshot, ``expires_at`` from BOOKSHOP_BACKUP_KEEP_DAYS)."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror}.") from None
    identity, aad, body = _split(path, blob)
    ring = keyring.load()
    key_id = identity or keyring.BACKUP_V1_ID
    if key_id not in ring.backup_keys:
        when = ring.retired.get(key_id)
        if when is not None:
            raise BackupError(
                f"{path} was sealed with backup key {key_id}, retired on {when:%Y-%m-%d}: "
                "it can no longer be opened."
            )
        raise BackupError(
            f"{path} was sealed with backup key {key_id}, which the keyring {ring.path} does "
            "not hold: it was made with another keyring. Set BOOKSHOP_KEYRING to the keyring "
            "of the shop that made it."
        )
    nonce, sealed = body[: crypto.NONCE_BYTES], body[crypto.NONCE_BYTES :]
    try:
        plain = AESGCM(ring.backup_key_by_id(key_id)).decrypt(nonce, sealed, aad)
    except Exception:  # noqa: BLE001 - InvalidTag: altered, truncated, or another keyring
        raise BackupError(
            f"{path} failed its integrity check: it was altered or truncated, or it was made "
            "with another keyring (BOOKSHOP_KEYRING)."
        ) from None
    try:
        with zipfile.ZipFile(io.BytesIO(plain)) as zipped:
            manifest = json.loads(zipped.read("manifest.json"))
            data = zipped.read(manifest["file"])
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise BackupError(f"{path}: the archive inside is damaged.") from None
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise BackupError(f"{path}: the snapshot does not match its manifest checksum.")
    if identity is not None and manifest.get("backup_key_id") != identity:
        raise BackupError(f"{path}: its manifest names another backup key than its header.")
    if manifest.get("format", 1) < MANIFEST_FORMAT:
        created = datetime.fromisoformat(manifest["created_at"])
        manifest = {
            **manifest,
            "backup_key_id": key_id,
            "kek_ids": sorted(kek_ids_in_snapshot(data, manifest["file"])),
            "expires_at": (created + keep_for()).isoformat(),
        }
    return manifest, data


def describe(path: Path) -> KeptBackup:
    """Open a backup (checking it whole) and say what it is and when it expires: the time its
    manifest states, or sooner if BOOKSHOP_BACKUP_KEEP_DAYS was shortened since."""
    manifest, _data = open_backup(path)
    created = datetime.fromisoformat(manifest["created_at"])
    expires = min(datetime.fromisoformat(manifest["expires_at"]), created + keep_for())
    return KeptBackup(
        path=path,
        created_at=created,
        expires_at=expires,
        kek_ids=frozenset(manifest["kek_ids"]),
        backup_key_id=manifest["backup_key_id"],
    )


def _files() -> list[Path]:
    directory = backup_dir()
    if not directory.exists():
        return []
    if not directory.is_dir():
        raise BackupError(
            f"BOOKSHOP_BACKUP_DIR names {directory}, which is not a directory. Set "
            "BOOKSHOP_BACKUP_DIR to the folder the backups are kept in."
        )
    return sorted(
        p for p in directory.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith(".")
    )


def scan(now: datetime | None = None) -> Scan:
    """Every backup in BOOKSHOP_BACKUP_DIR, opened and checked: kept (not expired), expired,
    and those that cannot be opened, each in order of age (oldest first)."""
    now = now or timezone.now()
    ring = keyring.load()
    kept, expired, unreadable = [], [], []
    for path in _files():
        try:
            found = describe(path)
        except BackupError as exc:
            try:
                key_id = backup_key_id_of(path)
            except BackupError:
                key_id = None
            retired = key_id if key_id in ring.retired and key_id not in ring.backup_keys else None
            unreadable.append(Unreadable(path, str(exc), retired))
            continue
        (kept if found.expires_at > now else expired).append(found)
    kept.sort(key=lambda b: (b.created_at, b.path.name))
    expired.sort(key=lambda b: (b.created_at, b.path.name))
    return Scan(kept, expired, unreadable)


def _refuse_unreadable(found: Scan) -> None:
    problems = [u for u in found.unreadable if u.retired_key is None]
    if problems:
        lines = "\n".join(f"  {u.path}: {u.reason}" for u in problems)
        raise BackupError(
            f"These files in BOOKSHOP_BACKUP_DIR ({backup_dir()}) cannot be opened, so what they "
            f"need cannot be known:\n{lines}\nMove each out of the folder once you know what it "
            "is (or set BOOKSHOP_KEYRING to the keyring that opens it)."
        )


def kept_backups(now: datetime | None = None) -> list[KeptBackup]:
    """The unexpired backups in BOOKSHOP_BACKUP_DIR, oldest first. Raises ``BackupError``
    naming every file there that cannot be opened (damaged, not a backup, or sealed with a
    backup key this keyring never held). Files sealed with a backup key that was retired are
    not kept backups (nothing can open them); ``scan`` lists them and ``prune`` deletes them."""
    found = scan(now)
    _refuse_unreadable(found)
    return found.kept


def backups_needing(kind: str, key_id: str, now: datetime | None = None) -> list[KeptBackup]:
    """The kept backups that cannot be restored without this key: ``kind`` "kek" (a data key
    in the snapshot is wrapped by it) or "backup" (the file is sealed with it)."""
    if kind == "kek":
        return [b for b in kept_backups(now) if key_id in b.kek_ids]
    if kind == "backup":
        return [b for b in kept_backups(now) if b.backup_key_id == key_id]
    raise ValueError(f"kind must be 'kek' or 'backup', not {kind!r}")


def prune(now: datetime | None = None, *, scanned: Scan | None = None) -> list[Path]:
    """Delete the expired backups in BOOKSHOP_BACKUP_DIR, and those sealed with a backup key
    that was retired (they can no longer be opened). Returns the deleted files. Files that
    cannot be opened for any other reason are left alone (``scan`` reports them)."""
    found = scanned or scan(now)
    doomed = [b.path for b in found.expired]
    doomed += [u.path for u in found.unreadable if u.retired_key is not None]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
