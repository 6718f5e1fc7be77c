import pytest
from django.core import mail
from django.test import Client

from customers import services
from customers.models import Customer, SpecialOrder
from privacy.access import decisions
from privacy.consent import purposes
from privacy.consent.models import NoticeRecord, PurposeSuspension
from tests.conftest import TOLD, customer_data, login, order_data


def ja_purposes():
    return [p["ja"] for p in purposes.current_notice().purposes]


def test_the_new_order_form_shows_the_purposes_before_anything_is_saved(client, clerk):
    """The new-customer form opens when the clerk asks for it or when a search found nobody
    (search first: tests/customers/test_counter_desk.py); it is the only form that saves a
    new customer, and the purposes are in it, above its save button."""
    login(client, clerk)
    asked = client.get("/orders/new/?new=1").content.decode()
    nobody = client.post("/orders/new/", {"action": "search", "phone": "080-5555-6666"})
    for html in (asked, nobody.content.decode()):
        form = html[html.index('id="new-customer"') :]
        form = form[: form.index("</form>")]
        assert 'name="customer-family_name"' in form and 'name="notice-method"' in form
        for label in ja_purposes():
            assert label in form[: form.index('type="submit"')]
    assert Customer.objects.count() == 0 and SpecialOrder.objects.count() == 0


def test_an_order_without_recording_how_the_customer_was_told_saves_nothing(client, clerk):
    from tests.customers.test_order_flow import new_order_post

    login(client, clerk)
    post = new_order_post()
    post.pop("notice-method")
    response = client.post("/orders/new/", post)
    assert response.status_code == 200
    assert "method" in response.context["notice_form"].errors
    assert Customer.objects.count() == 0 and SpecialOrder.objects.count() == 0


def test_each_customer_keeps_a_history_of_what_they_were_told(client, clerk):
    from tests.customers.test_order_flow import new_order_post

    login(client, clerk)
    client.post(
        "/orders/new/",
        new_order_post(**{"notice-method": "read_aloud", "notice-opt_new_release_info": "on"}),
    )
    record = NoticeRecord.objects.get()
    assert record.method == "read_aloud"
    assert record.choices == {"new_release_info": True}
    assert record.told_by == clerk
    assert record.notice == purposes.current_notice()
    assert "v1" in client.get(f"/customers/{record.customer_id}/").content.decode()


def test_optional_purposes_are_off_unless_the_customer_says_yes(client, clerk):
    from tests.customers.test_order_flow import new_order_post

    login(client, clerk)
    client.post("/orders/new/", new_order_post())
    assert NoticeRecord.objects.get().choices == {"new_release_info": False}


# One test per purpose: what it allows, and what refuses it.


def test_order_contact_needs_the_customer_to_have_been_told(clerk):
    untold = services.customer_create(actor=clerk, data=customer_data())
    with pytest.raises(services.OrderError, match="not been told"):
        services.order_create(actor=clerk, customer=untold, data=order_data())
    services.order_create(actor=clerk, customer=untold, data=order_data(), notice=TOLD)
    assert untold.orders.count() == 1


def test_arrival_notice_is_refused_once_the_customer_suspends_it(clerk, order):
    services.order_mark_ordered(actor=clerk, order_id=order.pk)
    services.order_mark_arrived(actor=clerk, order_id=order.pk)
    PurposeSuspension.objects.create(
        customer=order.customer, purpose=purposes.ARRIVAL_NOTICE, recorded_by=clerk
    )
    with pytest.raises(services.OrderError, match="stop"):
        services.order_notify(actor=clerk, order_id=order.pk, channel="phone")
    order.refresh_from_db()
    assert order.status == "arrived"
    # Telling them in person when they come in is not a use of their contact details.
    services.order_notify(actor=clerk, order_id=order.pk, channel="counter")


def test_the_clerk_sees_which_uses_are_suspended(client, clerk, customer):
    PurposeSuspension.objects.create(
        customer=customer, purpose=purposes.ARRIVAL_NOTICE, recorded_by=clerk
    )
    login(client, clerk)
    html = client.get(f"/customers/{customer.pk}/").content.decode()
    assert purposes.purpose_label(purposes.ARRIVAL_NOTICE) in html


def test_new_release_mail_needs_the_customers_yes(clerk):
    said_no = services.order_create_with_customer(
        notice=TOLD, actor=clerk, customer_data=customer_data(), order_data=order_data()
    ).customer
    with pytest.raises(decisions.AccessRefused, match="did not agree"):
        services.new_release_mail(actor=clerk, customer_id=said_no.pk, subject="新刊", body="...")
    said_yes = services.order_create_with_customer(
        notice={"method": "screen", "choices": {"new_release_info": True}},
        actor=clerk,
        customer_data=customer_data(phone="08055551111", email="yes@example.jp"),
        order_data=order_data(),
    ).customer
    services.new_release_mail(actor=clerk, customer_id=said_yes.pk, subject="新刊", body="...")
    assert [m.to for m in mail.outbox] == [["yes@example.jp"]]


def test_a_use_outside_the_notified_purposes_is_refused(customer):
    with pytest.raises(purposes.PurposeNotPermitted, match="not been told"):
        purposes.check(customer, "market_research")


