"""A customer's request from the counter to the second person's approval, in a real browser,
in Japanese, by the labels the staff see: a clerk files it and lands on it; the manager works
it and chooses a second person; that clerk finds it under 承認待ち and approves it."""

import re

import pytest

from privacy.desks.models import DataRequest, RequestStatus
from tests.conftest import PASSWORD, make_staff
from tests.e2e.test_journeys import authenticator_for, ja

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def top_bar_count(page) -> int:
    return int(page.locator("header.topbar .inbox-count").inner_text())


def log_out(page):
    page.click("header.topbar form.inline button.link")
    page.wait_for_url(re.compile(r"/login/"))


def test_a_request_goes_from_the_counter_to_the_chosen_second_person(
    journey, settings, clerk, manager
):
    settings.BOOKSHOP_OPENING_HOURS = "00:00-24:00"
    second = make_staff("tanaka", "clerk", counter=True)  # shown as "Tanaka"
    page = journey.page

    # A clerk files the request at the counter and lands on it.
    journey.login("clerk", PASSWORD)
    page.wait_for_url(re.compile(r"/board/$"))
    page.click(f"nav >> text={ja('Request or complaint')}")
    page.select_option("#id_kind", label=str(ja("Disclosure of the data we hold (開示)")))
    page.fill("#id_name", "窓口 花子")
    page.fill("#id_contact", "090-1111-2222")
    page.fill("#id_details", "登録されている情報を見たい")
    journey.shot("counter-form")
    page.get_by_role("button", name=ja("Record"), exact=True).click()
    item = DataRequest.objects.get()
    page.wait_for_url(re.compile(rf"/requests/{item.pk}/$"))
    assert item.reference in page.locator("h1").inner_text()
    assert "窓口 花子" in page.content()
    journey.shot("landed-on-request")
    log_out(page)

    # The manager works it and chooses the second person.
    journey.login("manager", PASSWORD, authenticator=authenticator_for(manager))
    page.wait_for_url(re.compile(r"/board/$"))
    page.click(f"nav.subnav >> text={ja('Requests')}")
    page.click(f"text={item.reference}")
    page.wait_for_url(re.compile(rf"/requests/{item.pk}/$"))
    page.select_option("#id_method", "passport")
    page.get_by_role("button", name=ja("Identity checked")).click()
    page.get_by_role("button", name=ja("Start work")).click()
    page.fill("#id_reply", "保有している情報を開示します")
    page.select_option("#id_second_person", label="Tanaka")
    journey.shot("proposal")
    page.get_by_role("button", name=ja("Ask for approval")).click()
    page.wait_for_load_state()
    item.refresh_from_db()
    assert item.status == RequestStatus.AWAITING_APPROVAL and item.second_person == second
    assert top_bar_count(page) == 0  # nothing waits for the proposer
    log_out(page)

    # The second person sees the count, opens 承認待ち, and approves.
    journey.login("tanaka", PASSWORD)
    page.wait_for_url(re.compile(r"/board/$"))
    assert top_bar_count(page) == 1
    journey.shot("second-person-board")
    page.click(f"header.topbar >> text={ja('Awaiting approval')}")
    page.wait_for_url(re.compile(r"/approvals/$"))
    journey.shot("approvals")
    page.click(f"main >> text={item.reference}")
    page.wait_for_url(re.compile(rf"/requests/{item.pk}/$"))
    assert "保有している情報を開示します" in page.content()
    page.get_by_role("button", name=ja("Approve"), exact=True).click()
    page.wait_for_url(re.compile(r"/approvals/$"))
    assert top_bar_count(page) == 0
    journey.shot("approved")
    item.refresh_from_db()
    assert item.status == RequestStatus.COMPLETED and item.decided_by == second
