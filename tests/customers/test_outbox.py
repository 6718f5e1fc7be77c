"""Arrival notices go through the outbox: saved with the order's step, sent by the worker as
the clerk who queued them, retried while the mail server is down, and never lost. Real SMTP:
Django's smtp backend against a closed local port, then against a local server."""

import io
import json
import logging
from datetime import datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from customers.models import NoticeMail, OutboxMessage
from privacy.audit.models import AuditLogEntry
from privacy.consent import purposes
from privacy.consent.models import PurposeSuspension
from tests.conftest import CANARIES, ORDER_CANARIES, login
from tests.fakes import FakeSMTP, free_port

ALL_CANARIES = [*CANARIES.values(), *ORDER_CANARIES.values()]


@pytest.fixture
def smtp(settings):
    """Django's real smtp backend, pointed at a local port where nothing listens yet."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 3
    return settings


def worker() -> tuple[int, str]:
    """``python manage.py send_outbox`` once: its exit status and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("send_outbox", stdout=out, stderr=err)
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    return status, out.getvalue() + err.getvalue()


def arrived(client, order):
    client.post(f"/orders/{order.pk}/ordered/")
    client.post(f"/orders/{order.pk}/arrived/")


def notify_by_email(client, order):
    return client.post(
        f"/orders/{order.pk}/notified/",
        {"channel": "email", "next": f"/customers/{order.customer_id}/"},
    )


def audit_text() -> str:
    rows = AuditLogEntry.objects.values_list(
        "object_repr", "changes", "changes_text", "serialized_data", "additional_data"
    )
    return json.dumps(list(rows), ensure_ascii=False, default=str)


def outbox_text() -> str:
    return json.dumps(list(OutboxMessage.objects.values()), ensure_ascii=False, default=str)


def test_a_notice_sent_while_the_mail_server_is_down_arrives_after_a_retry(
    client, clerk, order, smtp, caplog
):
    caplog.set_level(logging.DEBUG)
    login(client, clerk)
    arrived(client, order)
    response = notify_by_email(client, order)
    # The clerk's step is saved at once, whatever the mail server does: no 500 page.
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "notified" and order.notified_channel == "email"
    assert order.notice_mail == NoticeMail.QUEUED
    page = client.get(f"/customers/{order.customer_id}/").content.decode()
    assert "通知メール送信待ち" in page

    status, printed = worker()
    assert status == 1  # something could not be sent
    message = OutboxMessage.objects.get()
    assert message.status == NoticeMail.QUEUED and message.attempts == 1
    assert message.last_error == "ConnectionRefusedError"
    assert message.next_attempt_at - message.last_attempt_at == timedelta(minutes=1)
    assert order.reference in printed

    status, _ = worker()  # not due yet: nothing tried
    assert status == 0 and OutboxMessage.objects.get().attempts == 1

    later = timezone.now() + timedelta(minutes=2)
    with FakeSMTP(port=smtp.EMAIL_PORT) as server, time_machine.travel(later):
        status, more = worker()
    assert status == 0, more
    printed += more
    assert len(server.messages) == 1
    sent = server.messages[0]
    assert sent["to"] == [CANARIES["email"]]
    mail = message_from_bytes(sent["data"])
    body = mail.get_payload(decode=True).decode("utf-8")
    assert ORDER_CANARIES["title"] in body and CANARIES["family_name"] in body
    assert str(make_header(decode_header(mail["Subject"]))) == "お取り寄せのご注文品が入荷しました"
    assert mail["Cc"] is None and mail["Bcc"] is None

    order.refresh_from_db()
    assert order.notice_mail == NoticeMail.SENT
    message = OutboxMessage.objects.get()
    assert message.status == NoticeMail.SENT and message.attempts == 2
    entry = AuditLogEntry.objects.get(event="customers.order.notice_sent")
    assert entry.actor == clerk
    page = client.get(f"/customers/{order.customer_id}/").content.decode()
    assert "通知メール送信済み" in page

    # Nothing personal in the outbox row, the worker's output, the logs or the audit log.
    for text in (outbox_text(), printed, caplog.text, audit_text()):
        for value in ALL_CANARIES:
            assert value not in text


