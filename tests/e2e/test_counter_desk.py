"""A clerk at a busy counter, in Japanese, from what the screen says: find a customer by a
phone typed with 「ー」, page through the board, keep to the orders they took (issue 16)."""

import re

import pytest

from customers import selectors, services
from tests.conftest import PASSWORD, TOLD, customer_data, make_staff, order_data
from tests.e2e.test_journeys import ja

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _orders(clerk, count, start):
    return [
        services.order_create_with_customer(
            notice=TOLD,
            actor=clerk,
            customer_data=customer_data(
                family_name=f"客{start + k}", phone=f"0902222{start + k:04d}", email=""
            ),
            order_data=order_data(),
        )
        for k in range(count)
    ]


def test_a_clerk_finds_by_a_phone_with_a_long_dash_pages_the_board_and_keeps_to_their_orders(
    journey, clerk
):
    colleague = make_staff("colleague", "clerk", counter=True)
    theirs = _orders(colleague, 3, start=0)
    mine = _orders(clerk, selectors.BOARD_PAGE_SIZE + 2, start=100)
    services.order_mark_ordered(actor=clerk, order_id=mine[0].pk)
    services.order_mark_arrived(actor=clerk, order_id=mine[0].pk)
    total = len(theirs) + len(mine)
    page = journey.page

    journey.login("clerk", PASSWORD)
    page.wait_for_url(re.compile(r"/board/$"))
    cards = page.locator("article.order-card")
    assert cards.count() == selectors.BOARD_PAGE_SIZE
    assert f"{total}" in page.locator(".board-summary").inner_text()
    # The arrived card's "told by" label and button keep their words on one line.
    arrived = page.locator(f"#order-{mine[0].pk}")
    label = arrived.locator("form.notify label")
    assert label.inner_text() == ja("told by")
    box = label.bounding_box()
    assert box["width"] > box["height"], box
    button = arrived.locator("form.notify button")
    box = button.bounding_box()
    assert box["width"] > box["height"], box
    journey.shot("board-page-1")

    page.locator("nav.pager").first.get_by_role("link", name=ja("Next page")).click()
    page.wait_for_url(re.compile(r"/board/\?page=2$"))
    assert cards.count() == total - selectors.BOARD_PAGE_SIZE
    journey.shot("board-page-2")

    page.get_by_label(ja("Only orders I took")).check()
    page.get_by_role("button", name=ja("Show"), exact=True).click()
    page.wait_for_url(re.compile(r"/board/\?.*mine=on"))
    assert cards.count() == selectors.BOARD_PAGE_SIZE
    for order in theirs:
        assert page.locator(f"#order-{order.pk}").count() == 0
    journey.shot("board-my-orders")
    page.locator("nav.pager").first.get_by_role("link", name=ja("Next page")).click()
    page.wait_for_url(re.compile(r"mine=on&page=2$"))
    assert cards.count() == len(mine) - selectors.BOARD_PAGE_SIZE
    journey.shot("board-my-orders-page-2")

    page.click(f"nav >> text={ja('Find customer')}")
    # As a Japanese keyboard types it.
    page.get_by_label(ja("Phone"), exact=True).fill("090ー2222ー0101")
    journey.shot("search-typed")
    page.click("form.search button[type=submit]")
    match = page.locator(".match-list li")
    assert match.count() == 1 and "客101" in match.inner_text()
    journey.shot("search-found")
