import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.utils import timezone

from customers import selectors, services
from customers.models import Customer, SpecialOrder
from privacy.audit.models import AuditLogEntry
from privacy.consent import purposes
from privacy.desks import erasure
from privacy.desks.models import DataRequest, DisclosureRelease
from privacy.vault import datakeys
from privacy.vault.models import DataKey
from tests.conftest import CANARIES, ORDER_CANARIES, TOLD, customer_data, login, order_data


@pytest.fixture
def ledger(tmp_path, settings):
    settings.BOOKSHOP_ERASURE_LEDGER = str(tmp_path / "erasure-ledger.jsonl")
    return tmp_path / "erasure-ledger.jsonl"


def take_through(kind, manager, approver, customer, outcome="complete"):
    """Public intake, identity check with the customer linked, work, proposal, approval."""
    Client(REMOTE_ADDR="192.0.2.50").post(
        "/privacy/request/", {"kind": kind, "name": "本人", "contact": "090", "details": ""}
    )
    item = DataRequest.objects.latest("received_at")
    boss = login(Client(), manager)
    boss.post(
        f"/requests/{item.pk}/verify/",
        {"method": "driving_licence", "customer_reference": customer.reference},
    )
    boss.post(f"/requests/{item.pk}/start/")
    boss.post(f"/requests/{item.pk}/propose/", {"outcome": outcome, "reply": "対応しました"})
    second = login(Client(), approver)
    second.cookies["django_language"] = "en"
    response = second.post(f"/requests/{item.pk}/approve/", follow=True)
    item.refresh_from_db()
    return item, [str(m) for m in get_messages(response.wsgi_request)] + [
        str(m) for m in response.context["messages"]
    ]


def issue_link(manager, item) -> str:
    """The manager handling the approved disclosure issues its one-time link."""
    boss = login(Client(), manager)
    boss.cookies["django_language"] = "en"
    response = boss.post(f"/requests/{item.pk}/release/", follow=True)
    shown = [str(m) for m in response.context["messages"]]
    return next(
        re.search(r"/privacy/disclosure/[\w-]+/", m).group(0)
        for m in shown
        if "/privacy/disclosure/" in m
    )


def test_the_link_goes_to_the_manager_handling_the_request_never_to_the_approver(
    manager, clerk, customer
):
    item, shown = take_through("disclosure", manager, clerk, customer)
    assert item.status == "completed"
    assert not any("/privacy/disclosure/" in m for m in shown)
    approver = login(Client(), clerk)
    assert approver.post(f"/requests/{item.pk}/release/").status_code == 404
    assert not DisclosureRelease.objects.exists()
    page = login(Client(), manager).get(f"/requests/{item.pk}/").content.decode()
    assert f"/requests/{item.pk}/release/" in page
    issue_link(manager, item)
    # Once only: the form is gone and a second try is refused.
    page = login(Client(), manager).get(f"/requests/{item.pk}/").content.decode()
    assert f"/requests/{item.pk}/release/" not in page
    assert DisclosureRelease.objects.count() == 1


def test_a_disclosure_is_released_once_through_an_expiring_link(manager, clerk, customer):
    other = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(phone="08012121212", family_name="他人Xx"),
        order_data=order_data(title="他人の本Yy"),
    ).customer
    login(Client(), clerk).get(f"/customers/{customer.pk}/")  # a read that the package shows
    item, _shown = take_through("disclosure", manager, clerk, customer)
    assert item.status == "completed"
    link = issue_link(manager, item)

    person = Client()
    assert person.get(link).status_code == 200  # a look does not use it up
    response = person.post(link)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert {"package.json", "profile.csv", "orders.csv", "access_log.csv", "package.html"} <= set(
        archive.namelist()
    )
    package = json.loads(archive.read("package.json"))
    text = json.dumps(package, ensure_ascii=False)
    for value in [*CANARIES.values(), ORDER_CANARIES["title"], ORDER_CANARIES["isbn"]]:
        assert value in text
    assert "他人Xx" not in text and "他人の本Yy" not in text and str(other.pk) not in text
    assert any(row["purpose"] == "customer_record" for row in package["access_log"])
    assert package["notices"][0]["method"] == "screen"

    assert person.post(link).status_code == 410  # once only
    assert AuditLogEntry.objects.filter(event="privacy.disclosure.downloaded").count() == 1


