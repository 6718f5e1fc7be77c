"""The printed pickup list in a real browser, with print media: the watermark is on the
sheet, the screen's navigation is not, and the phone number is masked."""

import re

import pytest
from django.utils import translation

from customers import services
from customers.models import PrintJob
from tests.conftest import CANARIES, PASSWORD, TOLD, customer_data, order_data

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ja(text: str) -> str:
    with translation.override("ja"):
        return translation.gettext(text)


def test_the_printed_pickup_list_carries_the_watermark(journey, clerk):
    order = services.order_create_with_customer(
        notice=TOLD, actor=clerk, customer_data=customer_data(), order_data=order_data()
    )
    services.order_mark_ordered(actor=clerk, order_id=order.pk)
    services.order_mark_arrived(actor=clerk, order_id=order.pk)
    page = journey.page

    journey.login("clerk", PASSWORD)
    page.wait_for_url(re.compile(r"/board/$"))
    page.get_by_role("button", name=ja("Print pickup list"), exact=True).click()
    page.wait_for_url(re.compile(r"/print/[0-9a-f-]{36}/$"))
    job = PrintJob.objects.get()
    assert page.locator("[data-print]").is_visible()  # the static script shows the button
    journey.shot("pickup-list-screen")

    page.emulate_media(media="print")
    watermark = page.locator(".print-watermark")
    assert watermark.is_visible()
    assert watermark.evaluate("e => getComputedStyle(e).position") == "fixed"  # every page
    text = watermark.inner_text()
    assert job.print_id in text and clerk.last_name in text
    assert "複製禁止・使用後はシュレッダーへ" in text
    stamp = page.locator(".print-stamp")
    assert stamp.is_visible() and job.print_id in stamp.inner_text()
    assert page.locator(".topbar").is_hidden() and page.locator("[data-print]").is_hidden()
    sheet = page.locator(".print-sheet").inner_text()
    assert CANARIES["family_name"] in sheet and "•••-••••-4987" in sheet
    assert CANARIES["phone"] not in page.content()
    journey.shot("pickup-list-print")
