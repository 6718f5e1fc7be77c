"""Retention: the dry run counts and changes nothing; a batch proposed by one manager and
approved by another erases exactly the customers whose time is up, through the erasure path,
and clears the book details of old closed orders; the proposer cannot approve."""

import io
import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from customers import services
from customers.models import Customer, SpecialOrder
from privacy.access import grants as access
from privacy.audit.models import AuditLogEntry
from privacy.desks import erasure, requests, retention
from privacy.desks.models import RetentionBatch
from privacy.incidents import services as incident_services
from privacy.vault.models import DataKey
from tests.conftest import (
    CANARIES,
    ORDER_CANARIES,
    TOLD,
    customer_data,
    login,
    make_staff,
    order_data,
    provision_for,
)


@pytest.fixture
def ledger(tmp_path, settings):
    settings.BOOKSHOP_ERASURE_LEDGER = str(tmp_path / "erasure-ledger.jsonl")
    return tmp_path / "erasure-ledger.jsonl"


@pytest.fixture
def second_manager(db):
    return make_staff("manager2", "manager", counter=True)


def at(moment):
    return time_machine.travel(moment, tick=False)


def new_order(clerk, phone, when, customer=None):
    with at(when):
        if customer is not None:
            return services.order_create(
                actor=clerk, customer=customer, data=order_data(), notice=TOLD
            )
        return services.order_create_with_customer(
            notice=TOLD,
            actor=clerk,
            customer_data=customer_data(phone=phone),
            order_data=order_data(),
        )


def pick_up(clerk, order, when):
    with at(when):
        services.order_mark_ordered(actor=clerk, order_id=order.pk)
        services.order_mark_arrived(actor=clerk, order_id=order.pk)
        services.order_pick_up(actor=clerk, order_id=order.pk)


def cancel(clerk, order, when):
    with at(when):
        services.order_cancel(actor=clerk, order_id=order.pk, reason="キャンセル理由Cr55")


class Shop:
    """Customers at every edge of the retention rule, created going forward in time from
    ``start``; ``now`` is when the rule is applied (24 and 13 months by default)."""

    def __init__(self, clerk, manager):
        start = timezone.now()
        self.now = start + timedelta(days=900)
        cutoff = retention.customer_cutoff(self.now)
        day = timedelta(days=1)

        self.expired = new_order(clerk, "09000000001", start)
        pick_up(clerk, self.expired, start + 10 * day)
        with at(start), transaction.atomic():
            self.never_ordered = services.customer_create(
                actor=clerk, data=customer_data(phone="09000000002")
            )
        self.open_order = new_order(clerk, "09000000003", start)
        self.pending_request = new_order(clerk, "09000000004", start)
        cancel(clerk, self.pending_request, start + 10 * day)
        with at(start + 20 * day):
            item = requests.intake(
                kind="disclosure", channel="counter", name="n", contact="c", details="", by=clerk
            )
            requests.verify_identity(
                request_id=item.pk,
                method="passport",
                customer=self.pending_request.customer,
                by=manager,
            )
        self.recent_first = new_order(clerk, "09000000005", start)
        pick_up(clerk, self.recent_first, start + 10 * day)
        self.recent_second = new_order(
            clerk, "", start + 600 * day, customer=self.recent_first.customer
        )
        pick_up(clerk, self.recent_second, start + 610 * day)
        self.just_expired = new_order(clerk, "09000000006", start)
        pick_up(clerk, self.just_expired, cutoff - timedelta(hours=1))
        self.not_quite = new_order(clerk, "09000000007", start)
        pick_up(clerk, self.not_quite, cutoff + timedelta(hours=1))
        self.comes_back = new_order(clerk, "09000000008", start)
        cancel(clerk, self.comes_back, start + 10 * day)
        self.erased = new_order(clerk, "09000000009", start)
        cancel(clerk, self.erased, start + 10 * day)
        with at(start + 20 * day):
            erasure.erase_customer(self.erased.customer, by=manager)
        # Old enough, but on an incident still open: they may yet have to be told.
        self.on_incident = new_order(clerk, "09000000010", start)
        cancel(clerk, self.on_incident, start + 10 * day)
        with at(start + 800 * day):
            incident = incident_services.record(
                by=manager, discovered_at=timezone.now(), summary="s", malicious=True
            )
            incident_services.add_customers(
                incident_id=incident.pk,
                customer_ids=[self.on_incident.customer_id],
                how="reference",
                by=manager,
            )
        # Due, and erased with a provision record that outlives them (its own key).
        self.provided = new_order(clerk, "09000000011", start)
        pick_up(clerk, self.provided, start + 10 * day)
        with at(start + 11 * day):
            provision_for(self.provided.customer, clerk)

    @property
    def due(self):
        return {
            self.expired.customer_id,
            self.never_ordered.pk,
            self.just_expired.customer_id,
            self.comes_back.customer_id,
            self.provided.customer_id,
        }