def test_a_disclosure_link_expires(manager, clerk, customer):
    item, _shown = take_through("disclosure", manager, clerk, customer)
    link = issue_link(manager, item)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert Client().post(link).status_code == 410


def test_a_made_up_link_gets_nothing(db):
    assert Client().post("/privacy/disclosure/not-a-real-token/").status_code == 410


def test_erasure_after_approval_leaves_nothing_readable(
    manager, clerk, customer, order, ledger, django_capture_on_commit_callbacks
):
    other = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(phone="08034343434"),
        order_data=order_data(),
    )
    services.order_cancel(actor=clerk, order_id=order.pk, reason="erasure")
    with connection.cursor() as cursor:
        key = customer.pk.hex if connection.vendor == "sqlite" else customer.pk
        cursor.execute("SELECT phone FROM customers_customer WHERE id = %s", [key])
        old_phone = cursor.fetchone()[0]
    orders_before = SpecialOrder.objects.count()

    with django_capture_on_commit_callbacks(execute=True):  # the ledger line: at commit
        item, _shown = take_through("erasure", manager, clerk, customer)
    assert item.status == "completed"

    erased = Customer.objects.get(pk=customer.pk)
    assert erased.erased_at is not None
    assert all(getattr(erased, name) is None for name in CANARIES)
    assert all(o.title is None and o.isbn is None for o in erased.orders.all())
    assert not DataKey.objects.filter(subject_id=customer.pk).exists()
    assert SpecialOrder.objects.count() == orders_before  # sales figures stay
    assert str(customer.pk) in ledger.read_text() and str(customer.pk) in erasure.erased_subjects()

    # Even the old ciphertext, put back from a copy, can no longer be read: its key is gone.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customer SET phone = %s WHERE id = %s", [old_phone, key])
    datakeys._cache().clear()
    with pytest.raises(datakeys.DataKeyDestroyed):
        Customer.objects.get(pk=customer.pk).phone

    for user in (clerk, manager):
        client = login(Client(), user)
        assert client.get(f"/customers/{customer.pk}/").status_code == 404
        assert selectors.find_customers(user, phone=CANARIES["phone"]) == []
    survivor = Customer.objects.get(pk=other.customer_id)
    assert survivor.phone == "08034343434" and survivor.erased_at is None


def test_open_orders_block_erasure(manager, clerk, customer, ledger):
    item, shown = take_through("erasure", manager, clerk, customer)
    assert item.status == "awaiting_approval"
    assert any("open orders" in m for m in shown)
    assert Customer.objects.get(pk=customer.pk).erased_at is None
    assert not ledger.exists()


def test_the_erasure_pages_say_it_cannot_be_undone(manager, clerk, customer):
    Client(REMOTE_ADDR="192.0.2.60").post(
        "/privacy/request/", {"kind": "erasure", "name": "a", "contact": "b", "details": ""}
    )
    item = DataRequest.objects.get()
    boss = login(Client(), manager)
    boss.cookies["django_language"] = "en"
    assert "cannot be undone" in boss.get(f"/requests/{item.pk}/").content.decode()


def test_a_suspension_request_blocks_that_use_everywhere(manager, clerk, order):
    Client(REMOTE_ADDR="192.0.2.70").post(
        "/privacy/request/", {"kind": "suspension", "name": "a", "contact": "b", "details": ""}
    )
    item = DataRequest.objects.get()
    boss = login(Client(), manager)
    boss.post(
        f"/requests/{item.pk}/verify/",
        {"method": "passport", "customer_reference": order.customer.reference},
    )
    boss.post(f"/requests/{item.pk}/start/")
    boss.post(f"/requests/{item.pk}/suspend/", {"purposes": [purposes.ARRIVAL_NOTICE]})
    services.order_mark_ordered(actor=clerk, order_id=order.pk)
    services.order_mark_arrived(actor=clerk, order_id=order.pk)
    with pytest.raises(services.OrderError):
        services.order_notify(actor=clerk, order_id=order.pk, channel="email")


