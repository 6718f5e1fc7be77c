"""Canary values in every personal field must not appear in the database file, a pg_dump,
or any log line."""

import logging
import shutil
import subprocess

import pytest
from django.db import connection

from tests.conftest import CANARIES, ORDER_CANARIES

ALL_CANARIES = list({**CANARIES, **ORDER_CANARIES}.values())


def _needles():
    needles = []
    for value in ALL_CANARIES:
        needles.append(value.encode("utf-8"))
        needles.append(value.encode("utf-16-le"))
    # Normalized forms the blind index sees.
    needles.append(b"9784062934503")
    return needles


def _dump_database(tmp_path) -> bytes:
    if connection.vendor == "sqlite":
        import sqlite3

        target = tmp_path / "copy.sqlite3"
        copy = sqlite3.connect(target)
        connection.ensure_connection()
        connection.connection.backup(copy)
        copy.close()
        return target.read_bytes()
    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    settings = connection.settings_dict
    command = [
        "pg_dump",
        "--no-owner",
        "-h",
        settings["HOST"] or "127.0.0.1",
        "-U",
        settings["USER"] or "postgres",
        settings["NAME"],
    ]
    if settings["PORT"]:
        command[1:1] = ["-p", str(settings["PORT"])]
    return subprocess.run(command, check=True, capture_output=True).stdout  # noqa: S603


@pytest.mark.django_db(transaction=True)
def test_no_canary_reaches_the_database_or_the_logs(
    transactional_audit, client, clerk, tmp_path, caplog
):
    from tests.conftest import login

    caplog.set_level(logging.DEBUG)
    login(client, clerk)
    post = {f"customer-{k}": v for k, v in CANARIES.items()}
    post.update({f"order-{k}": v for k, v in ORDER_CANARIES.items()})
    post.update(
        {
            "customer-preferred_contact": "email",
            "order-quantity": "1",
            "order-deposit_paid": "0",
            "action": "create",
        }
    )
    response = client.post("/orders/new/", post)
    assert response.status_code == 302, response.content.decode()[:2000]
    detail = client.get(response["Location"])
    assert CANARIES["address"] in detail.content.decode()  # the intended decrypted view
    client.post("/board/")
    client.get("/board/")

    dump = _dump_database(tmp_path)
    assert len(dump) > 10_000
    for needle in _needles():
        assert needle not in dump, needle.decode("utf-8", "replace")
    log_text = caplog.text
    for value in ALL_CANARIES:
        assert value not in log_text
