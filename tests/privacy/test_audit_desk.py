"""The administrator's desk: the CSV that streams and says where it ends, the chain verified
from the page, flags that mean something, refused searches that leave a trace, and a page
laid out for a 1280-pixel screen."""

import csv
import io
import re

import pytest
from django.db import OperationalError, connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from customers import services
from privacy.audit import chain as audit_chain
from privacy.audit import checkpoints, review
from privacy.audit import guard as audit_guard
from privacy.audit import log as audit
from privacy.audit.models import AuditLogEntry, AuditVerification
from tests.conftest import CANARIES, TOLD, customer_data, login, order_data


@pytest.fixture
def checkpoint_file(tmp_path, settings):
    settings.BOOKSHOP_AUDIT_CHECKPOINTS = str(tmp_path / "checkpoints.jsonl")
    return tmp_path / "checkpoints.jsonl"


def csv_rows(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def logins(n, actor=None):
    audit.record_many([audit.event_entry("auth.login", actor=actor) for _ in range(n)])


# ---- The CSV ----------------------------------------------------------------------------


def test_the_csv_streams_every_entry_and_ends_with_a_count_row(client, administrator):
    logins(2500)  # more than one batch
    login(client, administrator)
    rows = csv_rows(client.get("/audit/export.csv"))
    total = AuditLogEntry.objects.count()
    assert rows[0][:4] == ["seq", "timestamp", "actor", "event"]
    entries = rows[1:-1]
    assert len(entries) == total
    assert [int(r[0]) for r in entries] == sorted((int(r[0]) for r in entries), reverse=True)
    assert rows[-1] == [
        f"end of export: {total} entries (up to entry #{total}; times in Asia/Tokyo)"
    ]
    assert entries[-1][1].endswith("+09:00")  # shop time, with its offset


def test_the_csv_reads_the_log_a_batch_at_a_time_by_sequence_number(administrator):
    logins(7)
    entries = review.filtered_entries()
    with CaptureQueriesContext(connection) as queries:
        seqs = [entry.seq for entry in review.keyset_pages(entries, size=3)]
    assert seqs == sorted(AuditLogEntry.objects.values_list("seq", flat=True), reverse=True)
    selects = [q["sql"] for q in queries if "privacy_auditlogentry" in q["sql"]]
    assert len(selects) == -(-len(seqs) // 3)  # one short query per batch, none for all
    assert all("LIMIT 3" in sql for sql in selects)
    assert all('"seq" <' in sql for sql in selects[1:])


def test_a_failure_midway_writes_an_error_row_and_no_end_row(client, administrator):
    logins(2100)
    login(client, administrator)
    response = client.get("/audit/export.csv")
    stream = iter(response.streaming_content)
    started = [next(stream) for _ in range(10)]  # the header and the first rows went out

    def second_batch_fails(execute, sql, params, many, context):
        if "privacy_auditlogentry" in sql and '"seq" <' in sql:
            raise OperationalError("the database went away")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(second_batch_fails):
        rest = list(stream)
    rows = list(csv.reader(io.StringIO(b"".join(started + rest).decode())))
    assert rows[-1] == ["export FAILED after 2000 entries: this file is incomplete"]
    assert not any(row and row[0].startswith("end of export") for row in rows)


def test_the_audit_csv_is_not_flagged_as_a_personal_data_export(client, administrator, manager):
    login(client, administrator)
    b"".join(client.get("/audit/export.csv").streaming_content)
    assert not [f for f in client.get("/audit/").context["flags"] if f["flag"].kind == "download"]
    # A bulk export's download is.
    audit.record("privacy.export.downloaded", actor=manager, data={"customers": 3})
    flags = [f["flag"] for f in client.get("/audit/").context["flags"]]
    assert [(f.kind, f.actor) for f in flags if f.kind == "download"] == [("download", "manager")]


# ---- The chain, verified from the page ----------------------------------------------------


def test_the_administrator_verifies_the_chain_with_a_button(
    administrator, customer, checkpoint_file
):
    client = Client(enforce_csrf_checks=True)
    login(client, administrator)
    checkpoints.write_checkpoint()
    page = client.get("/audit/")
    html = page.content.decode()
    with translation.override("ja"):
        assert translation.gettext("Verify the chain now") in html
    head = audit_chain.head()[0]
    assert f"#{head}" in html  # the last checkpoint, by number

    assert client.post("/audit/verify/").status_code == 403  # no CSRF token, no verification
    assert not AuditVerification.objects.exists()

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = client.post(
        "/audit/verify/", {"csrfmiddlewaretoken": token, "action": "read"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/audit/?action=read"
    verification = AuditVerification.objects.get()
    assert verification.ok and verification.entries == head
    with translation.override("ja"):
        assert translation.gettext("intact") in response.content.decode()
    assert AuditLogEntry.objects.filter(event="privacy.audit.verified", actor=administrator)


def test_a_broken_chain_is_named_on_the_page(client, administrator, customer, checkpoint_file):
    target = AuditLogEntry.objects.order_by("seq")[1]
    audit_guard.remove(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE privacy_auditlogentry SET additional_data = %s WHERE seq = %s",
                ['{"forged": true}', target.seq],
            )
    finally:
        audit_guard.install(connection)
    login(client, administrator)
    response = client.post("/audit/verify/", follow=True)
    verification = AuditVerification.objects.get()
    assert not verification.ok and f"entry {target.seq}" in verification.problem
    assert f"entry {target.seq} was changed" in response.content.decode()


def test_a_clerk_cannot_verify_or_read_the_log(client, clerk):
    login(client, clerk)
    assert client.post("/audit/verify/").status_code in (403, 404)
    assert not AuditVerification.objects.exists()


# ---- Flags that mean something -------------------------------------------------------------


@pytest.fixture
def five_customers(clerk):
    return [
        services.order_create_with_customer(
            notice=TOLD,
            actor=clerk,
            customer_data=customer_data(phone=f"0803333{i:04d}"),
            order_data=order_data(),
        ).customer
        for i in range(5)
    ]


def many_opened(client):
    return [
        f["flag"] for f in client.get("/audit/").context["flags"] if f["flag"].kind == "many_opened"
    ]


def test_the_board_is_ordinary_work_and_is_not_flagged(
    client, administrator, clerk, five_customers, settings
):
    settings.BOOKSHOP_FLAG_READS = 3
    login(client, clerk)
    for _ in range(3):
        assert client.get("/board/").status_code == 200
    assert AuditLogEntry.objects.filter(event="customers.customer.read").count() >= 15
    login(client, administrator)
    assert many_opened(client) == []


def test_the_same_customer_opened_again_and_again_is_not_flagged(
    client, administrator, clerk, five_customers, settings
):
    settings.BOOKSHOP_FLAG_READS = 3
    login(client, clerk)
    for _ in range(6):
        client.get(f"/customers/{five_customers[0].pk}/")
    login(client, administrator)
    assert many_opened(client) == []


def test_many_customers_opened_one_by_one_are_flagged_and_linked(
    client, administrator, clerk, five_customers, settings
):
    settings.BOOKSHOP_FLAG_READS = 3
    login(client, clerk)
    for customer in five_customers[:3]:
        client.get(f"/customers/{customer.pk}/")
    client.get(f"/customers/{five_customers[3].pk}/edit/")  # an edit form opens one too
    login(client, administrator)
    flags = many_opened(client)
    assert [f.actor for f in flags] == ["clerk"] and " 4 " in flags[0].message
    item = next(
        f for f in client.get("/audit/").context["flags"] if f["flag"].kind == "many_opened"
    )
    rows = client.get(f"/audit/?{item['query']}").context["rows"]
    assert {row["reference"] for row in rows} == {c.reference for c in five_customers[:4]}


def test_opened_reads_are_marked_in_the_log_and_board_rows_are_not(clerk, client, five_customers):
    login(client, clerk)
    client.get("/board/")
    client.get(f"/customers/{five_customers[0].pk}/orders/new/")
    opened = AuditLogEntry.objects.filter(review.OPENED)
    assert [e.object_pk for e in opened] == [str(five_customers[0].pk)]


# ---- A refused look-up leaves a trace -----------------------------------------------------


def test_a_search_whose_matches_are_all_hidden_is_logged_without_the_terms(
    client, administrator, outsider_clerk, clerk, customer
):
    login(client, outsider_clerk)
    response = client.post("/customers/search/", {"phone": CANARIES["phone"]})
    assert response.status_code == 200
    assert CANARIES["family_name"] not in response.content.decode()
    entry = AuditLogEntry.objects.get(event="privacy.search.refused")
    assert entry.actor == outsider_clerk
    assert entry.additional_data == {
        "purpose": "customer_lookup",
        "reason": "not visible",
        "matches": 1,
    }
    stored = str(entry.__dict__)
    assert CANARIES["phone"] not in stored and customer.reference not in stored
    assert str(customer.pk) not in stored

    # Nobody matching, or a match the clerk may see: nothing refused.
    client.post("/customers/search/", {"phone": "09000000000"})
    login(client, clerk)
    client.post("/customers/search/", {"phone": CANARIES["phone"]})
    assert AuditLogEntry.objects.filter(event="privacy.search.refused").count() == 1

    login(client, administrator)
    rows = client.get("/audit/", {"action": "refused"}).context["rows"]
    assert [(r["event"], r["actor"]) for r in rows] == [("privacy.search.refused", "outsider")]


def test_a_refused_url_is_in_the_refused_reads(client, administrator, outsider_clerk, customer):
    login(client, outsider_clerk)
    assert client.get(f"/customers/{customer.pk}/").status_code == 404
    login(client, administrator)
    rows = client.get("/audit/", {"action": "refused"}).context["rows"]
    assert [(r["event"], r["reference"]) for r in rows] == [
        ("privacy.access.refused", customer.reference)
    ]


# ---- The page -----------------------------------------------------------------------------


def test_the_page_speaks_japanese_in_shop_time_and_keeps_filters_when_paging(
    client, administrator, clerk, customer
):
    logins(120, actor=clerk)
    login(client, administrator)
    response = client.get("/audit/", {"action": "login", "actor": clerk.pk})
    html = response.content.decode()
    assert response.context["page"].paginator.num_pages == 3
    assert f"actor={clerk.pk}&amp;action=login&amp;page=2" in html
    with translation.override("ja"):
        assert str(review.EVENT_LABELS["auth.login"]) in html
    assert ">auth.login<" not in html  # the code is a tooltip, not the text
    row = response.context["rows"][0]
    assert row["time"].count(":") == 2 and str(row["timestamp"].tzinfo) == "Asia/Tokyo"
    second = client.get("/audit/", {"action": "login", "actor": clerk.pk, "page": 2})
    assert all(r["event"] == "auth.login" and r["actor"] == "clerk" for r in second.context["rows"])
    assert 'style="' not in html and "<style" not in html  # strict CSP: the stylesheet only


def test_the_scheduled_jobs_link_filters_by_event_and_job(client, administrator):
    audit.record("privacy.job.failed", data={"job": "backup", "exit_status": 1})
    audit.record("privacy.job.failed", data={"job": "retention", "exit_status": 1})
    login(client, administrator)
    rows = client.get("/audit/", {"event": "privacy.job.failed", "job": "backup"}).context["rows"]
    assert len(rows) == 1 and "backup" in rows[0]["details"]
