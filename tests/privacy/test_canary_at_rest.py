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
def test_no_canary_leaks_from_the_main_flows(
    transactional_audit, client, clerk, administrator, outsider_clerk, tmp_path, caplog
):
    """Seed unique values into every personal field, run the main flows, then search the
    database dump, the logs, the audit log, error pages, the administrator's pages and the
    mail outbox. The only place they may appear is the intended decrypted view."""
    from django.core import mail
    from django.test import Client

    from customers.models import Customer, SpecialOrder
    from tests.conftest import login

    caplog.set_level(logging.DEBUG)
    login(client, clerk)
    post = {f"customer-{k}": v for k, v in CANARIES.items()}
    post.update({f"order-{k}": v for k, v in ORDER_CANARIES.items()})
    post.update(
        {
            "customer-preferred_contact": "phone",
            "order-quantity": "1",
            "order-deposit_paid": "0",
            "action": "create",
            "notice-method": "screen",
        }
    )
    response = client.post("/orders/new/", post)
    assert response.status_code == 302, response.content.decode()[:2000]
    customer = Customer.objects.get()
    order = SpecialOrder.objects.get()
    detail = client.get(response["Location"])
    assert CANARIES["address"] in detail.content.decode()  # the intended decrypted view

    client.post("/customers/search/", {"phone": CANARIES["phone"]})
    client.post(
        "/customers/search/",
        {"family_name_kana": CANARIES["family_name_kana"], "last4": CANARIES["phone"][-4:]},
    )
    client.post("/shipments/", {"isbn": ORDER_CANARIES["isbn"]})
    for step, data in [("ordered", {}), ("arrived", {}), ("notified", {"channel": "phone"})]:
        client.post(f"/orders/{order.pk}/{step}/", data)
    printed = client.post("/print/pickup-list/", follow=True).content.decode()
    assert CANARIES["family_name"] in printed and CANARIES["phone"] not in printed
    slip = client.post(f"/print/orders/{order.pk}/slip/", follow=True).content.decode()
    assert CANARIES["phone"] not in slip
    edit = client.get(f"/customers/{customer.pk}/edit/")
    assert edit.status_code == 200

    outputs = []
    outsider = login(Client(), outsider_clerk)
    for url in [f"/customers/{customer.pk}/", f"/customers/{customer.pk}/edit/"]:
        refused = outsider.get(url)
        assert refused.status_code == 404
        outputs.append(refused.content.decode())
    admin = login(Client(), administrator)
    outputs.append(admin.get("/audit/").content.decode())
    outputs.append(b"".join(admin.get("/audit/export.csv").streaming_content).decode())
    outputs.append(admin.get(f"/customers/{customer.pk}/").content.decode())
    outputs.extend(message.body + message.subject for message in mail.outbox)

    dump = _dump_database(tmp_path)
    assert len(dump) > 10_000
    for needle in _needles():
        assert needle not in dump, needle.decode("utf-8", "replace")
    for value in ALL_CANARIES:
        assert value not in caplog.text
        for text in outputs:
            assert value not in text
