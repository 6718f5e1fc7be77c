"""Bulk export: asked for with a reason, approved by a second staff member (never the one who
asked), downloaded once by the one who asked within the window, watermarked, and logged
with one read entry per customer in it."""

import csv
import io
import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from customers import services
from privacy.audit.models import AuditLogEntry
from privacy.desks import erasure
from privacy.desks.models import ExportRequest
from tests.conftest import (
    CANARIES,
    ORDER_CANARIES,
    TOLD,
    customer_data,
    login,
    make_staff,
    order_data,
)


@pytest.fixture
def second_manager(db):
    return make_staff("manager2", "manager", counter=True)


@pytest.fixture
def customers(clerk):
    """Three customers; the first is full of canary values."""
    made = [
        services.order_create_with_customer(
            notice=TOLD, actor=clerk, customer_data=customer_data(), order_data=order_data()
        ).customer
    ]
    for phone in ("08011110001", "08011110002"):
        made.append(
            services.order_create_with_customer(
                notice=TOLD,
                actor=clerk,
                customer_data=customer_data(
                    phone=phone, family_name="他人" + phone[-1], email="", notes=""
                ),
                order_data=order_data(),
            ).customer
        )
    return made


def english(client):
    client.cookies["django_language"] = "en"
    return client


def shown(response) -> list[str]:
    found = [str(m) for m in get_messages(response.wsgi_request)]
    if response.context is not None and "messages" in response.context:
        found += [str(m) for m in response.context["messages"]]
    return found


def ask(client, **data):
    post = {"scope": "all", "reason": "移行のため全顧客を書き出す"}
    post.update(data)
    return client.post("/manager/exports/", post)


