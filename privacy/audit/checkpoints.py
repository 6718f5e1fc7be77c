"""Signed checkpoints of the audit chain (head and count), appended to a file outside the
database. The signing key lives in the keyring, never in the database."""

import json
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from privacy.audit import chain as audit_chain
from privacy.vault import keyring


class CheckpointError(Exception):
    pass


def checkpoint_path() -> Path:
    return Path(settings.BOOKSHOP_AUDIT_CHECKPOINTS)


def write_checkpoint() -> dict:
    seq, head_hash = audit_chain.head()
    at = timezone.now().isoformat()
    record = {
        "seq": seq,
        "hash": head_hash,
        "at": at,
        "signature": audit_chain.sign_checkpoint(keyring.load().audit_key, seq, head_hash, at),
    }
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
    return record


def read_checkpoints(path: Path | None = None) -> list[dict]:
    """Every checkpoint in the file, each signature checked."""
    path = path or checkpoint_path()
    if not path.exists():
        return []
    key = keyring.load().audit_key
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            expected = audit_chain.sign_checkpoint(key, record["seq"], record["hash"], record["at"])
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"checkpoint line {number} of {path} is damaged") from None
        if expected != record.get("signature"):
            raise CheckpointError(f"checkpoint line {number} of {path} has a bad signature")
        records.append(record)
    return records
