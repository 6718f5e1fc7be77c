import csv
import io
from datetime import timedelta

from django.utils import timezone

from privacy.audit import log as audit
from privacy.audit.models import AuditLogEntry
from tests.conftest import CANARIES, ORDER_CANARIES, TOLD, login


def test_the_administrator_sees_references_never_names(client, administrator, clerk, customer):
    login(client, clerk)
    client.get(f"/customers/{customer.pk}/")
    login(client, administrator)
    html = client.get("/audit/").content.decode()
    assert customer.reference in html
    for value in {**CANARIES, **ORDER_CANARIES}.values():
        assert value not in html


def test_filters_by_customer_reference_staff_and_action(
    client, administrator, clerk, manager, customer, order
):
    from customers import services
    from tests.conftest import customer_data, order_data

    other = services.order_create_with_customer(
        notice=TOLD,
        actor=manager,
        customer_data=customer_data(phone="08077778888"),
        order_data=order_data(),
    ).customer
    login(client, clerk)
    client.get(f"/customers/{customer.pk}/")
    login(client, manager)
    client.get(f"/customers/{other.pk}/")

    login(client, administrator)
    response = client.get("/audit/", {"reference": customer.reference, "action": "read"})
    rows = response.context["rows"]
    assert rows and all(row["reference"] == customer.reference for row in rows)
    assert {row["actor"] for row in rows} == {"clerk"}

    response = client.get("/audit/", {"actor": manager.pk, "action": "read"})
    assert {row["reference"] for row in response.context["rows"]} == {other.reference}

    today = timezone.localdate()
    response = client.get("/audit/", {"date_from": today + timedelta(days=1)})
    assert response.context["rows"] == []


def test_a_bad_reference_gets_a_message(client, administrator):
    login(client, administrator)
    response = client.get("/audit/", {"reference": "山田"})
    assert "C-1A2B3C4D" in response.content.decode()
    assert response.context["rows"] == []


def test_the_csv_export_holds_the_filtered_rows_and_is_itself_logged(
    client, administrator, clerk, customer
):
    login(client, clerk)
    client.get(f"/customers/{customer.pk}/")
    login(client, administrator)
    response = client.get("/audit/export.csv", {"action": "read"})
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    end = rows.pop()
    assert (
        end["seq"]
        == f"end of export: {len(rows)} entries"
        + end["seq"][len(f"end of export: {len(rows)} entries") :]
    )
    assert rows and all(row["event"].endswith(".read") for row in rows)
    assert all(value not in body for value in CANARIES.values())
    exported = AuditLogEntry.objects.get(event="privacy.audit.exported")
    assert exported.actor == administrator
    assert exported.additional_data == {"action": "read"}


def test_many_customers_opened_in_a_short_time_are_flagged(
    client, administrator, clerk, customer, settings
):
    settings.BOOKSHOP_FLAG_READS = 3
    audit.record_reads([customer], actor=clerk, purpose="customer_record", fields=[])
    login(client, administrator)
    assert not [
        f for f in client.get("/audit/").context["flags"] if f["flag"].kind == "many_opened"
    ]

    from customers import services
    from tests.conftest import customer_data, order_data

    others = [
        services.order_create_with_customer(
            notice=TOLD,
            actor=clerk,
            customer_data=customer_data(phone=f"0803333{i:04d}"),
            order_data=order_data(),
        ).customer
        for i in range(4)
    ]
    # Shown as rows of a list: ordinary work, not counted.
    audit.record_reads(others, actor=clerk, purpose="order_desk", fields=[])
    assert not [
        f for f in client.get("/audit/").context["flags"] if f["flag"].kind == "many_opened"
    ]
    for other in others:  # each opened by itself
        audit.record_reads(
            [other], actor=clerk, purpose="order_desk", fields=[], data={"opened": True}
        )
    flags = [
        f["flag"] for f in client.get("/audit/").context["flags"] if f["flag"].kind == "many_opened"
    ]
    assert len(flags) == 1 and flags[0].actor == "clerk"


def test_a_burst_of_failed_logins_is_flagged(client, administrator, settings):
    settings.BOOKSHOP_FLAG_FAILED_LOGINS = 3
    for _ in range(3):
        client.post("/login/", {"username": "nobody", "password": "wrong-password-1"})
    login(client, administrator)
    flags = [f for f in client.get("/audit/").context["flags"] if f["flag"].kind == "failed_logins"]
    assert len(flags) == 1


def test_reads_outside_business_hours_are_flagged(client, administrator, clerk, customer, settings):
    import time_machine

    settings.BOOKSHOP_OPENING_HOURS = "08:00-23:00"
    with time_machine.travel(
        timezone.now().replace(hour=18, minute=30), tick=False
    ):  # 03:30 in Tokyo
        audit.record_reads([customer], actor=clerk, purpose="x", fields=[])
    login(client, administrator)
    flags = [f["flag"] for f in client.get("/audit/").context["flags"]]
    assert [f.actor for f in flags if f.kind == "outside_hours"] == ["clerk"]


def test_the_chain_panel_shows_the_head_and_last_verification(
    client, administrator, customer, settings, tmp_path
):
    from django.core.management import call_command

    settings.BOOKSHOP_AUDIT_CHECKPOINTS = str(tmp_path / "checkpoints.jsonl")

    call_command("verify_audit_log")
    login(client, administrator)
    response = client.get("/audit/")
    chain = response.context["chain"]
    assert chain["head_seq"] == AuditLogEntry.objects.count()
    assert chain["last_verification"].ok
