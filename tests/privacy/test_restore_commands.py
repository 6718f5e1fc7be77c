"""Backup and restore as the operator runs them (README, "Operations"): `manage.py backup` of a
database that `migrate` built and that holds customers (on SQLite, a file in WAL mode, as the
settings open it), then `manage.py restore` into a brand-new database of the same engine, each
command in a process of its own with the production settings. The restored database has the
same customers, its audit chain verifies, and it still refuses changes to the log."""

import json
import re
import sqlite3
from pathlib import Path

import psycopg
import pytest

from privacy.audit import guard as audit_guard
from tests.conftest import raw_connection

REFUSED = (sqlite3.DatabaseError, psycopg.Error)

SPREADSHEET = (
    "姓,名,セイ,メイ,電話番号,メール\n"
    "復元,花子,フクゲン,ハナコ,09011112222,hanako.restore@example.jp\n"
    "保管,一郎,ホカン,イチロウ,08033334444,\n"
    "戻り,三郎,モドリ,サブロウ,07055556666,saburo.restore@example.jp\n"
)


def _one(db, sql: str):
    return db.execute(sql).fetchone()[0]


def _facts(url: str) -> dict:
    db = raw_connection(url)
    try:
        return {
            "customers": _one(db, "SELECT count(*) FROM customers_customer"),
            "data_keys": _one(db, "SELECT count(*) FROM privacy_datakey"),
            "audit_entries": _one(db, "SELECT count(*) FROM privacy_auditlogentry"),
            "audit_head": _one(db, "SELECT max(seq) FROM privacy_auditlogentry"),
        }
    finally:
        db.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_backup_then_restore_through_the_commands_into_a_new_database(
    engine, new_database, manage, tmp_path
):
    source = new_database(engine)
    manage("migrate", "--noinput", url=source)
    manage("seed_demo", "--customers", "0", url=source)  # the staff; yamada is the manager
    spreadsheet = tmp_path / "customers.csv"
    spreadsheet.write_text(SPREADSHEET, encoding="utf-8")
    manage("import_customers", str(spreadsheet), "--as", "yamada", url=source)
    before = _facts(source)
    assert before["customers"] == 3
    if engine == "sqlite":
        db = raw_connection(source)
        try:
            assert _one(db, "PRAGMA journal_mode") == "wal"  # the file the settings made
        finally:
            db.close()

    backup_file = tmp_path / "backups" / "shiori.backup"
    written = manage("backup", "--output", str(backup_file), url=source)
    assert "customers 3" in written.stdout
    assert oct(backup_file.stat().st_mode & 0o777) == "0o600"
    manage("backup", "--verify", str(backup_file), url=source)
    for value in ("復元", "hanako.restore@example.jp", "09011112222"):
        assert value.encode() not in backup_file.read_bytes()

    target = new_database(engine)
    restored = manage("restore", str(backup_file), url=target)
    assert "Restored" in restored.stdout and "re-applied 0 erasures" in restored.stdout
    # The same rows, and one entry more: the restore itself, at the head of the chain.
    restored_facts = _facts(target)
    assert restored_facts == {
        **before,
        "audit_entries": before["audit_entries"] + 1,
        "audit_head": before["audit_head"] + 1,
    }
    checked = manage("verify_audit_log", url=target)
    assert "Audit log verified" in checked.stdout
    assert f"Restored from backup {backup_file.name}" in checked.stdout
    manage("check", url=target)  # start-up: the keyring matches, the guard is in force

    db = raw_connection(target)
    try:
        if engine == "sqlite":
            assert _one(db, "PRAGMA journal_mode") == "wal"
            triggers = {
                name
                for (name,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                    [audit_guard.TABLE],
                )
            }
            assert set(audit_guard.TRIGGERS["sqlite"]) <= triggers
        statements = [
            "UPDATE privacy_auditlogentry SET event = 'x'",
            "DELETE FROM privacy_auditlogentry",
        ]
        if engine == "postgresql":
            statements.append("TRUNCATE privacy_auditlogentry")
        for statement in statements:
            with pytest.raises(REFUSED, match="append-only"):
                db.execute(statement)
    finally:
        db.close()
    assert _facts(target) == restored_facts

    # The restored database is a working one: a new customer goes in, the log grows after the
    # restored entries, and the chain still verifies.
    newcomer = tmp_path / "newcomer.csv"
    newcomer.write_text(SPREADSHEET.splitlines()[0] + "\n新規,四郎,シンキ,シロウ,09077778888,\n")
    manage("import_customers", str(newcomer), "--as", "yamada", url=target)
    after = _facts(target)
    assert after["customers"] == 4 and after["audit_head"] > restored_facts["audit_head"]
    manage("audit_checkpoint", url=target)
    manage("verify_audit_log", url=target)


