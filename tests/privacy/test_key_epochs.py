"""Key epochs (issue 14): the keyring's format v2 (several backup and audit keys, each key's
creation time) beside the v1 files shops already have, clear errors for a keyring that is not
one, one customer's data key replaced after a suspected leak, and backups that record the keys
they need and expire. Real keys, real files; the commands as an operator runs them are in
test_key_commands.py."""

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.management import CommandError, call_command
from django.utils import timezone

from customers import selectors
from customers.models import Customer, SpecialOrder
from privacy.ops import backup, rotation, startup
from privacy.vault import crypto, datakeys, keyring
from privacy.vault.models import DataKey
from tests.conftest import CANARIES, ORDER_CANARIES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_keyring(tmp_path, settings):
    """A copy of the suite's keyring (the data's keys) that this test may rewrite."""
    path = tmp_path / "keys" / "keyring.json"
    keyring.write_new(keyring.parse(path, keyring.load().to_json()))
    settings.BOOKSHOP_KEYRING = str(path)
    yield path
    keyring._CACHE.clear()


@pytest.fixture
def backup_dir(tmp_path, settings):
    settings.BOOKSHOP_BACKUP_DIR = str(tmp_path / "backups")
    return Path(settings.BOOKSHOP_BACKUP_DIR)


def _v1_text(kek_id="kek-20250301-abcdef"):
    """A keyring as the code before key epochs wrote it."""
    keys = {name: crypto.new_key() for name in ("kek", "index", "backup", "audit")}
    b64 = {name: base64.b64encode(key).decode() for name, key in keys.items()}
    text = json.dumps(
        {
            "format": "shiori-keyring-v1",
            "active_kek": kek_id,
            "keks": {kek_id: b64["kek"]},
            "index_root": b64["index"],
            "backup_key": b64["backup"],
            "audit_key": b64["audit"],
        }
    )
    return text, keys


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)


# --- The keyring file -------------------------------------------------------------------


def test_format_v2_round_trip_keeps_every_key_and_its_time(tmp_path):
    path = tmp_path / "keyring.json"
    ring = keyring.generate(path)
    keyring.write_new(ring)
    stored = json.loads(path.read_text())
    assert stored["format"] == "shiori-keyring-v2"
    assert set(stored["backup_keys"]) == {ring.active_backup_key_id}
    assert set(stored["audit_keys"]) == {ring.active_audit_key_id}
    assert ring.active_kek_id in stored["created"] and "index_root" in stored["created"]

    again = keyring.parse(path, path.read_text())
    assert again.keks == ring.keks and again.index_root == ring.index_root
    assert again.backup_key == ring.backup_key == ring.backup_key_by_id(ring.active_backup_key_id)
    assert again.audit_key == ring.audit_key == ring.audit_key_by_id(ring.active_audit_key_id)
    assert again.created == ring.created
    made = again.created_at(again.active_audit_key_id)
    assert abs(made - datetime.now(UTC)) < timedelta(minutes=1)
    assert again.backup_key not in repr(again).encode() and "backup-" in repr(again)


def test_a_v1_keyring_is_read_with_stable_ids_and_written_back_as_v2(tmp_path, settings):
    path = tmp_path / "old" / "keyring.json"
    text, keys = _v1_text()
    _write_private(path, text.encode())
    settings.BOOKSHOP_KEYRING = str(path)
    ring = keyring.load()
    assert ring.backup_key == keys["backup"] == ring.backup_key_by_id("backup-v1")
    assert ring.audit_key == keys["audit"] == ring.audit_key_by_id("audit-v1")
    assert ring.active_backup_key_id == "backup-v1" and ring.active_audit_key_id == "audit-v1"
    # Its times come from the day in its oldest KEK id.
    assert ring.created_at("kek-20250301-abcdef") == datetime(2025, 3, 1, tzinfo=UTC)
    assert ring.created_at("audit-v1") == datetime(2025, 3, 1, tzinfo=UTC)

    rotation._replace_keyring(ring)  # the next write (any rotation) stores v2
    assert json.loads(path.read_text())["format"] == "shiori-keyring-v2"
    ring = keyring.load()
    assert ring.backup_key_by_id("backup-v1") == keys["backup"]
    assert ring.audit_key_by_id("audit-v1") == keys["audit"]
    keyring._CACHE.clear()


