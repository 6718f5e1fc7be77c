"""The key and backup lifecycle as the operator runs it (README, "Operations"): each command
in a process of its own with the production settings, on a database `migrate` built and that
holds customers, with a keyring of its own (the commands rewrite it) and BOOKSHOP_BACKUP_DIR
under var/."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from privacy.vault import keyring
from tests.conftest import raw_connection
from tests.privacy.test_restore_commands import SPREADSHEET


@pytest.fixture
def shop(tmp_path, settings, new_database, manage):
    """A shop's database with three customers, and its own keyring (made by `keys init`)."""
    settings.BOOKSHOP_KEYRING = str(tmp_path / "secure" / "keyring.json")
    url = new_database("sqlite")
    manage("keys", "init", url=url)
    manage("migrate", "--noinput", url=url)
    manage("seed_demo", "--customers", "0", url=url)
    spreadsheet = tmp_path / "customers.csv"
    spreadsheet.write_text(SPREADSHEET, encoding="utf-8")
    manage("import_customers", str(spreadsheet), "--as", "yamada", url=url)
    yield url
    keyring._CACHE.clear()


def _ring(settings):
    keyring._CACHE.clear()
    return keyring.parse(
        Path(settings.BOOKSHOP_KEYRING), Path(settings.BOOKSHOP_KEYRING).read_text()
    )


def _kek_ids(url):
    db = raw_connection(url)
    try:
        return {kek for (kek,) in db.execute("SELECT kek_id FROM privacy_datakey")}
    finally:
        db.close()


def test_retire_waits_for_the_kept_backups_that_need_the_key(shop, manage, settings, tmp_path):
    url = shop
    first_kek = _ring(settings).active_kek_id
    first_backup_key = _ring(settings).active_backup_key_id

    written = manage("backup", url=url)  # no --output: into BOOKSHOP_BACKUP_DIR
    (kept,) = (tmp_path / "var" / "backups").iterdir()
    assert kept.name.startswith("shiori-") and kept.name in written.stdout
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    # The shop's date (BOOKSHOP_TIME_ZONE), as every date the commands print for the staff.
    until = f"{timezone.localtime(timezone.now() + timedelta(days=35)):%Y-%m-%d}"

    rotated = manage("keys", "rotate", url=url)
    assert "new active key" in rotated.stdout and "safe copy of the keyring" in rotated.stdout
    assert _kek_ids(url) == {_ring(settings).active_kek_id} != {first_kek}

    # The old epoch's key wraps no data key now, but the kept backup still needs it.
    refused = manage("keys", "retire", first_kek, url=url, check=False)
    assert refused.returncode != 0
    assert kept.name in refused.stderr and until in refused.stderr
    assert "--force" in refused.stderr
    assert first_kek in _ring(settings).keks

    status = manage("keys", "status", url=url).stdout
    assert f"{first_kek}: wraps 0 data keys" in status
    assert "1 kept backup(s) need it" in status
    assert f"{first_backup_key} (active)" in status and "Audit keys" in status
    assert "Blind-index key: made" in status and "0 days old" in status

    # A new backup key: new backups are sealed with it, the old one is still needed.
    rotated = manage("keys", "rotate-backup-key", url=url).stdout
    new_backup_key = _ring(settings).active_backup_key_id
    assert (
        new_backup_key != first_backup_key and f"New active backup key {new_backup_key}" in rotated
    )
    manage("backup", url=url)
    refused = manage("keys", "retire", first_backup_key, url=url, check=False)
    assert refused.returncode != 0 and kept.name in refused.stderr
    manage("backup", "--verify", str(kept), url=url)  # the old backup still opens

    # --force says what becomes unreadable, and destroys the key.
    forced = manage("keys", "retire", first_kek, "--force", url=url)
    assert kept.name in forced.stdout and "can no longer be read" in forced.stdout
    assert first_kek not in _ring(settings).keks and first_kek in _ring(settings).retired
    forced = manage("keys", "retire", first_backup_key, "--force", url=url)
    assert kept.name in forced.stdout and "can no longer be opened" in forced.stdout
    assert first_backup_key not in _ring(settings).backup_keys
    stored = json.loads(Path(settings.BOOKSHOP_KEYRING).read_text())
    assert first_backup_key not in json.dumps(stored["backup_keys"])

    verify = manage("backup", "--verify", str(kept), url=url, check=False)
    assert verify.returncode != 0 and "retired" in verify.stderr
    pruned = manage("backup", "--prune", url=url).stdout
    assert f"Deleted {kept.name}" in pruned and "retired" in pruned
    assert not kept.exists() and "1 kept" in pruned
    manage("check", url=url)  # the keyring still matches the data