def test_a_new_purpose_lists_earlier_customers_for_re_notice(client, manager, clerk, customer):
    boss = login(Client(), manager)
    current = purposes.current_notice()
    from privacy.views.forms import purposes_as_text

    text = (
        purposes_as_text(current.purposes)
        + "\nreading_survey | 読書アンケート | Reading survey | yes"
    )
    form = {
        "text_ja": current.text_ja,
        "text_en": current.text_en,
        "purposes": text,
        "effective_from": "2000-01-02",
    }
    preview = boss.post("/manager/notices/", {**form, "action": "preview"})
    assert "読書アンケート" in preview.content.decode()
    assert purposes.current_notice().version == 1  # a preview publishes nothing
    boss.post("/manager/notices/", {**form, "action": "publish"})
    assert purposes.current_notice().version == 2

    page = boss.get("/manager/notices/")
    assert page.context["renotify_count"] == 1 and customer.reference in page.content.decode()

    login(client, clerk)
    form_page = client.get(f"/customers/{customer.pk}/orders/new/")
    assert form_page.context["notice_form"] is not None
    client.post(
        f"/customers/{customer.pk}/orders/new/",
        {
            "order-title": "x",
            "order-quantity": "1",
            "order-deposit_paid": "0",
            "notice-method": "printed",
        },
    )
    assert boss.get("/manager/notices/").context["renotify_count"] == 0


def test_the_public_privacy_page_shows_every_required_item_without_login(db, client, settings):
    settings.BOOKSHOP_SHOP_NAME = "駅前書店"
    settings.BOOKSHOP_SHOP_ADDRESS = "東京都千代田区駅前1-1"
    settings.BOOKSHOP_SHOP_REPRESENTATIVE = "代表 栞太郎"
    settings.BOOKSHOP_PRIVACY_CONTACT = "privacy@ekimae.example.jp / 03-0000-0000"
    settings.BOOKSHOP_DISCLOSURE_FEE = 500
    response = client.get("/privacy/")
    assert response.status_code == 200
    html = response.content.decode()
    for item in [
        "駅前書店",
        "東京都千代田区駅前1-1",
        "代表 栞太郎",
        "privacy@ekimae.example.jp",
        "500",
        *ja_purposes(),
    ]:
        assert item in html


def test_every_page_links_to_the_privacy_notice(client, clerk):
    assert 'href="/privacy/"' in client.get("/login/").content.decode()
    login(client, clerk)
    assert 'href="/privacy/"' in client.get("/board/").content.decode()


def _publish_second_version(manager):
    from privacy.views.forms import purposes_as_text

    current = purposes.current_notice()
    login(Client(), manager).post(
        "/manager/notices/",
        {
            "text_ja": current.text_ja,
            "text_en": current.text_en,
            "purposes": purposes_as_text(current.purposes)
            + "\nreading_survey | 読書アンケート | Reading survey | yes",
            "effective_from": "2000-01-02",
            "action": "publish",
        },
    )
    assert purposes.current_notice().version == 2


def test_a_new_notice_does_not_offer_again_a_use_the_customer_stopped(
    client, manager, clerk, customer
):
    """The customer asked to stop 新刊・イベントのご案内; told a new version of the notice,
    the use is not offered again (a warning, greyed out), a ticked box changes nothing, and
    the record never says yes under the stop."""
    PurposeSuspension.objects.create(
        customer=customer, purpose=purposes.NEW_RELEASE_INFO, recorded_by=manager
    )
    _publish_second_version(manager)
    notices_page = login(Client(), manager).get("/manager/notices/")
    assert notices_page.context["renotify_stopped"] == 1
    assert "利用の停止を求めています" in notices_page.content.decode()

    login(client, clerk)
    form_page = client.get(f"/customers/{customer.pk}/orders/new/")
    field = form_page.context["notice_form"].fields[f"opt_{purposes.NEW_RELEASE_INFO}"]
    assert field.disabled
    html = form_page.content.decode()
    assert "停止中" in html and "ご案内しないでください" in html
    client.post(
        f"/customers/{customer.pk}/orders/new/",
        {
            "order-title": "x",
            "order-quantity": "1",
            "order-deposit_paid": "0",
            "notice-method": "screen",
            f"notice-opt_{purposes.NEW_RELEASE_INFO}": "on",  # ticked anyway (a forged post)
            "notice-opt_reading_survey": "on",
        },
    )
    record = purposes.latest_record(customer)
    assert record.notice.version == 2
    assert record.choices == {purposes.NEW_RELEASE_INFO: False, "reading_survey": True}
    with pytest.raises(purposes.PurposeNotPermitted):
        purposes.check(customer, purposes.NEW_RELEASE_INFO)

    page = client.get(f"/customers/{customer.pk}/").content.decode()
    banner = page[page.index('class="error-box" role="alert"') :]
    assert "新刊・イベントのご案内" in banner.split("</p>")[0]


def test_recording_a_notice_never_says_yes_to_a_stopped_use(clerk, manager, customer):
    PurposeSuspension.objects.create(
        customer=customer, purpose=purposes.NEW_RELEASE_INFO, recorded_by=manager
    )
    record = purposes.record_notice(
        customer, method="screen", choices={purposes.NEW_RELEASE_INFO: True}, by=clerk
    )
    assert record.choices[purposes.NEW_RELEASE_INFO] is False


def test_a_choice_recorded_before_the_stop_shows_stopped_not_yes(clerk, manager, customer):
    """A record from before the customer asked to stop keeps its はい in the database; the
    customer page never shows it as はい under the 停止 banner."""
    from django.test import Client

    from tests.conftest import login

    purposes.record_notice(
        customer, method="screen", choices={purposes.NEW_RELEASE_INFO: True}, by=clerk
    )
    PurposeSuspension.objects.create(
        customer=customer, purpose=purposes.NEW_RELEASE_INFO, recorded_by=manager
    )
    html = login(Client(), clerk).get(f"/customers/{customer.pk}/").content.decode()
    label = str(purposes.purpose_label(purposes.NEW_RELEASE_INFO))
    assert f"{label}: 停止（ご本人の請求により）" in html
    assert f"{label}: はい" not in html