def _own_keyring(tmp_path) -> dict:
    """A copy of the suite's keyring that the test may rotate and retire keys in."""
    import shutil

    from privacy.vault import keyring

    ring = tmp_path / "own-keys" / "keyring.json"
    ring.parent.mkdir()
    shutil.copy(keyring.keyring_path(), ring)
    ring.chmod(0o600)
    return {"BOOKSHOP_KEYRING": str(ring), "BOOKSHOP_BACKUP_DIR": str(tmp_path / "kept")}


def _empty(url: str) -> bool:
    db = raw_connection(url)
    try:
        if url.startswith("sqlite"):
            return not db.execute("SELECT name FROM sqlite_master").fetchall()
        return not db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    finally:
        db.close()


def _shop(engine, new_database, manage, tmp_path, env) -> str:
    source = new_database(engine)
    manage("migrate", "--noinput", url=source, env=env)
    manage("seed_demo", "--customers", "0", url=source, env=env)
    spreadsheet = tmp_path / "customers.csv"
    spreadsheet.write_text(SPREADSHEET, encoding="utf-8")
    manage("import_customers", str(spreadsheet), "--as", "yamada", url=source, env=env)
    return source


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_backup_needing_a_retired_key_is_refused_whole_and_loads_nothing(
    engine, new_database, manage, tmp_path
):
    """Issue 14: backup, keys rotate, keys retire OLD, restore. The restore names the
    backup and the retired key and loads nothing: the target stays empty, and once the
    keyring copy that holds the key is put back, the same target takes the restore."""
    import shutil

    env = _own_keyring(tmp_path)
    source = _shop(engine, new_database, manage, tmp_path, env)
    ring = Path(env["BOOKSHOP_KEYRING"])
    before_rotation = tmp_path / "safe-copy-keyring.json"
    shutil.copy(ring, before_rotation)
    old_kek = json.loads(ring.read_text())["active_kek"]
    backup_file = tmp_path / "offsite" / "before-rotation.backup"  # not a kept backup
    manage("backup", "--output", str(backup_file), url=source, env=env)
    manage("keys", "rotate", url=source, env=env)
    manage("keys", "retire", old_kek, url=source, env=env)

    target = new_database(engine)
    refused = manage("restore", str(backup_file), url=target, check=False, env=env)
    assert refused.returncode != 0
    message = refused.stderr
    assert str(backup_file) in message and old_kek in message and "retired on" in message
    assert "Nothing was loaded" in message
    assert _empty(target)  # not half-loaded: the next try is not refused for "tables"

    done = manage(
        "restore",
        str(backup_file),
        url=target,
        env={**env, "BOOKSHOP_KEYRING": str(before_rotation)},
    )
    assert "Restored" in done.stdout
    assert _facts(target)["customers"] == 3


