"""The keyring file: key-encryption keys (KEKs) by id, the active id, and the keys for blind
indexes, backups and audit checkpoints. It lives outside the database and its backups.

Format v2 (``shiori-keyring-v2``, written since key epochs): several backup keys and several
audit keys, each by id with one active, and the creation time of every key, so that each can
be rotated and the old ones kept as long as something still needs them (a kept backup, an old
checkpoint). Files in format v1 (one backup key, one audit key, no times) are still read:
their single keys get the stable ids ``backup-v1`` and ``audit-v1``, and their times are
taken from the oldest KEK id (``kek-YYYYMMDD-…``, the day the keyring was made). The next
write (any rotation) stores the file as v2.
"""

import base64
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from privacy.vault import crypto

FORMAT_V1 = "shiori-keyring-v1"
FORMAT = "shiori-keyring-v2"
FORMATS = (FORMAT_V1, FORMAT)

# The ids a v1 keyring's single keys are known by once read.
BACKUP_V1_ID = "backup-v1"
AUDIT_V1_ID = "audit-v1"
# The name the blind-index root's creation time is kept under (it has no id: one at a time).
INDEX_ROOT_NAME = "index_root"

_DATED_ID = re.compile(r"^(?:kek|backup|audit)-(\d{8})-[0-9a-f]+$")


