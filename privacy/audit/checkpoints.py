"""Signed checkpoints of the audit chain (head and count), appended to a file outside the
database. The signing key lives in the keyring, never in the database; each line names the
audit key that signed it (lines written before that verify with the first audit key).

Lineages. A restore brings back an older chain: the checkpoints the live database wrote after
the backup's head can never match it again. So a restore records an event in the chain
(which backup, when it was made, the head it brought back) and appends a signed *restore
line* to this file: the start of a new lineage. Every later checkpoint names its lineage (the
restore event's hash, ``origin`` before any restore). ``assess`` then sorts the file for one
database:

- checkpoints of its current lineage, and those of older lineages up to the head a later
  restore brought back, are checked strictly (cutting off the log still shows);
- checkpoints of an older lineage beyond that head are *superseded by the restore*, and
  reported as such, never silently accepted;
- a restore event in the chain that no signed restore line vouches for fails the
  verification: without the audit key, nobody can use a "restore" to hide a truncation;
- lines of lineages this chain does not hold (a restore into another database) are counted
  and not checked.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from privacy.audit import chain as audit_chain
from privacy.audit.models import AuditLogEntry
from privacy.vault import keyring

ORIGIN = "origin"
RESTORED_EVENT = "privacy.backup.restored"
_RESTORE_FIELDS = ("backup", "backup_created_at", "backup_head_seq", "backup_head_hash")


class CheckpointError(Exception):
    pass


def checkpoint_path() -> Path:
    return Path(settings.BOOKSHOP_AUDIT_CHECKPOINTS)


def _sign_v2(key: bytes, record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "signature"}
    message = b"shiori-audit-checkpoint-v2|" + json.dumps(body, sort_keys=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def current_lineage() -> str:
    """The lineage new checkpoints belong to: the last restore event's hash, or origin."""
    last = (
        AuditLogEntry.objects.filter(event=RESTORED_EVENT)
        .order_by("-seq")
        .values_list("entry_hash", flat=True)
        .first()
    )
    return last or ORIGIN


def _append(record: dict) -> dict:
    ring = keyring.load()
    record = {**record, "v": 2, "key": ring.active_audit_key_id}
    record["signature"] = _sign_v2(ring.audit_key, record)
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
    return record


def write_checkpoint() -> dict:
    seq, head_hash = audit_chain.head()
    return _append(
        {
            "kind": "checkpoint",
            "seq": seq,
            "hash": head_hash,
            "at": timezone.now().isoformat(),
            "lineage": current_lineage(),
        }
    )


def write_restore_line(entry, data: dict) -> dict:
    """The signed start of a new lineage: the restore event ``entry`` (in the chain), and
    what it brought back."""
    return _append(
        {
            "kind": "restore",
            "seq": entry.seq,
            "hash": entry.entry_hash,
            "at": timezone.now().isoformat(),
            "lineage": entry.entry_hash,
            **{name: data[name] for name in _RESTORE_FIELDS},
        }
    )


def _legacy_keys(ring) -> list[bytes]:
    first = ring.audit_keys.get(keyring.AUDIT_V1_ID)
    return ([first] if first else []) + [
        key for kid, key in ring.audit_keys.items() if kid != keyring.AUDIT_V1_ID
    ]


def read_checkpoints(path: Path | None = None) -> list[dict]:
    """Every checkpoint in the file, each signature checked with the key its line names."""
    path = path or checkpoint_path()
    if not path.exists():
        return []
    ring = keyring.load()
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"checkpoint line {number} of {path}"
        try:
            record = json.loads(line)
            seq, head_hash, at = int(record["seq"]), str(record["hash"]), str(record["at"])
            signature = str(record["signature"])
            version = record.get("v", 1)
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"{where} is damaged") from None
        if version == 2:
            try:
                key = ring.audit_key_by_id(str(record.get("key")))
            except keyring.KeyringError:
                raise CheckpointError(
                    f"{where} is signed by audit key {record.get('key')}, which is not in the "
                    f"keyring {ring.path}"
                ) from None
            good = hmac.compare_digest(signature, _sign_v2(key, record))
        else:
            good = any(
                hmac.compare_digest(signature, audit_chain.sign_checkpoint(key, seq, head_hash, at))
                for key in _legacy_keys(ring)
            )
        if not good:
            raise CheckpointError(f"{where} has a bad signature")
        records.append({**record, "line": number, "lineage": record.get("lineage", ORIGIN)})
    return records


@dataclass
class Assessment:
    strict: list[dict] = field(default_factory=list)  # checked against the chain
    superseded: list[tuple[dict, dict]] = field(default_factory=list)  # (checkpoint, restore)
    restores: list[dict] = field(default_factory=list)  # this chain's restore lines, in order
    foreign: int = 0  # lines of lineages this chain does not hold
    problem: str = ""


def assess(records: list[dict]) -> Assessment:
    """Sort the (signature-checked) lines for this database's chain (see the module)."""
    result = Assessment()
    events = list(
        AuditLogEntry.objects.filter(event=RESTORED_EVENT)
        .order_by("seq")
        .values_list("seq", "entry_hash")
    )
    by_event = {}
    for record in records:
        if record.get("kind") == "restore" and (record["seq"], record["hash"]) in events:
            by_event.setdefault((record["seq"], record["hash"]), record)
    for seq, entry_hash in events:
        if (seq, entry_hash) not in by_event:
            result.problem = (
                f"entry {seq} records a restore that no signed restore line vouches for (the "
                "checkpoint file is not this database's, or the entry was forged)"
            )
            return result
    result.restores = [by_event[event] for event in events]
    lineages = [ORIGIN, *(r["hash"] for r in result.restores)]
    for record in records:
        if record.get("kind") == "restore":
            if record in result.restores:
                result.strict.append(record)
            else:
                result.foreign += 1
            continue
        if record["lineage"] not in lineages:
            result.foreign += 1
            continue
        later = result.restores[lineages.index(record["lineage"]) :]
        beyond = next((r for r in later if record["seq"] > r["backup_head_seq"]), None)
        if beyond is None:
            result.strict.append(record)
        else:
            result.superseded.append((record, beyond))
    return result


def verify(path: Path | None = None) -> tuple[audit_chain.Verification, Assessment]:
    """The whole check (``verify_audit_log`` and the chain panel): the signatures, the
    lineages, then the chain against the checkpoints that apply to it."""
    try:
        found = assess(read_checkpoints(path))
    except CheckpointError as exc:
        return audit_chain.Verification(False, 0, 0, "", str(exc)), Assessment(problem=str(exc))
    if found.problem:
        return audit_chain.Verification(False, 0, 0, "", found.problem), found
    return audit_chain.verify(checkpoints=found.strict), found