def rows_of(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark for spreadsheets
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_an_export_needs_a_second_manager_and_downloads_once_watermarked_and_logged(
    customers, manager, second_manager, clerk
):
    asker = english(login(Client(), manager))
    assert ask(asker).status_code == 302
    item = ExportRequest.objects.get()
    assert item.status == "proposed" and item.customer_count == 3

    # Not before approval, not by the one who asked, not by the administrator.
    response = asker.post(f"/manager/exports/{item.pk}/download/", follow=True)
    assert response["Content-Type"].startswith("text/html")
    assert any("cannot be downloaded" in m for m in shown(response))
    response = asker.post(f"/manager/exports/{item.pk}/approve/", follow=True)
    assert "A second staff member must approve this; you asked for it." in shown(response)
    administrator = make_staff("admin2", "administrator")
    assert (
        login(Client(), administrator).post(f"/manager/exports/{item.pk}/approve/").status_code
        == 403
    )
    item.refresh_from_db()
    assert item.status == "proposed"
    assert not AuditLogEntry.objects.filter(additional_data__purpose="bulk_export").exists()

    approver = english(login(Client(), second_manager))
    approve_form = f'action="/manager/exports/{item.pk}/approve/"'
    assert approve_form in approver.get(f"/manager/exports/{item.pk}/").content.decode()
    assert approve_form not in asker.get(f"/manager/exports/{item.pk}/").content.decode()
    approver.post(f"/manager/exports/{item.pk}/approve/")
    download_form = f'action="/manager/exports/{item.pk}/download/"'
    assert (
        download_form
        in login(Client(), manager).get(f"/manager/exports/{item.pk}/").content.decode()
    )
    assert download_form not in approver.get(f"/manager/exports/{item.pk}/").content.decode()
    item.refresh_from_db()
    assert item.status == "approved" and item.decided_by == second_manager
    # The approver cannot take the file: only the one who asked.
    assert approver.post(f"/manager/exports/{item.pk}/download/").status_code == 404

    response = asker.post(f"/manager/exports/{item.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert item.reference in response["Content-Disposition"]
    rows = rows_of(response.content)
    watermark = rows[0][0]
    assert watermark.startswith("# CONFIDENTIAL. Shiori export " + item.reference)
    assert "Asked for by Manager, approved by Manager2," in watermark
    assert str(timezone.localdate().year) in watermark and "do not copy" in watermark
    header, body = rows[1], rows[2:]
    assert header[:2] == ["export", "reference"] and "phone" in header
    assert len(body) == 3 and all(row[0] == item.reference for row in body)
    text = response.content.decode("utf-8-sig")
    for value in CANARIES.values():
        assert value in text
    for value in ORDER_CANARIES.values():
        assert value not in text  # profiles only: no reading records

    reads = AuditLogEntry.objects.filter(event="customers.customer.read", actor=manager)
    reads = reads.filter(additional_data__purpose="bulk_export")
    assert sorted(r.object_pk for r in reads) == sorted(str(c.pk) for c in customers)
    assert all(r.additional_data["export"] == item.reference for r in reads)
    assert AuditLogEntry.objects.filter(event="privacy.export.downloaded").count() == 1

    # Once only.
    again = asker.post(f"/manager/exports/{item.pk}/download/", follow=True)
    assert again["Content-Type"].startswith("text/html")
    assert any("cannot be downloaded" in m for m in shown(again))
    assert reads.count() == 3


def test_the_window_closes(customers, manager, second_manager, settings):
    asker = login(Client(), manager)
    ask(asker)
    item = ExportRequest.objects.get()
    login(Client(), second_manager).post(f"/manager/exports/{item.pk}/approve/")
    later = timezone.now() + timedelta(hours=settings.BOOKSHOP_EXPORT_DOWNLOAD_HOURS, minutes=1)
    with time_machine.travel(later):
        late = login(Client(), manager).post(f"/manager/exports/{item.pk}/download/")
    assert late.status_code == 302
    item.refresh_from_db()
    assert item.downloaded_at is None
    assert not AuditLogEntry.objects.filter(additional_data__purpose="bulk_export").exists()


def test_a_date_range_exports_only_those_who_ordered_in_it(
    customers, clerk, manager, second_manager
):
    later = timezone.now() + timedelta(days=40)
    with time_machine.travel(later):
        services.order_create(actor=clerk, customer=customers[1], data=order_data())
        day = timezone.localdate()
        asker = login(Client(), manager)
        ask(asker, scope="ordered_between", date_from=day.isoformat(), date_to=day.isoformat())
        item = ExportRequest.objects.get()
        assert item.customer_ids == [str(customers[1].pk)]
        login(Client(), second_manager).post(f"/manager/exports/{item.pk}/approve/")
        rows = rows_of(asker.post(f"/manager/exports/{item.pk}/download/").content)
    assert [row[1] for row in rows[2:]] == [customers[1].reference]


def test_bad_input_is_shown_beside_the_field_and_saves_nothing(customers, manager):
    asker = english(login(Client(), manager))
    response = ask(asker, scope="ordered_between", date_from="2026-05-01", reason="")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["date_to"] == ["Give the last day."]
    assert "reason" in form.errors
    assert form["date_from"].value() == "2026-05-01"
    response = ask(asker, scope="ordered_between", date_from="2020-01-02", date_to="2020-01-01")
    assert response.context["form"].errors["date_to"] == [
        "The last day cannot be before the first."
    ]
    response = ask(asker, scope="ordered_between", date_from="2000-01-01", date_to="2000-01-31")
    assert "No customer matches: there is nothing to export." in response.content.decode()
    assert not ExportRequest.objects.exists()
    assert (
        login(Client(), make_staff("clerk2", "clerk")).get("/manager/exports/").status_code == 403
    )


def test_erased_customers_are_left_out_and_formulas_are_defused(
    customers, clerk, manager, second_manager, tmp_path, settings
):
    settings.BOOKSHOP_ERASURE_LEDGER = str(tmp_path / "ledger.jsonl")
    services.customer_update(
        actor=clerk,
        customer_id=customers[2].pk,
        data={"notes": '=HYPERLINK("http://x")'},
        expected_version=customers[2].version,
    )
    asker = login(Client(), manager)
    ask(asker)
    item = ExportRequest.objects.get()
    login(Client(), second_manager).post(f"/manager/exports/{item.pk}/approve/")
    order = customers[1].orders.get()
    services.order_cancel(actor=clerk, order_id=order.pk, reason="x")
    erasure.erase_customer(customers[1], by=manager)
    rows = rows_of(asker.post(f"/manager/exports/{item.pk}/download/").content)
    assert [row[1] for row in rows[2:]] == [customers[0].reference, customers[2].reference]
    notes = rows[1].index("notes")
    assert rows[3][notes] == '\'=HYPERLINK("http://x")'
    item.refresh_from_db()
    assert item.customers_exported == 2


def test_the_audit_log_of_an_export_holds_no_personal_data(customers, manager, second_manager):
    asker = login(Client(), manager)
    ask(asker, reason="カナリア理由Rr64")
    item = ExportRequest.objects.get()
    login(Client(), second_manager).post(f"/manager/exports/{item.pk}/approve/")
    asker.post(f"/manager/exports/{item.pk}/download/")
    entries = AuditLogEntry.objects.all()
    dumped = json.dumps(
        [[e.object_repr, e.changes, e.additional_data, e.changes_text] for e in entries],
        ensure_ascii=False,
        default=str,
    )
    for value in [*CANARIES.values(), "カナリア理由Rr64"]:
        assert value not in dumped
    assert entries.filter(event__startswith="privacy.export.").count() == 3


def test_the_board_links_retention_and_exports_for_the_manager_only(manager, clerk):
    page = english(login(Client(), manager)).get("/manager/exports/").content.decode()
    assert 'href="/manager/retention/"' in page and 'href="/manager/exports/"' in page
    board = login(Client(), clerk).get("/board/").content.decode()
    assert "/manager/exports/" not in board and "/manager/retention/" not in board


def test_no_other_page_exports_more_than_one_customers_data(administrator, customers):
    """The administrator's audit CSV is the only other export, and it names customers by
    reference only."""
    admin = login(Client(), administrator)
    text = b"".join(admin.get("/audit/export.csv").streaming_content).decode()
    assert customers[0].reference in text  # the grants to the counter are there, by reference
    for value in CANARIES.values():
        assert value not in text


def test_in_a_shop_with_one_manager_a_clerk_is_the_second_person(customers, clerk, manager):
    asker = english(login(Client(), manager))
    ask(asker)
    item = ExportRequest.objects.get()
    colleague = english(login(Client(), clerk))
    board = colleague.get("/board/").content.decode()
    assert f"Bulk export {item.reference}" in board and f"/manager/exports/{item.pk}/" in board
    assert (
        CANARIES["family_name"]
        not in colleague.get(f"/manager/exports/{item.pk}/").content.decode()
    )
    colleague.post(f"/manager/exports/{item.pk}/approve/")
    item.refresh_from_db()
    assert item.status == "approved" and item.decided_by == clerk
    # Only the manager who asked downloads it; for the clerk it does not exist.
    assert colleague.post(f"/manager/exports/{item.pk}/download/").status_code == 404
    assert asker.post(f"/manager/exports/{item.pk}/download/").status_code == 200
    assert f"Bulk export {item.reference}" not in colleague.get("/board/").content.decode()


def test_the_order_board_lists_exports_waiting_for_a_second_person_but_not_to_the_asker(
    customers, clerk, manager, second_manager
):
    from privacy.desks import exports as bulk_export

    older = bulk_export.request_export(by=manager, scope="all", reason="年末の棚卸し")
    newer = bulk_export.request_export(by=second_manager, scope="all", reason="監査")
    board = english(login(Client(), clerk)).get("/board/").content.decode()
    # The approvals inbox lists what has waited longest first.
    assert board.index(f"Bulk export {older.reference}") < board.index(
        f"Bulk export {newer.reference}"
    )
    assert f'href="/manager/exports/{older.pk}/"' in board
    own = english(login(Client(), manager)).get("/board/").content.decode()
    assert f"Bulk export {older.reference}" not in own
    assert f"Bulk export {newer.reference}" in own
    bulk_export.approve(export_id=older.pk, by=clerk)
    board = english(login(Client(), clerk)).get("/board/").content.decode()
    assert f"Bulk export {older.reference}" not in board