def test_a_key_the_keyring_does_not_hold_is_named_with_what_to_set(tmp_path):
    ring = keyring.generate(tmp_path / "k.json")
    with pytest.raises(keyring.KeyringError, match="backup-20990101-000000") as error:
        ring.backup_key_by_id("backup-20990101-000000")
    assert "BOOKSHOP_KEYRING" in str(error.value)
    with pytest.raises(keyring.KeyringError, match="audit-v1") as error:
        ring.audit_key_by_id("audit-v1")
    assert "BOOKSHOP_KEYRING" in str(error.value)


def test_random_bytes_in_the_keyring_file_give_a_clear_error(tmp_path, settings):
    path = tmp_path / "keyring.json"
    _write_private(path, os.urandom(512) + b"\xff\xfe")
    settings.BOOKSHOP_KEYRING = str(path)
    with pytest.raises(keyring.KeyringError) as error:
        keyring.load()
    message = str(error.value)
    assert "binary data" in message and "BOOKSHOP_KEYRING" in message and str(path) in message


def test_a_directory_at_the_keyring_path_gives_a_clear_error(tmp_path, settings):
    path = tmp_path / "keyring.json"
    path.mkdir()
    settings.BOOKSHOP_KEYRING = str(path)
    with pytest.raises(keyring.KeyringError) as error:
        keyring.load()
    message = str(error.value)
    assert "directory" in message and "BOOKSHOP_KEYRING" in message
    assert "mode" not in message  # not the old "may be read by other users (mode 755)"


