"""Backup, erase, restore: the erased customer stays erased and every other row is equal."""

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from privacy.vault import keyring
from tests.conftest import CANARIES, ORDER_CANARIES, TOLD, customer_data, order_data

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger(tmp_path, settings):
    settings.BOOKSHOP_ERASURE_LEDGER = str(tmp_path / "erasure-ledger.jsonl")
    return Path(settings.BOOKSHOP_ERASURE_LEDGER)


def _plain(value):
    """One form for a value, whichever driver read it (Django's SQLite cursor parses dates)."""
    import datetime

    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            value = json.loads(value)  # Django's cursor leaves jsonb as text; psycopg parses it
        except ValueError:
            return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, datetime.datetime) and connection.vendor == "sqlite":
        return str(value.replace(tzinfo=None))
    if isinstance(value, datetime.date) and connection.vendor == "sqlite":
        return value.isoformat()
    return value


def _plain_rows(rows):
    return [tuple(_plain(v) for v in row) for row in rows]


def _all_rows(cursor, tables):
    """Every row of every table, as sets of driver-neutral tuples."""
    rows = {}
    for table in tables:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - names from introspection
        rows[table] = set(_plain_rows(cursor.fetchall()))
    return rows


def _mentions(row, customer_id) -> bool:
    """True when a row belongs to (or names by id) the given customer."""
    forms = {customer_id, customer_id.hex, str(customer_id)}
    return any(v in forms or (isinstance(v, str) and str(customer_id) in v) for v in row)


def _restore_into(backup_file, tmp_path, ledger):
    """Restore in a separate process, into an empty database of the same kind."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bookshop.test_settings",
        "BOOKSHOP_KEYRING": str(keyring.keyring_path()),
        "BOOKSHOP_ERASURE_LEDGER": str(ledger),
    }
    if connection.vendor == "sqlite":
        target = tmp_path / "restored.sqlite3"
        env["DATABASE_URL"] = f"sqlite:///{target}"

        def opener():
            return sqlite3.connect(target)

    else:
        name = f"shiori_restore_{uuid.uuid4().hex[:8]}"
        settings = connection.settings_dict
        host, user = settings["HOST"] or "127.0.0.1", settings["USER"] or "postgres"
        subprocess.run(["createdb", "-h", host, "-U", user, name], check=True)  # noqa: S607
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{settings['PORT'] or 5432}/{name}"
        import psycopg

        def opener():
            return psycopg.connect(host=host, user=user, port=settings["PORT"] or 5432, dbname=name)

    result = subprocess.run(
        [sys.executable, "manage.py", "restore", str(backup_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return opener, result.stdout


@pytest.mark.django_db(transaction=True)
def test_backup_erase_restore_keeps_the_erased_customer_erased(
    transactional_audit, clerk, manager, tmp_path, ledger
):
    from customers import services
    from privacy.desks import erasure

    services.order_create_with_customer(
        notice=TOLD, actor=clerk, customer_data=customer_data(), order_data=order_data()
    )
    leaving = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(phone="08077776666", family_name="消える人Zz"),
        order_data=order_data(),
    )
    backup_file = tmp_path / "shiori.backup"
    call_command("backup", "--output", str(backup_file))
    tables = sorted(connection.introspection.table_names())
    with connection.cursor() as cursor:
        before = _all_rows(cursor, tables)
    call_command("backup", "--verify", str(backup_file))
    blob = backup_file.read_bytes()
    for value in [*CANARIES.values(), ORDER_CANARIES["title"], "消える人Zz"]:
        assert value.encode() not in blob
    assert keyring.load().backup_key not in blob and keyring.keyring_path().read_bytes() not in blob

    services.order_cancel(actor=clerk, order_id=leaving.pk, reason="erasure")
    erasure.erase_customer(leaving.customer, by=manager)  # after the backup was taken

    opener, output = _restore_into(backup_file, tmp_path, ledger)
    assert "re-applied 1 erasures" in output
    restored = opener()
    there = restored.cursor()
    key = leaving.customer_id.hex if connection.vendor == "sqlite" else leaving.customer_id
    there.execute(
        "SELECT family_name, phone, erased_at FROM customers_customer WHERE id = %s".replace(
            "%s", "?" if connection.vendor == "sqlite" else "%s"
        ),
        [key],
    )
    family_name, phone, erased_at = there.fetchone()
    assert family_name is None and phone is None and erased_at is not None
    there.execute(
        "SELECT count(*) FROM privacy_datakey WHERE subject_id = %s".replace(
            "%s", "?" if connection.vendor == "sqlite" else "%s"
        ),
        [key],
    )
    assert there.fetchone()[0] == 0
    # Every other row, in every table, is as it was when the backup was taken.
    after = _all_rows(there, tables)
    assert set(after) == set(before), "a table went missing or appeared"
    erased_id = leaving.customer_id
    for table in tables:
        lost = before[table] - after[table]
        gained = after[table] - before[table]
        assert all(_mentions(row, erased_id) for row in lost), (table, len(lost))
        if table == "privacy_auditlogentry":
            continue  # the restore logs its re-application of the ledger
        assert all(_mentions(row, erased_id) for row in gained), (table, len(gained))
    assert sum(len(rows) for rows in after.values()) > 50
    name = getattr(getattr(restored, "info", None), "dbname", None)
    restored.close()
    if connection.vendor == "postgresql":
        settings = connection.settings_dict
        subprocess.run(  # noqa: S607
            [
                "dropdb",
                "-h",
                settings["HOST"] or "127.0.0.1",
                "-U",
                settings["USER"] or "postgres",
                name,
            ],
            check=True,
        )


@pytest.mark.django_db(transaction=True)
def test_a_corrupted_or_truncated_backup_is_refused(transactional_audit, clerk, tmp_path, ledger):
    good = tmp_path / "good.backup"
    call_command("backup", "--output", str(good))
    blob = good.read_bytes()
    corrupted = tmp_path / "corrupted.backup"
    corrupted.write_bytes(blob[:100] + bytes([blob[100] ^ 1]) + blob[101:])
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(blob[: len(blob) // 2])
    for broken in (corrupted, truncated):
        with pytest.raises(CommandError, match="integrity|truncated"):
            call_command("backup", "--verify", str(broken))
        with pytest.raises(CommandError, match="integrity|truncated"):
            call_command("restore", str(broken))


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_database_that_is_not_empty(transactional_audit, clerk, tmp_path, ledger):
    backup_file = tmp_path / "b.backup"
    call_command("backup", "--output", str(backup_file))
    with pytest.raises(CommandError, match="empty database"):
        call_command("restore", str(backup_file))