@pytest.fixture
def shop(clerk, manager, ledger, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # ledger lines come at commit
        return Shop(clerk, manager)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def english(client):
    client.cookies["django_language"] = "en"
    return client


def test_due_customers_are_exactly_those_whose_time_is_up(shop):
    with at(shop.now):
        assert set(retention.due_customers().values_list("pk", flat=True)) == shop.due
        orders = set(retention.due_order_details().values_list("pk", flat=True))
    # Old closed orders of customers who stay lose their details; the erased customer's
    # orders and the customer with an open request are left alone.
    assert shop.recent_first.pk in orders and shop.not_quite.pk in orders
    assert shop.on_incident.pk not in orders  # the incident may need what was ordered
    assert shop.recent_second.pk not in orders
    assert shop.pending_request.pk not in orders and shop.erased.pk not in orders
    assert shop.open_order.pk not in orders


def test_the_dry_run_prints_counts_only_and_changes_nothing(shop):
    entries, keys = AuditLogEntry.objects.count(), DataKey.objects.count()
    ledger_before = erasure.ledger_path().read_text()
    out = io.StringIO()
    with at(shop.now):
        call_command("retention", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Customers due for erasure: 5 " in text
    assert "Closed orders whose details are due to be cleared: 2 " in text
    for value in [*CANARIES.values(), *ORDER_CANARIES.values(), "Cr55"]:
        assert value not in text
    for customer in Customer.objects.all():
        assert customer.reference not in text and str(customer.pk) not in text
    assert AuditLogEntry.objects.count() == entries
    assert DataKey.objects.count() == keys
    assert not RetentionBatch.objects.exists()
    assert erasure.ledger_path().read_text() == ledger_before
    assert Customer.objects.filter(erased_at__isnull=False).count() == 1


def test_a_batch_erases_exactly_the_expired_and_the_proposer_cannot_approve(
    shop, clerk, manager, second_manager, django_capture_on_commit_callbacks
):
    with at(shop.now):
        overview = login(Client(), manager).get("/manager/retention/").content.decode()
        assert "消去の期限が来た顧客" in overview and "一括処理を提案" in overview
        proposer = english(login(Client(), manager))
        response = proposer.post("/manager/retention/", follow=True)
        batch = RetentionBatch.objects.get()
        assert {str(pk) for pk in shop.due} == set(batch.customer_ids)
        assert set(batch.order_ids) == {
            str(shop.recent_first.pk),
            str(shop.not_quite.pk),
        }
        page = proposer.get(f"/manager/retention/{batch.pk}/").content.decode()
        assert shop.expired.customer.reference in page
        for value in [*CANARIES.values(), *ORDER_CANARIES.values()]:
            assert value not in page  # references and dates only

        response = proposer.post(f"/manager/retention/{batch.pk}/approve/", follow=True)
        assert "A second staff member must approve this; you proposed it." in messages_of(
            response
        ) + [str(m) for m in response.context["messages"]]
        batch.refresh_from_db()
        assert batch.status == "proposed"
        assert Customer.objects.filter(erased_at__isnull=False).count() == 1

        # The administrator cannot approve at all.
        administrator = make_staff("admin2", "administrator")
        assert (
            login(Client(), administrator)
            .post(f"/manager/retention/{batch.pk}/approve/")
            .status_code
            == 403
        )

    # The customer who comes back before the approval is kept.
    new_order(clerk, "", shop.now + timedelta(days=1), customer=shop.comes_back.customer)

    with at(shop.now + timedelta(days=2)), django_capture_on_commit_callbacks(execute=True):
        english(login(Client(), second_manager)).post(f"/manager/retention/{batch.pk}/approve/")

    batch.refresh_from_db()
    assert batch.status == "done" and batch.decided_by == second_manager
    assert (batch.customers_erased, batch.customers_kept) == (4, 1)
    assert (batch.orders_cleared, batch.orders_kept) == (2, 0)
    erased_now = shop.due - {shop.comes_back.customer_id}
    assert set(
        Customer.objects.filter(erased_at__isnull=False).values_list("pk", flat=True)
    ) == erased_now | {shop.erased.customer_id}
    for pk in erased_now:
        customer = Customer.objects.get(pk=pk)
        assert all(getattr(customer, name) is None for name in CANARIES)
        assert not DataKey.objects.filter(subject_id=pk).exists()
        assert str(pk) in erasure.erased_subjects()
        logged = AuditLogEntry.objects.get(event="privacy.customer.erased", object_pk=str(pk))
        assert logged.actor == second_manager
        assert logged.additional_data == {"batch": batch.reference}
    for survivor in (
        shop.open_order,
        shop.pending_request,
        shop.recent_first,
        shop.not_quite,
        shop.on_incident,
    ):
        customer = Customer.objects.get(pk=survivor.customer_id)
        assert customer.erased_at is None and customer.family_name == CANARIES["family_name"]
    assert Customer.objects.get(pk=shop.comes_back.customer_id).phone == "09000000008"
    assert AuditLogEntry.objects.filter(
        event="privacy.retention.kept", object_pk=str(shop.comes_back.customer_id)
    ).exists()
    assert AuditLogEntry.objects.filter(event="privacy.retention.purged").count() == 1
    ledger_ids = {
        json.loads(line)["subject"] for line in erasure.ledger_path().read_text().splitlines()
    }
    assert ledger_ids == {str(pk) for pk in erased_now | {shop.erased.customer_id}}


def test_old_closed_orders_lose_their_details_and_keep_their_skeleton(
    shop, clerk, manager, second_manager
):
    with at(shop.now):
        batch = retention.propose(by=manager)
        retention.approve(batch_id=batch.pk, by=second_manager)
        retention.purge(batch_id=batch.pk, by=second_manager)
    for cleared in (shop.recent_first, shop.not_quite):
        order = SpecialOrder.objects.get(pk=cleared.pk)
        assert order.details_cleared_at is not None
        assert (order.title, order.author, order.publisher, order.isbn) == (None,) * 4
        assert order.isbn_bidx is None
        assert order.status == "picked_up" and order.quantity == 1
        assert order.requested_at == cleared.requested_at and order.picked_up_at is not None
        # The customer stays, readable as before.
        assert order.customer.phone in ("09000000005", "09000000007")
    kept = SpecialOrder.objects.get(pk=shop.recent_second.pk)
    assert kept.title == ORDER_CANARIES["title"] and kept.details_cleared_at is None
    assert (
        SpecialOrder.objects.get(pk=shop.pending_request.pk).cancel_reason == "キャンセル理由Cr55"
    )
    assert AuditLogEntry.objects.filter(event="customers.order.details_cleared").count() == 2

    with at(shop.now):
        access.grant(shop.recent_first.customer, to=clerk, reason="test", by=manager)
        page = english(login(Client(), clerk)).get(f"/customers/{shop.recent_first.customer_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Details cleared after the retention period" in html
    assert ORDER_CANARIES["title"] in html  # the newer order keeps its title


def test_a_refused_batch_erases_nothing_and_only_one_batch_waits(shop, manager, second_manager):
    with at(shop.now):
        batch = retention.propose(by=manager)
        with pytest.raises(retention.RetentionError, match="already waiting"):
            retention.propose(by=second_manager)
        with pytest.raises(CommandError, match="Awaiting approval"):
            call_command("retention", "--purge", batch.reference, stdout=io.StringIO())
        retention.refuse(batch_id=batch.pk, by=second_manager)
        with pytest.raises(retention.RetentionError):
            retention.approve(batch_id=batch.pk, by=second_manager)
    assert Customer.objects.filter(erased_at__isnull=False).count() == 1
    assert AuditLogEntry.objects.filter(event="privacy.retention.refused").count() == 1


def test_the_command_proposes_and_finishes_an_approved_batch(shop, manager, second_manager):
    out = io.StringIO()
    with at(shop.now):
        call_command("retention", "--propose", "--as", manager.username, stdout=out)
        batch = RetentionBatch.objects.get()
        assert f"Batch {batch.reference} proposed: 5 customers" in out.getvalue()
        assert batch.proposed_by == manager
        with pytest.raises(CommandError):
            call_command("retention", "--propose", "--as", "nobody", stdout=io.StringIO())
        retention.approve(batch_id=batch.pk, by=second_manager)
        # As if the purge had been interrupted right after the approval.
        call_command("retention", "--purge", batch.reference, stdout=out)
    assert f"Batch {batch.reference} done: 5 customers erased, 0 kept" in out.getvalue()
    assert set(
        Customer.objects.filter(erased_at__isnull=False).values_list("pk", flat=True)
    ) == shop.due | {shop.erased.customer_id}


def test_a_clerk_cannot_propose_and_nothing_is_due_before_its_time(clerk, manager, ledger):
    order = new_order(clerk, "09011112222", timezone.now())
    pick_up(clerk, order, timezone.now())
    with pytest.raises(retention.RetentionError, match="Only a manager"):
        retention.propose(by=clerk)
    with (
        at(timezone.now() + timedelta(days=365)),
        pytest.raises(retention.RetentionError, match="Nothing is due"),
    ):
        retention.propose(by=manager)
    assert login(Client(), clerk).get("/manager/retention/").status_code == 403


def test_in_a_shop_with_one_manager_a_clerk_is_the_second_person(shop, manager, clerk):
    with at(shop.now):
        batch = retention.propose(by=manager)
        colleague = english(login(Client(), clerk))
        board = colleague.get("/board/").content.decode()
        assert f"Retention batch {batch.reference}" in board
        page = colleague.get(f"/manager/retention/{batch.pk}/").content.decode()
        assert CANARIES["family_name"] not in page  # references and dates only
        colleague.post(f"/manager/retention/{batch.pk}/approve/")
    batch.refresh_from_db()
    assert batch.status == "done" and batch.decided_by == clerk
    erased = set(Customer.objects.filter(erased_at__isnull=False).values_list("pk", flat=True))
    assert erased == shop.due | {shop.erased.customer_id}