def test_rotate_if_due_follows_the_age_of_the_active_key(shop, manage, settings):
    url = shop
    active = _ring(settings).active_kek_id
    not_due = manage("keys", "rotate", "--if-due", url=url).stdout
    assert "not due" in not_due and "BOOKSHOP_KEY_ROTATE_DAYS=30" in not_due
    assert _ring(settings).active_kek_id == active

    # The same keyring, its active key made 31 days ago.
    path = Path(settings.BOOKSHOP_KEYRING)
    stored = json.loads(path.read_text())
    stored["created"][active] = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    path.write_text(json.dumps(stored))
    due = manage("keys", "rotate", "--if-due", url=url).stdout
    assert "new active key" in due
    ring = _ring(settings)
    assert ring.active_kek_id != active and _kek_ids(url) == {ring.active_kek_id}
    assert "not due" in manage("keys", "rotate", "--if-due", url=url).stdout


def test_rotate_audit_key_signs_anew_and_old_checkpoints_stay_verifiable(shop, manage, settings):
    url = shop
    old = _ring(settings).active_audit_key_id
    manage("audit_checkpoint", url=url)
    out = manage("keys", "rotate-audit-key", url=url).stdout
    ring = _ring(settings)
    assert ring.active_audit_key_id != old and ring.audit_key_by_id(old)
    assert ring.active_audit_key_id in out
    refused = manage("keys", "retire", old, url=url, check=False)
    assert refused.returncode != 0 and "never retired" in refused.stderr


def test_rotate_customer_from_the_command_line(shop, manage, settings):
    url = shop
    db = raw_connection(url)
    try:
        (customer_id, phone) = db.execute(
            "SELECT id, phone FROM customers_customer ORDER BY id LIMIT 1"
        ).fetchone()
        (wrapped,) = db.execute(
            "SELECT wrapped FROM privacy_datakey WHERE subject_id = ?", [customer_id]
        ).fetchone()
    finally:
        db.close()
    reference = f"C-{customer_id[:8].upper()}"
    out = manage("keys", "rotate-customer", reference, url=url).stdout
    assert f"Customer {reference} has a new data key" in out
    assert "復元" not in out and "09011112222" not in out
    db = raw_connection(url)
    try:
        (new_phone,) = db.execute(
            "SELECT phone FROM customers_customer WHERE id = ?", [customer_id]
        ).fetchone()
        (new_wrapped,) = db.execute(
            "SELECT wrapped FROM privacy_datakey WHERE subject_id = ?", [customer_id]
        ).fetchone()
        (event,) = db.execute(
            "SELECT count(*) FROM privacy_auditlogentry "
            "WHERE event = 'privacy.keys.customer_rekeyed'"
        ).fetchone()
    finally:
        db.close()
    assert new_phone != phone and new_wrapped != wrapped and event == 1
    manage("verify_audit_log", url=url)
    manage("check", url=url)


def test_retire_unneeded_destroys_old_keys_once_no_kept_backup_needs_them(
    shop, manage, settings, tmp_path
):
    """The scheduler's nightly step after `backup --prune`: an old epoch's key goes as soon as
    nothing needs it, never before."""
    url = shop
    first_kek = _ring(settings).active_kek_id
    manage("backup", url=url)
    (kept,) = (tmp_path / "var" / "backups").iterdir()
    manage("keys", "rotate", url=url)

    waited = manage("keys", "retire", "--unneeded", url=url).stdout
    assert "No key to retire" in waited and first_kek in _ring(settings).keks

    kept.unlink()  # what `backup --prune` does once the backup expires
    retired = manage("keys", "retire", "--unneeded", url=url).stdout
    assert f"Key {first_kek} retired" in retired
    ring = _ring(settings)
    assert first_kek not in ring.keks and first_kek in ring.retired
    assert ring.active_kek_id in ring.keks  # the active key is never a candidate
    manage("check", url=url)  # every live data key still opens

    both = manage("keys", "retire", first_kek, "--unneeded", url=url, check=False)
    assert both.returncode != 0 and "--unneeded" in both.stderr
