from datetime import timedelta

import time_machine
from django.test import Client
from django.utils import timezone

from customers import services
from customers.models import Customer
from privacy.audit.models import AuditLogEntry
from privacy.desks.models import DataRequest
from tests.conftest import CANARIES, login, readable
from tests.customers.test_concurrent_edits import edit_form


def correction_in_progress(manager, customer):
    Client(REMOTE_ADDR="192.0.2.80").post(
        "/privacy/request/",
        {
            "kind": "correction",
            "name": "本人",
            "contact": "090",
            "details": "電話番号が変わりました",
        },
    )
    item = DataRequest.objects.get()
    boss = login(Client(), manager)
    boss.post(
        f"/requests/{item.pk}/verify/",
        {"method": "insurance_card", "customer_reference": customer.reference},
    )
    boss.post(f"/requests/{item.pk}/start/")
    return item, boss


def test_a_correction_changes_exactly_the_requested_fields_and_logs_no_value(manager, customer):
    item, boss = correction_in_progress(manager, customer)
    page = boss.get(f"/requests/{item.pk}/correct/")
    html = page.content.decode()
    assert (
        CANARIES["phone"] in html and "電話番号が変わりました" in html
    )  # old value beside the form

    loaded = readable(Customer.objects.get(pk=customer.pk))
    data = edit_form(loaded, phone="08099887766")
    response = boss.post(f"/requests/{item.pk}/correct/", data)
    assert response.status_code == 302

    saved = readable(Customer.objects.get(pk=customer.pk))
    assert saved.phone == "08099887766"
    for name in CANARIES:
        if name != "phone":
            assert getattr(saved, name) == getattr(loaded, name)
    readable(item).refresh_from_db()
    assert "電話" in item.reply or "phone" in item.reply.lower()
    update = AuditLogEntry.objects.filter(
        object_pk=str(customer.pk), action=AuditLogEntry.Action.UPDATE
    ).latest("seq")
    assert set(update.changes) == {"phone", "version"}
    everything = str(list(AuditLogEntry.objects.values_list("changes", "additional_data")))
    assert "08099887766" not in everything and CANARIES["phone"] not in everything


def test_correction_is_only_for_correction_requests_in_progress(manager, customer):
    item, boss = correction_in_progress(manager, customer)
    item.status = "received"
    item.save()
    assert boss.get(f"/requests/{item.pk}/correct/").status_code == 404


def test_details_not_confirmed_for_a_year_are_flagged_at_the_next_order(clerk, customer, settings):
    client = login(Client(), clerk)
    assert not client.get(f"/customers/{customer.pk}/orders/new/").context["stale_details"]
    with time_machine.travel(
        timezone.now() + timedelta(days=settings.BOOKSHOP_CONFIRM_AFTER_DAYS + 1)
    ):
        client = login(Client(), clerk)
        assert client.get(f"/customers/{customer.pk}/orders/new/").context["stale_details"]
        client.post(f"/customers/{customer.pk}/confirm/")
        assert not client.get(f"/customers/{customer.pk}/orders/new/").context["stale_details"]
    assert AuditLogEntry.objects.filter(event="customers.customer.confirmed", actor=clerk).exists()
    assert services.needs_confirmation(Customer.objects.get(pk=customer.pk)) is False