def test_retries_back_off_then_the_notice_fails_and_the_clerk_sends_it_again(
    client, clerk, order, smtp, settings
):
    settings.BOOKSHOP_OUTBOX_RETRY_MINUTES = [1, 5, 15, 60]
    login(client, clerk)
    arrived(client, order)
    notify_by_email(client, order)
    waits = []
    moment = timezone.now()
    for _ in range(5):
        with time_machine.travel(moment):
            assert worker()[0] == 1
        message = OutboxMessage.objects.get()
        if message.next_attempt_at:
            waits.append(message.next_attempt_at - message.last_attempt_at)
            moment = message.next_attempt_at + timedelta(seconds=1)
    assert waits == [timedelta(minutes=m) for m in (1, 5, 15, 60)]
    message = OutboxMessage.objects.get()
    assert message.status == NoticeMail.FAILED and message.attempts == 5
    order.refresh_from_db()
    assert order.notice_mail == NoticeMail.FAILED
    failed = AuditLogEntry.objects.get(event="customers.order.notice_failed")
    assert failed.additional_data["error"] == "ConnectionRefusedError"

    board = client.get("/board/").content.decode()
    assert "通知メール送信失敗" in board and "もう一度送信" in board

    response = client.post(f"/orders/{order.pk}/notice/resend/", follow=True)
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.notice_mail == NoticeMail.QUEUED
    assert OutboxMessage.objects.filter(status=NoticeMail.QUEUED).count() == 1
    assert AuditLogEntry.objects.filter(event="customers.order.notice_requeued").exists()
    with FakeSMTP(port=smtp.EMAIL_PORT) as server:
        assert worker()[0] == 0
    assert [m["to"] for m in server.messages] == [[CANARIES["email"]]]
    order.refresh_from_db()
    assert order.notice_mail == NoticeMail.SENT


def test_a_failed_notice_can_be_replaced_by_a_phone_call(client, clerk, order, smtp, settings):
    settings.BOOKSHOP_OUTBOX_RETRY_MINUTES = []  # fail at the first refusal
    login(client, clerk)
    arrived(client, order)
    notify_by_email(client, order)
    assert worker()[0] == 1
    order.refresh_from_db()
    assert order.notice_mail == NoticeMail.FAILED
    version = order.version

    client.post(f"/orders/{order.pk}/notice/phone/")
    order.refresh_from_db()
    assert order.status == "notified" and order.notified_channel == "phone"
    assert order.notified_by == clerk and order.version == version + 1
    assert order.notice_mail == NoticeMail.WITHDRAWN
    assert OutboxMessage.objects.get().status == NoticeMail.WITHDRAWN
    entry = AuditLogEntry.objects.get(event="customers.order.notified_by_phone")
    assert entry.actor == clerk and entry.additional_data["instead_of"] == "email"
    # Nothing is left to send, and a second resend is refused with a message.
    with FakeSMTP(port=smtp.EMAIL_PORT) as server:
        assert worker()[0] == 0
    assert server.messages == []
    response = client.post(f"/orders/{order.pk}/notice/resend/", follow=True)
    assert [str(m) for m in response.context["messages"]][-1] == (
        "この注文には、送信待ちまたは送信失敗の通知メールがありません。"
    )


def test_outside_business_hours_the_worker_waits_and_counts_no_attempt(
    client, clerk, order, settings
):
    login(client, clerk)
    arrived(client, order)
    notify_by_email(client, order)
    settings.BOOKSHOP_OPENING_HOURS = "08:00-23:00"
    tz = timezone.get_current_timezone()
    tomorrow = timezone.localdate() + timedelta(days=1)
    from django.core import mail

    with time_machine.travel(
        datetime.combine(tomorrow, datetime.min.time(), tz) + timedelta(hours=2)
    ):
        status, printed = worker()
    assert status == 0 and "1" in printed
    assert OutboxMessage.objects.get().attempts == 0 and mail.outbox == []
    with time_machine.travel(
        datetime.combine(tomorrow, datetime.min.time(), tz) + timedelta(hours=9)
    ):
        assert worker()[0] == 0
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [CANARIES["email"]]


def test_a_customer_who_asked_to_stop_gets_no_mail_and_the_notice_fails_at_once(
    client, clerk, order
):
    from django.core import mail

    login(client, clerk)
    arrived(client, order)
    notify_by_email(client, order)
    PurposeSuspension.objects.create(
        customer=order.customer, purpose=purposes.ARRIVAL_NOTICE, recorded_by=clerk
    )
    assert worker()[0] == 1
    assert mail.outbox == []
    message = OutboxMessage.objects.get()
    assert message.status == NoticeMail.FAILED and message.last_error == "AccessRefused"
    assert AuditLogEntry.objects.filter(event="privacy.access.refused").exists()


def test_an_order_picked_up_before_the_mail_went_gets_no_mail(client, clerk, order):
    from django.core import mail

    login(client, clerk)
    arrived(client, order)
    notify_by_email(client, order)
    client.post(f"/orders/{order.pk}/picked_up/")
    assert worker()[0] == 0
    assert mail.outbox == []
    assert OutboxMessage.objects.get().status == NoticeMail.WITHDRAWN


def test_the_mail_is_written_with_the_step_or_not_at_all(client, clerk, order):
    """A refused step leaves no mail behind: the outbox row is in the order's transaction."""
    from customers import services

    login(client, clerk)
    arrived(client, order)
    customer = order.customer
    customer.email = ""
    customer.preferred_contact = "phone"
    customer.save()
    notify_by_email(client, order)
    assert OutboxMessage.objects.count() == 0
    order.refresh_from_db()
    assert order.status == "arrived" and order.notice_mail == ""
    with pytest.raises(services.OrderError):
        services.order_notify(actor=clerk, order_id=order.pk, channel="email")
    assert OutboxMessage.objects.count() == 0
