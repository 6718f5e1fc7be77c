from django.test import Client

from customers.models import Customer, OrderStatus
from tests.conftest import login


def edit_form(customer, **changes):
    data = {
        "family_name": customer.family_name,
        "given_name": customer.given_name,
        "family_name_kana": customer.family_name_kana,
        "given_name_kana": customer.given_name_kana,
        "phone": customer.phone,
        "email": customer.email,
        "postal_code": customer.postal_code,
        "address": customer.address,
        "preferred_contact": customer.preferred_contact,
        "notes": customer.notes,
        "version": customer.version,
    }
    data.update(changes)
    return data


def test_the_second_of_two_edits_is_refused_and_nothing_is_overwritten(clerk, manager, customer):
    first, second = login(Client(), clerk), login(Client(), manager)
    opened_by_first = first.get(f"/customers/{customer.pk}/edit/").context["version"]
    opened_by_second = second.get(f"/customers/{customer.pk}/edit/").context["version"]
    assert opened_by_first == opened_by_second

    loaded = Customer.objects.get(pk=customer.pk)
    response = first.post(
        f"/customers/{customer.pk}/edit/",
        edit_form(loaded, phone="08012340000", version=opened_by_first),
    )
    assert response.status_code == 302

    second.cookies["django_language"] = "en"
    response = second.post(
        f"/customers/{customer.pk}/edit/",
        edit_form(loaded, address="上書き住所", version=opened_by_second),
    )
    assert response.status_code == 200
    assert "Someone else changed this record" in response.content.decode()
    assert response.context["form"]["address"].value() == "上書き住所"  # what was typed stays

    saved = Customer.objects.get(pk=customer.pk)
    assert saved.phone == "08012340000"
    assert saved.address == loaded.address
    assert saved.version == opened_by_first + 1


def test_a_correction_changes_only_the_fields_edited(clerk, customer):
    client = login(Client(), clerk)
    loaded = Customer.objects.get(pk=customer.pk)
    client.post(
        f"/customers/{customer.pk}/edit/", edit_form(loaded, phone="０８０－１１１１－２２２２")
    )
    saved = Customer.objects.get(pk=customer.pk)
    assert saved.phone == "08011112222"
    assert saved.email == loaded.email and saved.notes == loaded.notes


def test_a_stale_click_on_the_board_is_refused(clerk, manager, order):
    first, second = login(Client(), clerk), login(Client(), manager)
    first.post(
        f"/orders/{order.pk}/cancelled/", {"reason": "changed mind", "version": order.version}
    )
    second.cookies["django_language"] = "en"
    response = second.post(f"/orders/{order.pk}/ordered/", {"version": order.version}, follow=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert any("Someone else changed" in str(m) for m in response.context["messages"])
