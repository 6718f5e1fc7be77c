from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import services
from privacy.audit.models import AuditLogEntry
from tests.conftest import TOLD, customer_data, login, order_data


def reads(**filters):
    return AuditLogEntry.objects.filter(event="customers.customer.read", **filters)


def make_orders(clerk, n):
    return [
        services.order_create_with_customer(
            notice=TOLD,
            actor=clerk,
            customer_data=customer_data(phone=f"0901111{i:04d}", email=f"c{i}@example.jp"),
            order_data=order_data(),
        )
        for i in range(n)
    ]


def test_the_board_writes_one_read_entry_per_customer_shown_in_bounded_queries(client, clerk):
    make_orders(clerk, 50)
    login(client, clerk)
    client.get("/board/")  # warm caches (content types, session)
    before = reads().count()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/board/")
    assert response.status_code == 200
    new = reads().order_by("-seq")[:50]
    assert reads().count() - before == 50
    assert len({entry.object_pk for entry in new}) == 50
    assert all(
        entry.actor == clerk and entry.additional_data["purpose"] == "order_desk" for entry in new
    )
    # Session, user, permission filter, grants expiry, orders, data keys, audit lock+head+insert...
    # but never one per customer.
    assert len(queries) < 20, [q["sql"][:80] for q in queries.captured_queries]


def test_the_customer_page_logs_the_fields_it_shows(client, clerk, customer):
    login(client, clerk)
    client.get(f"/customers/{customer.pk}/")
    entry = reads(object_pk=str(customer.pk)).get()
    assert entry.additional_data["purpose"] == "customer_record"
    assert "phone" in entry.additional_data["fields"]
    assert entry.actor == clerk


def test_search_results_are_logged_and_a_miss_logs_nothing(client, clerk, customer):
    login(client, clerk)
    client.post("/customers/search/", {"phone": "08000000000"})
    assert reads().count() == 0
    client.post("/customers/search/", {"phone": customer.phone})
    assert (
        reads(object_pk=str(customer.pk), additional_data__purpose="customer_lookup").count() == 1
    )


def test_a_refused_page_logs_no_read(client, outsider_clerk, customer):
    login(client, outsider_clerk)
    assert client.get(f"/customers/{customer.pk}/").status_code == 404
    assert reads().count() == 0