class KeyringError(ImproperlyConfigured):
    """The keyring is missing, unreadable or malformed. The message says what to set."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str, path: Path) -> bytes:
    try:
        value = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise KeyringError(f"The keyring {path} is damaged: {what} is not base64.") from None
    if len(value) != crypto.KEY_BYTES:
        raise KeyringError(f"The keyring {path} is damaged: {what} is not a 256-bit key.")
    return value


def _new_id(kind: str) -> str:
    return f"{kind}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


def new_kek_id() -> str:
    return _new_id("kek")


def new_backup_key_id() -> str:
    return _new_id("backup")


def new_audit_key_id() -> str:
    return _new_id("audit")


def date_in_id(key_id: str) -> datetime | None:
    """The creation day a dated id carries (``kek-20261201-a1b2c3``), midnight UTC."""
    match = _DATED_ID.match(key_id)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Keyring:
    path: Path
    keks: dict[str, bytes]
    active_kek_id: str
    index_root: bytes
    backup_keys: dict[str, bytes]
    active_backup_key_id: str
    audit_keys: dict[str, bytes]
    active_audit_key_id: str
    # When each key was made, by id (and INDEX_ROOT_NAME for the index root).
    created: dict[str, datetime] = field(default_factory=dict)
    # Keys destroyed by `keys retire`, by id, with when: what they sealed can no longer be
    # opened, and a backup naming one is known to be dead (not another keyring's).
    retired: dict[str, datetime] = field(default_factory=dict)
    _index_keys: dict = field(default_factory=dict, compare=False, repr=False)

    def __repr__(self) -> str:  # never print key material
        return (
            f"<Keyring {self.path} active={self.active_kek_id} keks={sorted(self.keks)} "
            f"backup={self.active_backup_key_id} audit={self.active_audit_key_id}>"
        )

    @cached_property
    def active_aead(self) -> AESGCM:
        return AESGCM(self.keks[self.active_kek_id])

    @property
    def backup_key(self) -> bytes:
        """The active backup key: new backups are sealed with it."""
        return self.backup_keys[self.active_backup_key_id]

    @property
    def audit_key(self) -> bytes:
        """The active audit key: new checkpoints and ledger lines are signed with it."""
        return self.audit_keys[self.active_audit_key_id]

    def kek_aead(self, kek_id: str) -> AESGCM:
        try:
            return AESGCM(self.keks[kek_id])
        except KeyError:
            raise KeyringError(
                f"The database holds data keys wrapped by key {kek_id!r}, which is not in "
                f"the keyring {self.path}. Set BOOKSHOP_KEYRING to the keyring this database "
                "was created with."
            ) from None

    def backup_key_by_id(self, key_id: str) -> bytes:
        try:
            return self.backup_keys[key_id]
        except KeyError:
            raise KeyringError(
                f"The backup key {key_id!r} is not in the keyring {self.path} (it holds "
                f"{', '.join(sorted(self.backup_keys))}): it was retired, or this is another "
                "shop's keyring. Set BOOKSHOP_KEYRING to a keyring that holds it."
            ) from None

    def audit_key_by_id(self, key_id: str) -> bytes:
        try:
            return self.audit_keys[key_id]
        except KeyError:
            raise KeyringError(
                f"The audit key {key_id!r} is not in the keyring {self.path} (it holds "
                f"{', '.join(sorted(self.audit_keys))}): this is another shop's keyring, or an "
                "older copy. Set BOOKSHOP_KEYRING to the keyring that signed it."
            ) from None

    def created_at(self, key_id: str) -> datetime | None:
        """When a key (or INDEX_ROOT_NAME) was made: recorded, else the day in its id."""
        return self.created.get(key_id) or date_in_id(key_id)

    def kind_of(self, key_id: str) -> str | None:
        """``kek``, ``backup`` or ``audit`` for a key this keyring holds; None otherwise."""
        if key_id in self.keks:
            return "kek"
        if key_id in self.backup_keys:
            return "backup"
        if key_id in self.audit_keys:
            return "audit"
        return None

    def index_key(self, name: str) -> bytes:
        key = self._index_keys.get(name)
        if key is None:
            key = crypto.derive_key(self.index_root, f"shiori blind index v1: {name}")
            self._index_keys[name] = key
        return key

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "active_kek": self.active_kek_id,
                "keks": {kid: _b64(k) for kid, k in self.keks.items()},
                "index_root": _b64(self.index_root),
                "backup_keys": {kid: _b64(k) for kid, k in self.backup_keys.items()},
                "active_backup_key": self.active_backup_key_id,
                "audit_keys": {kid: _b64(k) for kid, k in self.audit_keys.items()},
                "active_audit_key": self.active_audit_key_id,
                "created": {
                    kid: at.astimezone(UTC).isoformat() for kid, at in self.created.items()
                },
                "retired": {
                    kid: at.astimezone(UTC).isoformat() for kid, at in self.retired.items()
                },
            },
            indent=2,
            sort_keys=True,
        )


def generate(path: Path) -> Keyring:
    now = datetime.now(UTC)
    kek_id, backup_id, audit_id = new_kek_id(), new_backup_key_id(), new_audit_key_id()
    return Keyring(
        path=path,
        keks={kek_id: crypto.new_key()},
        active_kek_id=kek_id,
        index_root=crypto.new_key(),
        backup_keys={backup_id: crypto.new_key()},
        active_backup_key_id=backup_id,
        audit_keys={audit_id: crypto.new_key()},
        active_audit_key_id=audit_id,
        created={kek_id: now, backup_id: now, audit_id: now, INDEX_ROOT_NAME: now},
    )


def write_new(keyring: Keyring, *, overwrite: bool = False) -> None:
    """Write the keyring with mode 0600. Refuses to replace an existing file unless told to;
    a replacement is written beside it, flushed to disk and renamed over the old one, so a
    crash never leaves half a keyring (the old one or the new one, whole)."""
    path = keyring.path
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(path.name + ".new") if overwrite else path
    if overwrite:
        target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(keyring.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    if overwrite:
        os.replace(target, path)
    try:  # the rename itself, on disk
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        directory = None
    if directory is not None:
        try:
            os.fsync(directory)
        except OSError:
            pass
        finally:
            os.close(directory)
    _CACHE.clear()


def _keys(data: dict, name: str, path: Path) -> dict[str, bytes]:
    keys = data.get(name)
    if not isinstance(keys, dict) or not keys:
        raise KeyringError(f"The keyring {path} is damaged: it holds no {name}.")
    return {kid: _unb64(v, f"key {kid}", path) for kid, v in keys.items()}


def _active(data: dict, name: str, keys: dict, path: Path) -> str:
    active = data.get(name)
    if active not in keys:
        raise KeyringError(
            f"The keyring {path} is damaged: its {name} names a key that it does not hold."
        )
    return active


def _times(data: dict, path: Path, name: str = "created") -> dict[str, datetime]:
    raw = data.get(name, {})
    if not isinstance(raw, dict):
        raise KeyringError(f"The keyring {path} is damaged: {name!r} is not a table of times.")
    times = {}
    for kid, text in raw.items():
        try:
            at = datetime.fromisoformat(text)
        except (TypeError, ValueError):
            raise KeyringError(
                f"The keyring {path} is damaged: the {name} time of {kid} is not a time."
            ) from None
        times[kid] = at if at.tzinfo else at.replace(tzinfo=UTC)
    return times


def parse(path: Path, text: str) -> Keyring:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise KeyringError(
            f"The keyring {path} is not valid JSON: it is damaged, or BOOKSHOP_KEYRING names "
            "another file. Set BOOKSHOP_KEYRING to the keyring file, or put back the safe copy."
        ) from None
    if not isinstance(data, dict) or data.get("format") not in FORMATS:
        raise KeyringError(
            f"The keyring {path} is not a Shiori keyring ({' or '.join(FORMATS)}). Set "
            "BOOKSHOP_KEYRING to the keyring file."
        )
    keks = data.get("keks")
    if not isinstance(keks, dict) or not keks:
        raise KeyringError(f"The keyring {path} holds no key-encryption keys.")
    active = data.get("active_kek")
    if active not in keks:
        raise KeyringError(f"The keyring {path} names an active key that it does not hold.")
    keks = {kid: _unb64(v, f"key {kid}", path) for kid, v in keks.items()}
    index_root = _unb64(data.get("index_root", ""), "index_root", path)
    if data["format"] == FORMAT_V1:
        made = min((d for d in map(date_in_id, keks) if d is not None), default=None)
        created = {kid: d for kid in keks if (d := date_in_id(kid)) is not None}
        if made is not None:
            created.update({BACKUP_V1_ID: made, AUDIT_V1_ID: made, INDEX_ROOT_NAME: made})
        return Keyring(
            path=path,
            keks=keks,
            active_kek_id=active,
            index_root=index_root,
            backup_keys={BACKUP_V1_ID: _unb64(data.get("backup_key", ""), "backup_key", path)},
            active_backup_key_id=BACKUP_V1_ID,
            audit_keys={AUDIT_V1_ID: _unb64(data.get("audit_key", ""), "audit_key", path)},
            active_audit_key_id=AUDIT_V1_ID,
            created=created,
        )
    backup_keys = _keys(data, "backup_keys", path)
    audit_keys = _keys(data, "audit_keys", path)
    return Keyring(
        path=path,
        keks=keks,
        active_kek_id=active,
        index_root=index_root,
        backup_keys=backup_keys,
        active_backup_key_id=_active(data, "active_backup_key", backup_keys, path),
        audit_keys=audit_keys,
        active_audit_key_id=_active(data, "active_audit_key", audit_keys, path),
        created=_times(data, path),
        retired=_times(data, path, "retired"),
    )


_CACHE: dict[tuple, Keyring] = {}


def keyring_path() -> Path:
    return Path(settings.BOOKSHOP_KEYRING)


def load() -> Keyring:
    """Return the keyring named by BOOKSHOP_KEYRING, re-read when the file changes
    (another process may have rotated a key)."""
    path = keyring_path()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyringError(
            f"No keyring at {path}. Set BOOKSHOP_KEYRING to the keyring file, or create a new "
            "one with `python manage.py keys init`."
        ) from None
    except OSError as exc:
        raise KeyringError(
            f"The keyring {path} cannot be read ({exc.strerror}). Check BOOKSHOP_KEYRING."
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise KeyringError(
            f"BOOKSHOP_KEYRING names a directory ({path}), not a keyring file. Set "
            f"BOOKSHOP_KEYRING to the keyring file itself (such as {path / 'keyring.json'}); "
            "under Docker, mount the secret as a file, not a folder."
        )
    if not stat.S_ISREG(info.st_mode):
        raise KeyringError(
            f"BOOKSHOP_KEYRING names {path}, which is not a regular file. Set BOOKSHOP_KEYRING "
            "to the keyring file itself."
        )
    signature = (str(path), info.st_mtime_ns, info.st_size, info.st_ino)
    cached = _CACHE.get(signature)
    if cached is not None:
        return cached
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(
            f"The keyring {path} may be read by other users (mode {stat.S_IMODE(info.st_mode):o}). "
            f"Run `chmod 600 {path}`."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KeyringError(
            f"The keyring {path} holds binary data, not a keyring (JSON text): it is damaged, "
            "encrypted by something else, or BOOKSHOP_KEYRING names the wrong file. Set "
            "BOOKSHOP_KEYRING to the keyring file, or put back the safe copy."
        ) from None
    except OSError as exc:
        raise KeyringError(
            f"The keyring {path} cannot be read ({exc.strerror}). Check BOOKSHOP_KEYRING."
        ) from None
    keyring = parse(path, text)
    _CACHE.clear()
    _CACHE[signature] = keyring
    return keyring
