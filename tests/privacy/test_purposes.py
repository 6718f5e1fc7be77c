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
    login(client, clerk)
    html = client.get("/orders/new/").content.decode()
    for label in ja_purposes():
        assert label in html


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
