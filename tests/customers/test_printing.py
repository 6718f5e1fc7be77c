"""Printed lists: the pickup list and the order slip, their watermark, masked phones, and
the read log of everyone on the paper."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from customers import services
from customers.models import PrintJob
from privacy.access import grants as access
from privacy.audit.models import AuditLogEntry
from privacy.consent import purposes
from tests.conftest import CANARIES, TOLD, customer_data, login, make_staff, order_data

PRINT_READ = "customers.print.read"


def arrived(clerk, *, phone, title, notify=False, **customer):
    order = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(phone=phone, **customer),
        order_data=order_data(title=title),
    )
    services.order_mark_ordered(actor=clerk, order_id=order.pk)
    services.order_mark_arrived(actor=clerk, order_id=order.pk)
    if notify:
        services.order_notify(actor=clerk, order_id=order.pk, channel="counter")
    return order


def hidden_from_team(order):
    """Only the person who took the order keeps seeing the customer."""
    for grant in access.active_grants(order.customer).filter(group__isnull=False):
        access.revoke(grant, by=None)


@pytest.fixture
def shelf(clerk, outsider_clerk):
    """Two customers waiting (one with two books), one order not yet arrived, and one
    customer waiting whom the clerk may not see."""
    first = arrived(clerk, phone=CANARIES["phone"], title="棚の本その一")
    second = arrived(
        clerk, phone="08055551234", title="棚の本その二", notify=True, family_name="二番目"
    )
    services.order_create(actor=clerk, customer=second.customer, data=order_data(title="未着の本"))
    extra = services.order_create(
        actor=clerk, customer=first.customer, data=order_data(title="棚の本その三")
    )
    services.order_mark_ordered(actor=clerk, order_id=extra.pk)
    services.order_mark_arrived(actor=clerk, order_id=extra.pk)
    secret = arrived(
        outsider_clerk, phone="07000009999", title="見えない人の本", family_name="見えない人"
    )
    hidden_from_team(secret)
    return first.customer, second.customer, secret.customer


def print_pickup_list(client):
    response = client.post("/print/pickup-list/")
    assert response.status_code == 302, response.content[:300]
    assert re.fullmatch(r"/print/[0-9a-f-]{36}/", response["Location"])
    return response, client.get(response["Location"])


def test_printing_the_pickup_list_logs_one_read_per_customer_and_masks_phones(client, clerk, shelf):
    first, second, secret = shelf
    login(client, clerk)
    before = AuditLogEntry.objects.count()

    _redirect, page = print_pickup_list(client)

    html = page.content.decode()
    assert page.status_code == 200
    assert "棚の本その一" in html and "棚の本その二" in html and "棚の本その三" in html
    assert "未着の本" not in html  # not arrived yet
    assert "見えない人" not in html and "07000009999" not in html  # never more than visible
    # Masked to the last four digits: the full number appears in no spelling.
    for full in (CANARIES["phone"], "090-7123-4987", "09071234987", "08055551234", "080-5555-1234"):
        assert full not in html
    assert "•••-••••-4987" in html and "•••-••••-1234" in html

    reads = AuditLogEntry.objects.filter(event=PRINT_READ)
    assert sorted(e.object_pk for e in reads) == sorted([str(first.pk), str(second.pk)])
    assert all(
        e.actor == clerk and e.additional_data["purpose"] == "print_pickup_list" for e in reads
    )
    job = PrintJob.objects.get()
    assert job.kind == "pickup_list" and job.printed_by == clerk and job.count == 2
    assert job.orders.count() == 3
    event = AuditLogEntry.objects.get(event="customers.print.created")
    assert event.additional_data == {
        "print_id": job.print_id,
        "kind": "pickup_list",
        "customers": 2,
    }
    # Opening the printed page is the print itself: nothing more than the reads and the event.
    assert AuditLogEntry.objects.count() - before == 3


def test_the_watermark_names_the_printer_the_time_and_the_print_id(client, clerk, shelf):
    login(client, clerk)
    _redirect, page = print_pickup_list(client)
    job = PrintJob.objects.get()
    html = page.content.decode()
    watermark = re.search(r'<div class="print-watermark".*?</div>', html, re.S).group(0)
    printed_at = timezone.localtime(job.printed_at).strftime("%Y-%m-%d %H:%M")
    assert clerk.last_name in watermark
    assert printed_at in watermark
    assert job.print_id in watermark and re.fullmatch(r"P-[0-9A-F]{8}", job.print_id)
    assert "複製禁止・使用後はシュレッダーへ" in watermark
    # The line repeated at the foot of every printed page says the same.
    stamp = re.search(r'<p class="print-stamp">(.*?)</p>', html, re.S).group(1)
    assert job.print_id in stamp and clerk.last_name in stamp and "複製禁止" in stamp
    assert 'src="/static/print.js"' in html and "<script>" not in html  # no inline script


def test_a_print_opens_only_for_its_printer_or_a_manager_and_reopening_is_logged(
    client, clerk, outsider_clerk, manager, shelf
):
    first, _second, _secret = shelf
    login(client, clerk)
    redirect, _page = print_pickup_list(client)
    url = redirect["Location"]

    colleague = make_staff("colleague", "clerk", counter=True)  # sees the same customers
    for other in (outsider_clerk, colleague):
        response = login(Client(), other).get(url)
        assert response.status_code == 404
        assert CANARIES["family_name"] not in response.content.decode()
    assert not AuditLogEntry.objects.filter(event=PRINT_READ, actor__in=[outsider_clerk, colleague])

    boss = login(Client(), manager)
    traced = boss.get(url)
    assert traced.status_code == 200
    assert "再表示" in traced.content.decode()  # the paper says it was opened again, and by whom
    reopened = AuditLogEntry.objects.filter(event=PRINT_READ, actor=manager)
    assert reopened.count() == 2
    assert {e.additional_data["purpose"] for e in reopened} == {"print_reopened"}

    client.get(url)  # the printer reloads: a second look, logged too
    assert (
        AuditLogEntry.objects.filter(
            event=PRINT_READ, actor=clerk, additional_data__purpose="print_reopened"
        ).count()
        == 2
    )
    assert AuditLogEntry.objects.filter(event="customers.print.reopened").count() == 2


def test_the_order_slip_carries_the_privacy_notice_and_the_privacy_page_address(
    client, clerk, order
):
    login(client, clerk)
    response = client.post(f"/print/orders/{order.pk}/slip/")
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    notice = purposes.current_notice()
    assert notice.text_ja in html
    assert "http://testserver/privacy/" in html
    assert order.reference in html and order.title in html
    assert CANARIES["phone"] not in html and "090-7123-4987" not in html
    assert "•••-••••-4987" in html
    job = PrintJob.objects.get()
    assert job.kind == "order_slip" and job.print_id in html
    read = AuditLogEntry.objects.get(event=PRINT_READ)
    assert read.object_pk == str(order.customer_id)
    assert read.additional_data["purpose"] == "print_order_slip"


def test_no_slip_for_an_order_the_clerk_may_not_see(clerk, outsider_clerk, order):
    hidden_from_team(order)
    access.revoke(access.active_grants(order.customer).get(user=clerk), by=None)
    response = login(Client(), outsider_clerk).post(f"/print/orders/{order.pk}/slip/")
    assert response.status_code == 404
    assert not PrintJob.objects.exists()
    assert not AuditLogEntry.objects.filter(event__startswith="customers.print").exists()


def test_nothing_waiting_prints_nothing(client, clerk, order):
    login(client, clerk)
    client.cookies["django_language"] = "en"
    response = client.post("/print/pickup-list/", follow=True)
    assert "nothing to print" in response.content.decode()
    assert not PrintJob.objects.exists()


def test_printing_is_one_click_from_the_order_board_and_the_customer_page(client, clerk, shelf):
    first, _second, _secret = shelf
    login(client, clerk)
    board = client.get("/board/").content.decode()
    assert 'action="/print/pickup-list/"' in board
    order = first.orders.first()
    assert f'action="/print/orders/{order.pk}/slip/"' in board
    page = client.get(f"/customers/{first.pk}/").content.decode()
    assert f'action="/print/orders/{order.pk}/slip/"' in page


def test_the_manager_traces_a_print_id_found_on_paper(client, clerk, manager, shelf):
    first, second, _secret = shelf
    login(client, clerk)
    print_pickup_list(client)
    job = PrintJob.objects.get()

    boss = login(Client(), manager)
    html = boss.get("/manager/prints/", {"print_id": job.print_id.lower()}).content.decode()
    assert first.reference in html and second.reference in html
    assert CANARIES["family_name"] not in html  # references only
    assert clerk.last_name in html
    traced = AuditLogEntry.objects.filter(event="customers.print.trace.read", actor=manager)
    assert {e.object_pk for e in traced} == {str(first.pk), str(second.pk)}
    boss.cookies["django_language"] = "en"
    missing = boss.get("/manager/prints/", {"print_id": "P-00000000"}).content.decode()
    assert "No print with this id." in missing