def test_bad_input_is_refused_before_anything_is_written(new_database, manage, tmp_path):
    env = _own_keyring(tmp_path)
    source = _shop("sqlite", new_database, manage, tmp_path, env)
    good = tmp_path / "good.backup"
    manage("backup", "--output", str(good), url=source, env=env)
    blob = good.read_bytes()
    cases = {}
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(blob[: len(blob) // 2])
    cases[truncated] = "truncated|integrity"
    wrong = tmp_path / "notes.backup"
    wrong.write_bytes(b"not a backup at all\n")
    cases[wrong] = "not a Shiori backup"
    for file, expected in cases.items():
        target = new_database("sqlite")
        refused = manage("restore", str(file), url=target, check=False, env=env)
        assert refused.returncode != 0
        assert str(file) in refused.stderr
        assert re.search(expected, refused.stderr), refused.stderr
        assert _empty(target)

    # A target that is not empty: the source itself.
    refused = manage("restore", str(good), url=source, check=False, env=env)
    assert refused.returncode != 0 and "has" in refused.stderr and "tables" in refused.stderr
    assert "DATABASE_URL" in refused.stderr

    # Another keyring altogether: no key of this backup is in it.
    stranger = tmp_path / "stranger.json"
    manage("keys", "init", url=source, env={**env, "BOOKSHOP_KEYRING": str(stranger)})
    target = new_database("sqlite")
    refused = manage(
        "restore",
        str(good),
        url=target,
        check=False,
        env={**env, "BOOKSHOP_KEYRING": str(stranger)},
    )
    assert refused.returncode != 0 and "BOOKSHOP_KEYRING" in refused.stderr
    assert _empty(target)

    # A damaged erasure ledger: whom to erase again cannot be known.
    ledger = tmp_path / "erasure-ledger.jsonl"
    ledger.write_text('{"subject": "x", "at": "y", "v": 2, "key": "k", "mac": "0"}\n')
    target = new_database("sqlite")
    refused = manage("restore", str(good), url=target, check=False, env=env)
    assert refused.returncode != 0 and "erasure ledger" in refused.stderr
    assert "line 1" in refused.stderr and _empty(target)
    ledger.unlink()


def test_a_backup_of_another_engine_is_refused(new_database, manage, tmp_path):
    env = _own_keyring(tmp_path)
    source = _shop("sqlite", new_database, manage, tmp_path, env)
    good = tmp_path / "sqlite.backup"
    manage("backup", "--output", str(good), url=source, env=env)
    target = new_database("postgresql")  # skipped unless the suite runs on PostgreSQL
    refused = manage("restore", str(good), url=target, check=False, env=env)
    assert refused.returncode != 0
    assert "sqlite" in refused.stderr and "DATABASE_URL" in refused.stderr
    assert _empty(target)


def test_a_restored_older_backup_verifies_and_names_what_it_superseded(
    new_database, manage, tmp_path
):
    """Issue 14: once the live database has checkpoints beyond an older backup's head, the
    restored backup still verifies: the restore starts a new lineage, and the checkpoints it
    superseded are reported, not silently accepted. Checkpoints after the restore are strict."""
    env = _own_keyring(tmp_path)
    source = _shop("sqlite", new_database, manage, tmp_path, env)
    manage("audit_checkpoint", url=source, env=env)
    backup_file = tmp_path / "older.backup"
    manage("backup", "--output", str(backup_file), url=source, env=env)
    newcomer = tmp_path / "newcomer.csv"
    newcomer.write_text(SPREADSHEET.splitlines()[0] + "\n新規,四郎,シンキ,シロウ,09077778888,\n")
    manage("import_customers", str(newcomer), "--as", "yamada", url=source, env=env)
    manage("audit_checkpoint", url=source, env=env)  # beyond the backup's head

    target = new_database("sqlite")
    manage("restore", str(backup_file), url=target, env=env)
    checked = manage("verify_audit_log", url=target, env=env)
    assert f"Restored from backup {backup_file.name}" in checked.stdout
    assert "1 checkpoints" in checked.stdout and "superseded by restore of" in checked.stdout
    manage("verify_audit_log", url=source, env=env)  # the live database verifies still

    # After the restore, checkpoints are strict again: cut the restored log off and it shows.
    manage("import_customers", str(newcomer), "--as", "yamada", url=target, env=env)
    manage("audit_checkpoint", url=target, env=env)
    manage("verify_audit_log", url=target, env=env)
    db = raw_connection(target)
    try:
        db.execute("DROP TRIGGER IF EXISTS privacy_auditlog_no_delete")
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
            [audit_guard.TABLE],
        ).fetchall():
            db.execute(f'DROP TRIGGER "{name}"')
        db.execute(
            "DELETE FROM privacy_auditlogentry WHERE seq = (SELECT max(seq) FROM privacy_auditlogentry)"
        )
    finally:
        db.close()
    guard_again = "from django.db import connection; from privacy.audit import guard; "
    manage("shell", "-c", guard_again + "guard.install(connection)", url=target, env=env)
    broken = manage("verify_audit_log", url=target, check=False, env=env)
    assert broken.returncode != 0 and "cut off" in broken.stderr
