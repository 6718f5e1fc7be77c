"""The journeys staff make, end to end in a real browser, in Japanese."""

import re

import pytest
from django.utils import translation

from customers import services
from customers.models import OrderStatus, SpecialOrder
from privacy.audit.models import AuditLogEntry
from tests.conftest import PASSWORD, TOLD, customer_data, order_data, readable
from tests.e2e.conftest import register_browser

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ja(text: str) -> str:
    """The Japanese the page shows for an English source string (and it must differ)."""
    with translation.override("ja"):
        shown = translation.gettext(text)
    assert shown != text, f"no Japanese for {text!r}"
    return shown


def test_a_clerk_serves_a_returning_customer_from_order_to_pickup(journey, clerk):
    returning = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(
            family_name="山田", family_name_kana="ヤマダ", phone="09012345678"
        ),
        order_data=order_data(title="前回の本"),
    ).customer
    page = journey.page

    journey.login("clerk", PASSWORD)
    page.wait_for_url(re.compile(r"/board/$"))
    assert page.locator("html").get_attribute("lang") == "ja"
    journey.shot("board")

    page.click(f"nav >> text={ja('New order')}")
    page.fill("#id_family_name_kana", "やまだ")  # hiragana and full-width digits are fine
    page.fill("#id_last4", "５６７８")
    journey.shot("search-typed")
    page.click("form.search button[type=submit]")
    match = page.locator(".match-list li").filter(has_text="山田")
    assert match.count() == 1
    journey.shot("search-found")

    match.locator("a.button").click()
    page.fill("#id_order-isbn", "978-4-06-293450-3")
    page.fill("#id_order-title", "新しい本")
    journey.shot("order-form")
    page.click("button.primary")
    page.wait_for_url(re.compile(rf"/customers/{returning.pk}/$"))
    order = SpecialOrder.objects.filter(customer=returning).latest("requested_at")
    assert order.title == "新しい本" and order.requested_by == clerk
    row = page.locator(f"#order-{order.pk}")
    assert "新しい本" in row.inner_text()
    journey.shot("order-saved")

    for button, status in [
        (ja("Ordered from distributor"), OrderStatus.ORDERED),
        (ja("Arrived"), OrderStatus.ARRIVED),
    ]:
        page.locator(f"#order-{order.pk}").get_by_role("button", name=button, exact=True).click()
        page.wait_for_load_state()
        order.refresh_from_db()
        assert order.status == status
        journey.shot(status)

    row = page.locator(f"#order-{order.pk}")
    row.locator("select[name=channel]").select_option("phone")
    row.get_by_role("button", name=ja("Customer notified"), exact=True).click()
    page.wait_for_load_state()
    order.refresh_from_db()
    assert order.status == OrderStatus.NOTIFIED and order.notified_channel == "phone"
    journey.shot("notified")

    page.locator(f"#order-{order.pk}").get_by_role(
        "button", name=ja("Picked up"), exact=True
    ).click()
    page.wait_for_load_state()
    order.refresh_from_db()
    assert order.status == OrderStatus.PICKED_UP
    journey.shot("picked-up")


def authenticator_for(user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def test_the_manager_logs_in_with_two_steps_and_corrects_a_phone_number(
    journey, browser, live_server, manager, clerk, order
):
    from privacy.desks.models import DataRequest

    customer = order.customer
    page = journey.page
    # The customer asks for their data on the public form.
    journey.go("/privacy/request/")
    page.select_option("#id_kind", "disclosure")
    page.fill("#id_name", "本人")
    page.fill("#id_contact", "090-0000-0000")
    journey.shot("public-request")
    page.click("button.primary")
    request_ref = page.locator("p.card").inner_text()
    request = DataRequest.objects.get()
    assert request.reference in request_ref

    journey.login("manager", PASSWORD, authenticator=authenticator_for(manager))
    page.wait_for_url(re.compile(r"/board/$"))
    journey.shot("board")

    # The disclosure request: identity, work, proposal.
    journey.go(f"/requests/{request.pk}/")
    page.select_option("#id_method", "driving_licence")
    page.fill("#id_customer_reference", customer.reference)
    page.click(f"button:has-text('{ja('Identity checked')}')")
    page.click(f"button:has-text('{ja('Start work')}')")
    page.fill("#id_reply", "開示データをお渡しします")
    page.click(f"button:has-text('{ja('Ask for approval')}')")
    journey.shot("request-proposed")

    # A second person approves; the one-time link is never shown to them.
    second = browser.new_context(locale="ja-JP").new_page()
    register_browser(second.context, live_server.url, "manager")  # a counter PC
    second.goto(live_server.url + "/login/")
    second.fill("#id_username", "clerk")
    second.fill("#id_password", PASSWORD)
    second.click("button.primary")
    second.goto(live_server.url + f"/requests/{request.pk}/")
    second.click(f"button:has-text('{ja('Approve')}')")
    assert "/privacy/disclosure/" not in second.content()
    second.screenshot(path=str(journey.folder / "approved-by-second-person.png"), full_page=True)
    second.context.close()

    # The manager handling the request issues the link, shown to them once.
    journey.go(f"/requests/{request.pk}/")
    page.click(f"button:has-text('{ja('Issue the one-time link')}')")
    link = re.search(r"/privacy/disclosure/[\w-]+/", page.content()).group(0)
    journey.shot("link-issued")

    journey.go(link)
    with page.expect_download() as download:
        page.click("button.primary")
    archive = download.value.path()
    import zipfile

    assert "package.json" in zipfile.ZipFile(archive).namelist()
    journey.shot("package-downloaded")

    journey.go(f"/customers/{customer.pk}/")
    page.click(f"text={ja('Correct details')}")
    page.fill("#id_phone", "０８０－２２２２－３３３３")
    journey.shot("correction-typed")
    page.click("button.primary")
    page.wait_for_url(re.compile(rf"/customers/{customer.pk}/$"))
    assert "080-2222-3333" in page.locator("dl.details").inner_text()
    journey.shot("corrected")
    readable(customer).refresh_from_db()
    assert customer.phone == "08022223333"
    update = AuditLogEntry.objects.filter(
        object_pk=str(customer.pk), action=AuditLogEntry.Action.UPDATE
    ).latest("seq")
    assert set(update.changes) == {"phone", "version"}
    assert "08022223333" not in str(update.changes)


def test_the_administrator_finds_the_reads_of_a_customer_but_not_the_customer(
    journey, clerk, administrator, order
):
    customer = order.customer
    page = journey.page
    journey.login("clerk", PASSWORD)
    page.wait_for_url(re.compile(r"/board/$"))
    journey.go(f"/customers/{customer.pk}/")
    journey.shot("clerk-reads-customer")
    page.click("form.inline button.link")  # log out

    journey.login("admin", PASSWORD, authenticator=authenticator_for(administrator))
    page.wait_for_url(re.compile(r"/audit/$"))
    journey.shot("audit-log")
    page.fill("#id_reference", customer.reference)
    page.select_option("#id_action", "read")
    page.click("button.primary")
    rows = page.locator("table.audit tbody tr")
    assert rows.count() >= 1
    text = page.locator("table.audit").inner_text()
    assert customer.reference in text and "clerk" in text
    assert customer.family_name not in page.content()
    journey.shot("audit-filtered")

    response = page.goto(journey.base_url + f"/customers/{customer.pk}/")
    assert response.status in (403, 404)
    assert customer.family_name not in page.content()
    journey.shot("customer-refused")
    assert (
        AuditLogEntry.objects.filter(event="customers.customer.read", actor=administrator).count()
        == 0
    )
