"""The approvals inbox (承認待ち): whoever may act sees what waits for them, with a count in
the top bar on every page, on their start page and on a page of its own, each item linking to
where they act; and asking costs a fixed, small number of queries."""

import re
from datetime import timedelta

import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from privacy.consent import third_party
from privacy.core import inbox
from privacy.desks import approvals, requests
from privacy.desks import exports as bulk_export
from tests.conftest import login, make_staff, provision_for


def count_in_top_bar(html: str) -> int:
    return int(re.search(r'class="inbox-count"[^>]*>(\d+)<', html).group(1))


def awaiting(manager, *, second_person=None, kind="complaint"):
    item = requests.intake(kind=kind, channel="counter", name="x", contact="y", details="")
    requests.propose(
        request_id=item.pk,
        outcome="reject" if kind != "complaint" else "complete",
        reply="回答",
        by=manager,
        second_person=second_person,
    )
    return item


def test_each_source_lists_only_what_this_person_may_act_on(manager, clerk, customer):
    second_manager = make_staff("manager2", "manager", counter=True)
    export = bulk_export.request_export(by=manager, scope="all", reason="棚卸し")
    for_clerk = awaiting(manager, second_person=clerk)
    for_anyone = awaiting(manager)
    for_the_other = awaiting(manager, second_person=second_manager)

    def urls(user):
        return {item.url for item in approvals.waiting_for(user)}

    export_url = f"/manager/exports/{export.pk}/"
    assert urls(clerk) == {
        export_url,
        f"/requests/{for_clerk.pk}/",
        f"/requests/{for_anyone.pk}/",
    }
    assert urls(second_manager) == {
        export_url,
        f"/requests/{for_anyone.pk}/",
        f"/requests/{for_the_other.pk}/",
    }
    assert urls(manager) == set()  # the proposer waits for nobody but others


def test_a_proposed_deletion_of_a_provision_record_waits_for_a_second_person(
    manager, clerk, customer
):
    outsider = make_staff("outsider2", "clerk")
    with time_machine.travel(timezone.now() - timedelta(days=4 * 366)):
        record = provision_for(customer, clerk)
    third_party.propose_deletion(provision_id=record.pk, by=manager)

    [waiting] = approvals.waiting_for(clerk)
    assert waiting.kind == "provision_deletion" and record.reference in waiting.label
    assert waiting.url == f"/customers/{customer.pk}/"  # where the clerk approves it
    assert approvals.waiting_for(outsider) == []  # a customer they cannot see
    assert approvals.waiting_for(manager) == []  # the proposer


def test_the_count_shows_in_the_top_bar_and_the_list_on_the_inbox_page(manager, clerk):
    client = login(Client(), clerk)
    assert count_in_top_bar(client.get("/approvals/").content.decode()) == 0
    first = awaiting(manager, second_person=clerk)
    second = awaiting(manager)
    page = client.get("/approvals/").content.decode()
    assert count_in_top_bar(page) == 2
    assert "承認待ち" in page
    assert page.index(first.reference) < page.index(second.reference)  # oldest first
    board = client.get("/board/").content.decode()
    assert count_in_top_bar(board) == 2 and f'href="/requests/{first.pk}/"' in board


def test_no_personal_data_in_what_waits(manager, clerk):
    item = requests.intake(
        kind="erasure",
        channel="counter",
        name="依頼者カナリアIb",
        contact="連絡Ib",
        details="詳細Ib",
    )
    requests.propose(request_id=item.pk, outcome="reject", reply="回答Ib", by=manager)
    page = login(Client(), clerk).get("/approvals/").content.decode()
    assert item.reference in page
    assert "Ib" not in page


def test_the_administrator_is_shown_what_waits_on_the_start_page(administrator):
    client = login(Client(), administrator)
    assert client.get("/").status_code == 302  # nothing waits: straight to the audit log

    @inbox.register("test_job")
    def failed_job(user):
        if user.pk == administrator.pk:
            return [inbox.Waiting("test_job", "失敗したジョブ X", "/audit/")]
        return []

    try:
        start = client.get("/")
        assert start.status_code == 200
        html = start.content.decode()
        assert "失敗したジョブ X" in html and count_in_top_bar(html) == 1
    finally:
        inbox._SOURCES.pop("test_job")


DESK_SOURCES = [
    approvals.desk_items_waiting,  # retention batches, exports and requests: one UNION
    approvals.provision_deletions_waiting,
]


def test_asking_what_waits_costs_one_query_per_source_for_one_item_or_many(
    manager, clerk, customer
):
    from privacy.staff import roles

    roles.roles_of(clerk)  # read once per request anyway, for every page

    def cost(user) -> int:
        with CaptureQueriesContext(connection) as queries:
            for source in DESK_SOURCES:
                source(user)
        return len(queries)

    awaiting(manager, second_person=clerk)
    one = cost(clerk)
    for _ in range(5):
        awaiting(manager)
        bulk_export.request_export(by=manager, scope="all", reason="棚卸し")
    assert cost(clerk) == one == len(DESK_SOURCES)
    administrator = make_staff("admin2", "administrator")
    roles.roles_of(administrator)
    assert cost(administrator) == 0  # never a second person: the desks are not asked