@pytest.mark.django_db(transaction=True)
def test_an_erasure_sent_back_then_approved_writes_no_ledger_line(
    transactional_audit, manager, clerk, order, ledger
):
    """Issue 14: the second person sent the erasure back; an approval clicked afterwards (a
    stale page) is refused and rolled back, and must leave no line in the ledger, or the
    next restore would erase a customer the second person declined."""
    customer = order.customer
    services.order_cancel(actor=clerk, order_id=order.pk, reason="erasure")
    Client(REMOTE_ADDR="192.0.2.51").post(
        "/privacy/request/", {"kind": "erasure", "name": "本人", "contact": "090", "details": ""}
    )
    item = DataRequest.objects.latest("received_at")
    boss = login(Client(), manager)
    boss.cookies["django_language"] = "en"
    boss.post(
        f"/requests/{item.pk}/verify/",
        {"method": "driving_licence", "customer_reference": customer.reference},
    )
    boss.post(f"/requests/{item.pk}/start/")
    boss.post(f"/requests/{item.pk}/propose/", {"outcome": "complete", "reply": "消去します"})
    second = login(Client(), clerk)
    second.post(f"/requests/{item.pk}/send_back/")
    item.refresh_from_db()
    assert item.status == "in_progress"

    response = boss.post(f"/requests/{item.pk}/approve/")
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("that step is not possible now" in m for m in shown), shown
    item.refresh_from_db()
    assert item.status == "in_progress"
    assert Customer.objects.get(pk=customer.pk).erased_at is None
    assert DataKey.objects.filter(subject_id=customer.pk).exists()
    assert not ledger.exists() or str(customer.pk) not in ledger.read_text()
    assert str(customer.pk) not in erasure.erased_subjects()

    # Approved properly this time: the line is written once the erasure has committed.
    boss.post(f"/requests/{item.pk}/propose/", {"outcome": "complete", "reply": "消去します"})
    second = login(Client(), clerk)
    second.post(f"/requests/{item.pk}/approve/")
    erased = Customer.objects.get(pk=customer.pk)
    assert erased.erased_at is not None
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [line["subject"] for line in lines] == [str(customer.pk)]
    assert lines[0]["at"] == erased.erased_at.isoformat()
    assert lines[0]["key"] == erasure.active_audit_key()[0]
    assert erasure.erased_subjects() == {str(customer.pk)}


def test_a_tampered_ledger_line_is_reported_not_dropped(
    manager, clerk, customer, order, ledger, django_capture_on_commit_callbacks
):
    services.order_cancel(actor=clerk, order_id=order.pk, reason="erasure")
    with django_capture_on_commit_callbacks(execute=True):
        erasure.erase_customer(customer, by=manager)
    assert erasure.erased_subjects() == {str(customer.pk)}
    line = json.loads(ledger.read_text())
    forged = {**line, "subject": "00000000-0000-0000-0000-000000000001"}
    with ledger.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")
    with pytest.raises(erasure.LedgerError, match="line 2 .* bad signature"):
        erasure.erased_subjects()


def test_old_ledger_lines_without_a_key_name_still_verify(ledger, db):
    """Lines written before they named their key (format v1) verify with the first key."""
    import hashlib
    import hmac

    from privacy.vault import keyring

    ring = keyring.load()
    old_key = ring.audit_keys.get(keyring.AUDIT_V1_ID, ring.audit_key)
    subject, at = "6f1c2a3b-0000-4000-8000-000000000001", "2025-01-02T03:04:05+00:00"
    mac = hmac.new(old_key, f"erasure|{subject}|{at}".encode(), hashlib.sha256).hexdigest()
    ledger.write_text(json.dumps({"subject": subject, "at": at, "mac": mac}) + "\n")
    assert erasure.erased_subjects() == {subject}
    ledger.write_text(json.dumps({"subject": subject, "at": at, "mac": "0" * 64}) + "\n")
    with pytest.raises(erasure.LedgerError, match="line 1"):
        erasure.erased_subjects()
