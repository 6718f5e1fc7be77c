"""The suite runs what production runs (DESIGN, "Configuration"): SQLite as a file in WAL mode
with the real settings' options, not in memory; and a database that `migrate` builds from zero,
whose audit log the database itself keeps append-only, whatever the application does."""

import os
import re
import secrets
import sqlite3
from pathlib import Path

import psycopg
import pytest
from django.core import checks
from django.db import connection

from bookshop.env import database_from_url
from privacy.audit import guard as audit_guard
from privacy.ops import checks as ops_checks
from tests.conftest import raw_connection

REFUSED = (sqlite3.DatabaseError, psycopg.Error)


def test_the_suite_runs_on_a_sqlite_file_in_wal_mode(db):
    if connection.vendor != "sqlite":
        pytest.skip("the suite runs on PostgreSQL")
    assert not connection.is_in_memory_db()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA database_list")
        files = {name: path for _seq, name, path in cursor.fetchall()}
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 1  # NORMAL, as the settings ask
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == 20_000
    main = Path(files["main"])
    assert main == Path(connection.settings_dict["NAME"]).resolve()
    assert main.is_file() and main.stat().st_size > 0
    assert Path(f"{main}-wal").exists()  # the write-ahead log beside it


def test_the_suite_opens_its_database_with_the_real_settings_options(db):
    """The options are the ones bookshop/env.py gives for DATABASE_URL, not test ones."""
    url = os.environ.get("DATABASE_URL", "sqlite:///var/shiori.sqlite3")
    assert connection.settings_dict["OPTIONS"] == database_from_url(url)["OPTIONS"]


def _log_rows(db) -> list:
    return db.execute("SELECT seq, event, entry_hash FROM privacy_auditlogentry ORDER BY seq")


def _refused(db, statement: str) -> None:
    with pytest.raises(REFUSED, match="append-only"):
        db.execute(statement)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_migrate_from_zero_leaves_a_log_the_database_keeps_append_only(
    engine, new_database, manage
):
    """`migrate` on a brand-new database (SQLite's table rebuild in 0014 dropped the triggers
    until 0016 put them back), then raw SQL past the application: UPDATE, DELETE and, on
    PostgreSQL, TRUNCATE are refused by the database. Without the guard, start-up fails and
    says what to run."""
    url = new_database(engine)
    manage("check", url=url)  # nothing to check on a database not yet migrated
    manage("migrate", "--noinput", url=url)
    manage("seed_demo", "--customers", "0", url=url)  # staff and rules: entries in the log
    db = raw_connection(url)
    try:
        before = list(_log_rows(db))
        assert before, "the log should hold entries to refuse changing"
        _refused(db, "UPDATE privacy_auditlogentry SET event = 'forged'")
        _refused(db, "UPDATE privacy_auditlogentry SET additional_data = NULL WHERE seq = 1")
        _refused(db, "DELETE FROM privacy_auditlogentry")
        _refused(db, "DELETE FROM privacy_auditlogentry WHERE seq = 1")
        if engine == "postgresql":
            _refused(db, "TRUNCATE privacy_auditlogentry")
        assert list(_log_rows(db)) == before
        manage("verify_audit_log", url=url)

        # Someone drops a trigger: the next start refuses, naming the command that mends it.
        trigger = audit_guard.TRIGGERS[engine][-1]
        on_table = f" ON {audit_guard.TABLE}" if engine == "postgresql" else ""
        db.execute(f"DROP TRIGGER {trigger}{on_table}")
        refused = manage("check", url=url, check=False)
        assert refused.returncode != 0
        assert "privacy.E002" in refused.stderr and trigger in refused.stderr
        assert audit_guard.REINSTALL_COMMAND in refused.stderr
    finally:
        db.close()
    manage("shell", "-c", audit_guard.REINSTALL_CODE, url=url)
    manage("check", url=url)
    db = raw_connection(url)
    try:
        _refused(db, "DELETE FROM privacy_auditlogentry")
    finally:
        db.close()


def test_the_start_up_check_finds_a_missing_guard_in_the_suites_database(db):
    """The suite's own database was built by migrations too: the guard is there, and the
    check (tagged database, run at every start) says so; without it, an Error."""
    assert checks.Tags.database in ops_checks.audit_log_is_append_only.tags
    assert ops_checks.audit_log_is_append_only(databases=["default"]) == []
    assert ops_checks.audit_log_is_append_only() == []  # runserver: no database named
    assert audit_guard.missing(connection) == []
    audit_guard.remove(connection)  # inside the test's transaction, rolled back after it
    (error,) = ops_checks.audit_log_is_append_only(databases=["default"])
    assert isinstance(error, checks.Error) and error.id == "privacy.E002"
    assert audit_guard.REINSTALL_COMMAND in error.msg
    assert set(audit_guard.missing(connection)) == set(audit_guard.TRIGGERS[connection.vendor])
    audit_guard.install(connection)
    assert ops_checks.audit_log_is_append_only(databases=["default"]) == []


def _make_run_environment(var_dir: Path) -> dict:
    """What `make run` exports (the Makefile's ``run: export NAME = value`` lines, read from
    the Makefile itself so the test follows it), its secret key generated under var/ as the
    recipe does (once, mode 600)."""
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    exported = dict(re.findall(r"^run: export (\w+) \??= (.*)$", makefile, flags=re.MULTILINE))
    assert exported.get("DJANGO_DEBUG") == "0"  # the demo runs with production's settings
    assert exported.get("DJANGO_SECRET_KEY_FILE") == "$(DEMO_SECRET_KEY)"
    assert "$(or $(BOOKSHOP_VAR_DIR),var)/demo-secret-key" in makefile
    key = var_dir / "demo-secret-key"
    var_dir.mkdir(parents=True, exist_ok=True)
    key.write_text(secrets.token_urlsafe(64) + "\n", encoding="utf-8")
    key.chmod(0o600)
    return {**exported, "DJANGO_SECRET_KEY_FILE": str(key), "BOOKSHOP_VAR_DIR": str(var_dir)}


def test_the_demo_starts_on_a_new_sqlite_file_as_make_run_does(new_database, manage, tmp_path):
    """`make run`'s steps, as commands with the environment it exports (DJANGO_DEBUG=0, the
    secret key it generates under var/, the whole day as business hours, ...): migrate a new
    file, seed the demo through the services (which pass the gate like any page), and the
    demo's customers are there, readable only once the staff have acknowledged the rules the
    demo then publishes; the start-up checks pass and the outbox worker it starts in the
    background runs on the file."""
    url = new_database("sqlite")
    env = _make_run_environment(tmp_path / "var")
    manage("migrate", "--noinput", url=url, env=env)
    seeded = manage("seed_demo", "--customers", "5", "--if-empty", url=url, env=env)
    assert "Created 5 demo customers" in seeded.stdout
    again = manage("seed_demo", "--customers", "5", "--if-empty", url=url, env=env)
    assert "none added" in again.stdout
    manage("check", "--database", "default", url=url, env=env)  # as runserver starts
    manage("send_outbox", url=url, env=env)  # one pass of `send_outbox --loop`
    with raw_connection(url) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM customers_customer").fetchone()
        (rules,) = db.execute("SELECT COUNT(*) FROM privacy_handlingrules").fetchone()
    assert (count, rules) == (5, 1)
