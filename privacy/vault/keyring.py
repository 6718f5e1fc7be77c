"""The keyring file: key-encryption keys (KEKs) by id, the active id, and the roots for blind
indexes, backups and audit checkpoints. It lives outside the database and its backups.
"""

import base64
import json
import os
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

FORMAT = "shiori-keyring-v1"


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


def new_kek_id() -> str:
    return f"kek-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Keyring:
    path: Path
    keks: dict[str, bytes]
    active_kek_id: str
    index_root: bytes
    backup_key: bytes
    audit_key: bytes
    _index_keys: dict = field(default_factory=dict, compare=False, repr=False)

    def __repr__(self) -> str:  # never print key material
        return f"<Keyring {self.path} active={self.active_kek_id} keks={sorted(self.keks)}>"

    @cached_property
    def active_aead(self) -> AESGCM:
        return AESGCM(self.keks[self.active_kek_id])

    def kek_aead(self, kek_id: str) -> AESGCM:
        try:
            return AESGCM(self.keks[kek_id])
        except KeyError:
            raise KeyringError(
                f"The database holds data keys wrapped by key {kek_id!r}, which is not in "
                f"the keyring {self.path}. Set BOOKSHOP_KEYRING to the keyring this database "
                "was created with."
            ) from None

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
                "backup_key": _b64(self.backup_key),
                "audit_key": _b64(self.audit_key),
            },
            indent=2,
            sort_keys=True,
        )


def generate(path: Path) -> Keyring:
    kek_id = new_kek_id()
    return Keyring(
        path=path,
        keks={kek_id: crypto.new_key()},
        active_kek_id=kek_id,
        index_root=crypto.new_key(),
        backup_key=crypto.new_key(),
        audit_key=crypto.new_key(),
    )


def write_new(keyring: Keyring, *, overwrite: bool = False) -> None:
    """Write the keyring with mode 0600. Refuses to replace an existing file unless told to;
    a replacement is written beside it and renamed, so a crash never leaves half a keyring."""
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
    _CACHE.clear()


def parse(path: Path, text: str) -> Keyring:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise KeyringError(f"The keyring {path} is not valid JSON.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise KeyringError(f"The keyring {path} is not a Shiori keyring ({FORMAT}).")
    keks = data.get("keks")
    if not isinstance(keks, dict) or not keks:
        raise KeyringError(f"The keyring {path} holds no key-encryption keys.")
    active = data.get("active_kek")
    if active not in keks:
        raise KeyringError(f"The keyring {path} names an active key that it does not hold.")
    return Keyring(
        path=path,
        keks={kid: _unb64(v, f"key {kid}", path) for kid, v in keks.items()},
        active_kek_id=active,
        index_root=_unb64(data.get("index_root", ""), "index_root", path),
        backup_key=_unb64(data.get("backup_key", ""), "backup_key", path),
        audit_key=_unb64(data.get("audit_key", ""), "audit_key", path),
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
    except OSError as exc:
        raise KeyringError(
            f"The keyring {path} cannot be read ({exc.strerror}). Check BOOKSHOP_KEYRING."
        ) from None
    keyring = parse(path, text)
    _CACHE.clear()
    _CACHE[signature] = keyring
    return keyring
