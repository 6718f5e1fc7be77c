import io

import pytest
from django.core import mail
from django.core.management import call_command

from customers.models import Customer, OrderStatus, SpecialOrder
from tests.conftest import CANARIES, ORDER_CANARIES, TOLD, login, readable


def new_order_post(**overrides):
    post = {f"customer-{k}": v for k, v in CANARIES.items()}
    post.update({f"order-{k}": v for k, v in ORDER_CANARIES.items()})
    post.update(
        {
            "action": "create",
            "notice-method": "screen",
            "customer-preferred_contact": "email",
            "order-quantity": "1",
            "order-deposit_paid": "500",
        }
    )
    post.update(overrides)
    return post


def step(client, order, name, **data):
    return client.post(f"/orders/{order.pk}/{name}/", data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_clerk_takes_an_order_through_its_whole_life(
    client, clerk, django_capture_on_commit_callbacks
):
    login(client, clerk)
    response = client.post("/orders/new/", new_order_post())
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert response["Location"] == f"/customers/{customer.pk}/"
    order = SpecialOrder.objects.get()
    assert order.status == OrderStatus.REQUESTED
    assert order.requested_by == clerk

    page = client.get(response["Location"]).content.decode()
    assert CANARIES["family_name"] in page and ORDER_CANARIES["title"] in page

    step(client, order, "ordered")
    step(client, order, "arrived")
    with django_capture_on_commit_callbacks(execute=True):
        step(client, order, "notified", channel="email")
    order.refresh_from_db()
    assert order.status == OrderStatus.NOTIFIED
    assert order.notified_channel == "email"
    assert order.notified_by == clerk and order.notified_at is not None
    # The notice waits in the outbox, saved with the step; the worker sends it.
    assert mail.outbox == [] and order.notice_mail == "queued"
    call_command("send_outbox", stdout=io.StringIO())
    order.refresh_from_db()
    assert order.notice_mail == "sent"

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [CANARIES["email"]]
    assert message.cc == [] and message.bcc == []
    assert ORDER_CANARIES["title"] in message.body

    response = step(client, order, "picked_up")
    order.refresh_from_db()
    assert order.status == OrderStatus.PICKED_UP
    assert order.picked_up_by == clerk
    for field in ("ordered_at", "arrived_at", "notified_at", "picked_up_at"):
        assert getattr(order, field) is not None


def test_a_wrong_transition_is_refused_with_a_message(client, clerk, order):
    login(client, clerk)
    client.cookies["django_language"] = "en"
    response = step(client, order, "picked_up")
    order.refresh_from_db()
    assert order.status == OrderStatus.REQUESTED
    assert messages_of(response) == ["This order is “Requested” and cannot be marked “Picked up”."]


def test_a_closed_order_cannot_be_reopened(client, clerk, order):
    login(client, clerk)
    step(client, order, "cancelled", reason="customer changed mind")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    step(client, order, "ordered")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_cancelling_needs_a_reason(client, clerk, order):
    login(client, clerk)
    client.cookies["django_language"] = "en"
    response = step(client, order, "cancelled", reason="  ")
    order.refresh_from_db()
    assert order.status == OrderStatus.REQUESTED
    assert messages_of(response) == ["Give a reason for cancelling."]


def test_notifying_by_email_without_an_address_is_refused(client, clerk):
    from customers import services
    from tests.conftest import customer_data, order_data

    order = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(email="", preferred_contact="phone"),
        order_data=order_data(),
    )
    login(client, clerk)
    client.cookies["django_language"] = "en"
    step(client, order, "ordered")
    step(client, order, "arrived")
    response = step(client, order, "notified", channel="email")
    order.refresh_from_db()
    assert order.status == OrderStatus.ARRIVED
    assert messages_of(response) == ["This customer has no email address on record."]
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("order-isbn", "978-4-06-293450-9", "check digit"),
        ("order-isbn", "12345", "10 or 13 digits"),
        ("customer-phone", "090-ABCD-5678", "digits only"),
        ("customer-family_name", "長" * 10_000, "at most 50"),
        ("customer-given_name", "花子\x07\x1b", "control characters"),
        ("customer-notes", "メモ\x00", "Null characters"),
        ("customer-family_name", "山田😀", "emoji"),
        ("customer-family_name_kana", "Yamada", "kana"),
        ("customer-email", "not-an-address", "valid email"),
        ("order-quantity", "0", "greater than or equal to 1"),
    ],
)
def test_bad_input_gets_a_message_by_the_field_keeps_what_was_typed_and_saves_nothing(
    client, clerk, field, value, message
):
    login(client, clerk)
    with_english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    client.cookies["django_language"] = "en"
    response = client.post("/orders/new/", new_order_post(**{field: value}), **with_english)
    assert response.status_code == 200
    form_name = "customer_form" if field.startswith("customer-") else "order_form"
    errors = response.context[form_name].errors[field.split("-", 1)[1]]
    assert any(message in error for error in errors), errors
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    # What was typed comes back (escaped), except the control characters Django strips.
    assert response.context[form_name][field.split("-", 1)[1]].value() == value
    assert Customer.objects.count() == 0
    assert SpecialOrder.objects.count() == 0


def test_full_width_input_is_normalized(client, clerk):
    login(client, clerk)
    post = new_order_post(
        **{
            "customer-phone": "０９０－１２３４－５６７８",
            "customer-family_name_kana": "やまだ",
            "order-isbn": "４０６２９３４５０Ｘ",
        }
    )
    post["order-isbn"] = "978－4－06－293450－3"
    response = client.post("/orders/new/", post)
    assert response.status_code == 302
    customer = readable(Customer.objects.get())
    assert customer.phone == "09012345678"
    assert customer.family_name_kana == "ヤマダ"
    assert customer.orders.get().isbn == "978-4-06-293450-3"


def test_an_order_for_a_returning_customer_uses_the_customer_found(client, clerk, customer):
    login(client, clerk)
    response = client.post(
        "/orders/new/",
        {"action": "search", "family_name_kana": "かなりあせい", "last4": "4987"},
    )
    assert response.context["matches"] == [customer]
    response = client.post(
        f"/customers/{customer.pk}/orders/new/",
        {"order-title": "二冊目の本", "order-quantity": "2", "order-deposit_paid": "0"},
    )
    assert response.status_code == 302
    assert customer.orders.count() == 2
    assert Customer.objects.count() == 1


def test_an_order_by_title_alone_is_accepted_but_not_an_empty_book(client, clerk, customer):
    login(client, clerk)
    url = f"/customers/{customer.pk}/orders/new/"
    empty = client.post(url, {"order-quantity": "1", "order-deposit_paid": "0"})
    assert empty.status_code == 200
    assert "order-title" in empty.content.decode()
    assert customer.orders.count() == 1


def test_receiving_a_shipment_lists_the_open_orders_for_that_isbn(client, clerk, order):
    login(client, clerk)
    step(client, order, "ordered")
    response = client.post("/shipments/", {"isbn": "4-06-293450-7"})  # the ISBN-10 form
    assert response.status_code == 200
    assert response.context["orders"] == [order]
    response = client.post("/shipments/", {"isbn": "978-4-10-101013-7"})
    assert response.context["orders"] == []
