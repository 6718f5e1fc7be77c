"""Pages cost a fixed number of queries, whatever the number of customers or orders they show:
no query per row. (The benchmark's board shows 50 customers; a few are enough to tell.)"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import services
from customers.models import Customer
from privacy.vault import bulk, crypto
from privacy.vault.crypto import DecryptionError
from tests.conftest import CANARIES, TOLD, customer_data, login, order_data

# The shop terminal the device cookie names; session; user with its staff profile and
# whether a contractor's contract ended (one query); roles; the OTP devices (one UNION);
# then one query for the handling rules' acknowledgement and grant expiry; the rows with
# their data keys and the audit chain's head; the insert of the read entries, which commits
# by itself (no session save: at most once a minute). Every page with the top bar asks what
# waits for its user: the desks' items (one UNION) and proposed deletions of third-party
# records. The customer page adds its orders, grants and notices (suspensions, provision
# records and the notice in force only when its row says they matter). Raise them only for
# a reason the page's users would notice. The pages run as in production: outside a test
# transaction (transaction=True), so their read entries take the lock-free append.
BOARD_QUERIES = 10
CUSTOMER_PAGE_QUERIES = 14


def _new_orders(clerk, count, start=0):
    return [
        services.order_create_with_customer(
            notice=TOLD,
            actor=clerk,
            customer_data=customer_data(phone=f"0901234{start + k:04d}"),
            order_data=order_data(),
        )
        for k in range(count)
    ]


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db(transaction=True)
def test_the_board_costs_the_same_queries_for_two_customers_or_eight(
    transactional_audit, client, clerk
):
    _new_orders(clerk, 2)
    login(client, clerk)
    client.get("/board/")
    few = _count(client, "/board/")
    _new_orders(clerk, 6, start=2)
    many = _count(client, "/board/")
    assert few == many <= BOARD_QUERIES, (few, many)
    assert client.get("/board/").content.count(b'class="order-card"') == 8


@pytest.mark.django_db(transaction=True)
def test_the_customer_page_costs_the_same_queries_for_one_order_or_five(
    transactional_audit, client, clerk
):
    order = _new_orders(clerk, 1)[0]
    login(client, clerk)
    url = f"/customers/{order.customer_id}/"
    client.get(url)
    one = _count(client, url)
    for _ in range(4):
        services.order_create(actor=clerk, customer=order.customer, data=order_data())
    five = _count(client, url)
    assert one == five <= CUSTOMER_PAGE_QUERIES, (one, five)
    assert client.get(url).content.count(b'id="order-') == 5


@pytest.mark.django_db
def test_a_streamed_export_decrypts_every_row_with_one_query_a_batch(clerk):
    orders = _new_orders(clerk, 5)
    fields = ["family_name", "phone", "notes"]
    with CaptureQueriesContext(connection) as captured:
        rows = dict(bulk.decrypted_rows(Customer, fields, batch=2))
    assert len(captured) == 3 + 1  # three batches of rows with their keys, one empty page
    assert set(rows) == {o.customer_id for o in orders}
    assert {r["family_name"] for r in rows.values()} == {CANARIES["family_name"]}
    assert {r["phone"] for r in rows.values()} == {f"0901234{k:04d}" for k in range(5)}


@pytest.mark.django_db
def test_a_streamed_export_refuses_a_value_copied_from_another_row(clerk):
    first, second = (o.customer for o in _new_orders(clerk, 2))
    stolen = Customer.objects.filter(pk=first.pk).values_list("phone", flat=True).get()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET phone = %s WHERE id = %s",
            [stolen.blob, Customer._meta.pk.get_db_prep_value(second.pk, connection)],
        )
    with pytest.raises(DecryptionError):
        list(bulk.decrypted_rows(Customer, ["phone"]))


@pytest.mark.django_db
def test_a_streamed_export_reads_only_the_fields_asked_for(clerk):
    _new_orders(clerk, 3)
    before = crypto.counters["decrypt"]
    list(bulk.decrypted_rows(Customer, ["family_name"]))
    assert crypto.counters["decrypt"] - before == 3 + 3  # three data keys, three names


def test_the_board_asks_each_shown_orders_permission_instead_of_hashing_all_it_may_see(clerk):
    """On PostgreSQL an EXISTS inside an OR may become a hash of every customer the user may
    see, built on every page (the counter team sees them all: 7,000 hashed to show 50, a
    million at a chain). The board's plan must probe the permissions of the rows it shows."""
    if connection.vendor != "postgresql":
        pytest.skip("the plan in question is PostgreSQL's")
    from customers import selectors

    _new_orders(clerk, 3)
    with CaptureQueriesContext(connection) as captured:
        selectors.order_board(clerk)
    (board_sql,) = [q["sql"] for q in captured if "objectpermission" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {board_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customers_customergroupobjectpermission" in plan
    assert "hashed SubPlan" not in plan, plan
