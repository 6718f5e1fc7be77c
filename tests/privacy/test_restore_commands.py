"""Backup and restore as the operator runs them (README, "Operations"): `manage.py backup` of a
database that `migrate` built and that holds customers (on SQLite, a file in WAL mode, as the
settings open it), then `manage.py restore` into a brand-new database of the same engine, each
command in a process of its own with the production settings. The restored database has the
same customers, its audit chain verifies, and it still refuses changes to the log."""

import sqlite3

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
    assert _facts(target) == before
    checked = manage("verify_audit_log", url=target)
    assert "Audit log verified" in checked.stdout
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
    assert _facts(target) == before

    # The restored database is a working one: a new customer goes in, the log grows after the
    # restored entries, and the chain still verifies.
    newcomer = tmp_path / "newcomer.csv"
    newcomer.write_text(SPREADSHEET.splitlines()[0] + "\n新規,四郎,シンキ,シロウ,09077778888,\n")
    manage("import_customers", str(newcomer), "--as", "yamada", url=target)
    after = _facts(target)
    assert after["customers"] == 4 and after["audit_head"] > before["audit_head"]
    manage("audit_checkpoint", url=target)
    manage("verify_audit_log", url=target)
