"""A clerk scans an ISBN and the book fills itself in (from a local fake of openBD); the
arrival notice goes out through the outbox, fails while the mail server is down, and is sent
again once it is back."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from customers import services
from customers.models import OrderStatus, SpecialOrder
from tests.conftest import CANARIES, PASSWORD, TOLD, customer_data, order_data, readable
from tests.e2e.test_journeys import ja
from tests.fakes import FakeBookServices, FakeSMTP, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def run_worker() -> int:
    try:
        call_command("send_outbox", stdout=io.StringIO(), stderr=io.StringIO())
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_a_clerk_fills_the_book_by_isbn_and_resends_a_notice_that_failed(journey, clerk, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    settings.EMAIL_USE_TLS, settings.EMAIL_TIMEOUT = False, 3
    settings.BOOKSHOP_OUTBOX_RETRY_MINUTES = []  # the first refusal fails the notice
    customer = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(preferred_contact="email"),
        order_data=order_data(title="前回の本"),
    ).customer
    page = journey.page

    with FakeBookServices() as books:
        books.point(settings)
        journey.login("clerk", PASSWORD)
        page.wait_for_url(re.compile(r"/board/$"))
        journey.go(f"/customers/{customer.pk}/orders/new/")
        page.fill("#id_order-isbn", "4-10-100134-0")
        page.get_by_role("button", name="ISBNで検索").click()
        # expect() polls with Playwright's own script: a string predicate would be eval'd in
        # the page, which the strict CSP (no 'unsafe-eval') refuses.
        expect(page.locator("#id_order-title")).not_to_have_value("", timeout=10_000)
        assert page.input_value("#id_order-title") == "人間失格"
        assert page.input_value("#id_order-publisher") == "新潮社"
        assert page.input_value("#id_order-isbn") == "978-4-10-100134-0"
        assert "openBD から入力しました" in page.locator(".isbn-status").inner_text()
        journey.shot("isbn-filled")
        assert [r["query"]["isbn"] for r in books.requests] == [["9784101001340"]]
        page.get_by_role("button", name=ja("Save order")).click()
        page.wait_for_url(re.compile(rf"/customers/{customer.pk}/$"))

    order = SpecialOrder.objects.filter(customer=customer).latest("requested_at")
    assert readable(order).title == "人間失格"
    for button in (ja("Ordered from distributor"), ja("Arrived")):
        page.locator(f"#order-{order.pk}").get_by_role("button", name=button, exact=True).click()
        page.wait_for_load_state()
    row = page.locator(f"#order-{order.pk}")
    row.locator("select[name=channel]").select_option("email")
    row.get_by_role("button", name=ja("Customer notified"), exact=True).click()
    page.wait_for_load_state()
    order.refresh_from_db()
    assert order.status == OrderStatus.NOTIFIED and order.notice_mail == "queued"
    assert "通知メール送信待ち" in page.locator(f"#order-{order.pk}").inner_text()
    journey.shot("notice-queued")

    assert run_worker() == 1  # the mail server is down
    page.reload()
    row = page.locator(f"#order-{order.pk}")
    assert "送信失敗" in row.inner_text()
    journey.shot("notice-failed")

    with FakeSMTP(port=settings.EMAIL_PORT) as mail_server:
        row.get_by_role("button", name="もう一度送信").click()
        page.wait_for_load_state()
        assert "通知メール送信待ち" in page.locator(f"#order-{order.pk}").inner_text()
        assert run_worker() == 0
    assert [m["to"] for m in mail_server.messages] == [[CANARIES["email"]]]
    page.reload()
    assert "通知メール送信済み" in page.locator(f"#order-{order.pk}").inner_text()
    journey.shot("notice-sent")
