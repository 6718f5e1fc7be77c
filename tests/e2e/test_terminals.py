"""The manager registers the shop's computer as a terminal from the screen, in Japanese, and
then sees a customer on it; before that, the same browser shows no customer (issue 15)."""

import re

import pytest

from privacy.staff.models import Terminal
from tests.conftest import CANARIES, PASSWORD
from tests.e2e.test_journeys import authenticator_for, ja

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_manager_registers_this_browser_as_a_terminal_and_then_sees_a_customer(
    journey, manager, order
):
    page = journey.page
    journey.terminal = False  # this journey registers the browser through the page
    journey.login("manager", PASSWORD, authenticator=authenticator_for(manager))
    page.wait_for_url(re.compile(r"/board/$"))

    # Not a terminal yet: the customer's page says why, and shows nothing of them.
    journey.go(f"/customers/{order.customer_id}/")
    assert "この端末は登録されていません" in page.locator("main").inner_text()
    assert CANARIES["family_name"] not in page.content()
    journey.shot("not-a-terminal")

    page.locator("main").get_by_role("link", name=ja("Register this terminal")).click()
    page.wait_for_url(re.compile(r"/terminals/register/$"))
    page.get_by_label(ja("Terminal name")).fill("レジ1")
    journey.shot("register-form")
    page.get_by_role("button", name=ja("Register this browser as a terminal")).click()
    page.wait_for_url(re.compile(r"/terminals/$"))
    assert "このブラウザを端末「レジ1」として登録しました" in page.locator(".messages").inner_text()
    assert "レジ1" in page.locator("table.terminals").inner_text()
    journey.shot("registered")
    assert Terminal.objects.get().registered_by == manager

    journey.go(f"/customers/{order.customer_id}/")
    assert CANARIES["family_name"] in page.locator("main").inner_text()
    journey.shot("customer-on-the-terminal")