@pytest.mark.parametrize("kind", ["binary", "directory"])
def test_the_app_stops_with_that_message_too(tmp_path, kind):
    path = tmp_path / "keyring.json"
    if kind == "binary":
        _write_private(path, os.urandom(256) + b"\xff")
    else:
        path.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bookshop.test_settings",
        "BOOKSHOP_KEYRING": str(path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "UnicodeDecodeError" not in result.stderr and "Traceback" not in result.stderr
    expected = "binary data" if kind == "binary" else "names a directory"
    assert expected in result.stderr and "BOOKSHOP_KEYRING" in result.stderr


# --- One customer's data key --------------------------------------------------------------


def _stored(model, pk, column):
    return model._base_manager.filter(pk=pk).values_list(column, flat=True).get().blob


def test_rotate_customer_re_encrypts_them_under_a_new_data_key(order, clerk, own_keyring, capsys):
    customer = order.customer
    ring = keyring.load()
    row = DataKey.objects.get(subject_id=customer.pk)
    old_key = AESGCM(datakeys.open_wrapped(ring.kek_aead(row.kek_id), customer.pk, row.wrapped))
    before = {
        "phone": _stored(Customer, customer.pk, "phone"),
        "notes": _stored(Customer, customer.pk, "notes"),
        "title": _stored(SpecialOrder, order.pk, "title"),
    }
    bound = {
        "phone": f"customers.customer.phone:{customer.pk}".encode(),
        "notes": f"customers.customer.notes:{customer.pk}".encode(),
        "title": f"customers.specialorder.title:{order.pk}".encode(),
    }
    assert crypto.unseal(old_key, before["phone"], bound["phone"]) == CANARIES["phone"].encode()
    indexes = Customer.objects.values_list("phone_bidx", "email_bidx").get(pk=customer.pk)

    call_command("keys", "rotate-customer", customer.reference)
    out = capsys.readouterr().out
    assert f"Customer {customer.reference} has a new data key" in out
    assert "destroyed" in out
    for value in CANARIES.values():
        assert value not in out

    after = {
        "phone": _stored(Customer, customer.pk, "phone"),
        "notes": _stored(Customer, customer.pk, "notes"),
        "title": _stored(SpecialOrder, order.pk, "title"),
    }
    for name in after:
        assert after[name] != before[name]
        # The old data key (say, the one that leaked) opens nothing stored now.
        with pytest.raises(crypto.DecryptionError):
            crypto.unseal(old_key, after[name], bound[name])
    # The wrapped key is a new one; the search indexes did not change.
    new_row = DataKey.objects.get(subject_id=customer.pk)
    assert bytes(new_row.wrapped) != bytes(row.wrapped)
    assert new_row.kek_id == keyring.load().active_kek_id
    assert Customer.objects.values_list("phone_bidx", "email_bidx").get(pk=customer.pk) == indexes

    # The customer still reads correctly through the gate (a decision, then the fields),
    # in a new scope with nothing cached from before.
    from privacy.core import context

    with context.scope():
        shown = selectors.get_customer_for_user(
            clerk, customer.pk, purpose="customer_record", fields=["phone", "notes"]
        )
        assert shown.phone == CANARIES["phone"] and shown.notes == CANARIES["notes"]
        assert shown.family_name == CANARIES["family_name"]
        seen = selectors.get_order_for_user(clerk, order.pk, fields=["title"])
        assert seen.title == ORDER_CANARIES["title"]
    # Found by phone as before.
    with context.scope():
        found = selectors.find_customers(clerk, phone=CANARIES["phone"])
        assert [c.pk for c in found] == [customer.pk]

    from privacy.audit.models import AuditLogEntry

    entry = AuditLogEntry.objects.filter(event="privacy.keys.customer_rekeyed").get()
    assert entry.object_pk == str(customer.pk)
    assert entry.additional_data["values"] >= 4 and entry.additional_data["records"] == 2
    startup.verify_keyring()


def test_rotate_customer_refuses_what_is_not_one_customer(customer, own_keyring):
    with pytest.raises(CommandError, match="reference"):
        call_command("keys", "rotate-customer", "someone")
    with pytest.raises(CommandError, match="No single customer"):
        call_command("keys", "rotate-customer", "C-00000000")


# --- Backups: the manifest, the header, the v1 files, expiry ------------------------------


def _v1_file(path: Path, snapshot: bytes, name: str, vendor: str, backup_key: bytes, made):
    """A backup exactly as the code before key epochs wrote it (no key ids anywhere)."""
    import hashlib

    manifest = {
        "format": 1,
        "created_at": made.isoformat(),
        "vendor": vendor,
        "file": name,
        "sha256": hashlib.sha256(snapshot).hexdigest(),
        "size": len(snapshot),
        "counts": {},
        "schema": {},
    }
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("manifest.json", json.dumps(manifest))
        zipped.writestr(name, snapshot)
    nonce = os.urandom(12)
    sealed = AESGCM(backup_key).encrypt(nonce, archive.getvalue(), b"shiori backup v1")
    _write_private(path, b"SHIORI-BACKUP-1\n" + nonce + sealed)


@pytest.mark.django_db(transaction=True)
def test_a_backup_records_the_keys_it_needs_and_when_it_expires(
    transactional_audit, order, own_keyring, backup_dir, settings
):
    """Runs on SQLite and, with DATABASE_URL, on PostgreSQL (pg_dump's COPY block)."""
    from django.db import connection

    rotation.rotate(limit=0)  # a new active KEK; the customer's key stays under the old one
    ring = keyring.load()
    wrapped_by = set(DataKey.objects.values_list("kek_id", flat=True))
    assert wrapped_by and ring.active_kek_id not in wrapped_by

    manifest = backup.create()
    path = Path(manifest["path"])
    assert path.parent == backup_dir and path.name.startswith("shiori-")
    assert path.name.endswith(".backup") and oct(path.stat().st_mode & 0o777) == "0o600"
    blob = path.read_bytes()
    assert blob.startswith(b"SHIORI-BACKUP-2\n" + ring.active_backup_key_id.encode() + b"\n")

    opened, _data = backup.open_backup(path)
    assert opened["kek_ids"] == sorted(wrapped_by)
    assert opened["backup_key_id"] == ring.active_backup_key_id
    created = datetime.fromisoformat(opened["created_at"])
    assert datetime.fromisoformat(opened["expires_at"]) - created == timedelta(days=35)
    kept = backup.kept_backups()
    assert [(b.path, b.kek_ids, b.backup_key_id) for b in kept] == [
        (path, frozenset(wrapped_by), ring.active_backup_key_id)
    ]
    (old_kek,) = wrapped_by
    assert backup.backups_needing("kek", old_kek) == kept
    assert backup.backups_needing("kek", ring.active_kek_id) == []
    assert backup.backups_needing("backup", ring.active_backup_key_id) == kept

    # The key id in the header is authenticated: pointing it at another key is refused.
    other = rotation.rotate_backup_key()
    forged = backup_dir / "forged.backup"
    _write_private(forged, blob.replace(ring.active_backup_key_id.encode(), other.encode(), 1))
    with pytest.raises(backup.BackupError, match="integrity"):
        backup.open_backup(forged)
    with pytest.raises(backup.BackupError, match="forged.backup"):
        backup.kept_backups()  # a file that cannot be opened is named, never skipped
    forged.unlink()

    # A backup from before key epochs (format 1), sealed with a v1 keyring's backup key:
    # it opens, and the KEKs it needs are read from its snapshot.
    _manifest, snapshot = backup.open_backup(path)
    v1_key = crypto.new_key()
    ring = keyring.load()  # as if this keyring had been read from that shop's v1 file
    rotation._replace_keyring(ring, backup_keys={**ring.backup_keys, "backup-v1": v1_key})
    made = timezone.now() - timedelta(days=3)
    old = backup_dir / "shiori-old.backup"
    _v1_file(old, snapshot, opened["file"], connection.vendor, v1_key, made)
    opened_v1, _ = backup.open_backup(old)
    assert opened_v1["kek_ids"] == sorted(wrapped_by)
    assert opened_v1["backup_key_id"] == "backup-v1"
    kept = backup.kept_backups()
    assert [b.path for b in kept] == [old, path]  # oldest first
    assert kept[0].expires_at == made + timedelta(days=35)
    assert backup.backups_needing("backup", "backup-v1") == kept[:1]
    assert backup.backups_needing("kek", old_kek) == kept

    # Expiry, with the clock moved: nothing goes before its time, each on its day.
    assert backup.prune(now=timezone.now()) == []
    assert backup.prune(now=made + timedelta(days=35, minutes=1)) == [old]
    assert not old.exists() and path.exists()
    assert backup.kept_backups(now=created + timedelta(days=34)) == backup.kept_backups()
    assert backup.kept_backups(now=created + timedelta(days=36)) == []
    assert backup.backups_needing("kek", old_kek, now=created + timedelta(days=36)) == []
    assert backup.prune(now=created + timedelta(days=36)) == [path]
    assert list(backup_dir.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_backup_prune_says_what_it_deleted_and_what_it_kept(
    transactional_audit, order, own_keyring, backup_dir, capsys
):
    import time_machine

    first = Path(backup.create(now=timezone.now() - timedelta(days=40))["path"])
    second = Path(backup.create()["path"])
    settings_days = 35  # BOOKSHOP_BACKUP_KEEP_DAYS's default
    call_command("backup", "--prune")
    out = capsys.readouterr().out
    assert f"Deleted {first.name}" in out and f"Kept {second.name}" in out
    until = timezone.localtime(timezone.now() + timedelta(days=settings_days))
    assert f"until {until:%Y-%m-%d}" in out
    assert not first.exists() and second.exists()
    with time_machine.travel(timezone.now() + timedelta(days=settings_days, hours=1)):
        call_command("backup", "--prune")
    assert f"Deleted {second.name}" in capsys.readouterr().out
    assert not second.exists()
