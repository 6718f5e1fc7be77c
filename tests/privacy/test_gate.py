"""The gate: a subject's data key leaves the vault only to a scope holding an access decision
for that actor, subject and purpose, taken after every check a read must make and logged
before the data shows. A view, service or command that forgets gets an exception, never
plaintext; a refusal is in the audit log for the administrator to find."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from customers.models import Customer
from privacy.access import decisions
from privacy.access import grants as access
from privacy.audit.models import AuditLogEntry
from privacy.core import context
from privacy.desks import requests
from privacy.desks.models import DataRequest
from privacy.staff import accounts
from privacy.vault import gate
from tests.conftest import CANARIES, login, make_staff

TOKYO = ZoneInfo("Asia/Tokyo")


def careless_view(request, pk):
    """What a new view might do: load a customer and show a field, forgetting the gate."""
    return HttpResponse(Customer.objects.get(pk=pk).family_name)


urlpatterns = [path("careless/<uuid:pk>/", careless_view)]


@pytest.mark.urls("tests.privacy.test_gate")
def test_a_view_that_reads_a_customer_without_the_gate_raises(clerk, customer):
    client = login(Client(raise_request_exception=False), clerk)
    response = client.get(f"/careless/{customer.pk}/")
    assert response.status_code == 500
    assert CANARIES["family_name"] not in response.content.decode()
    refused = AuditLogEntry.objects.get(event="privacy.gate.refused")
    assert refused.object_pk == str(customer.pk) and refused.actor == clerk

    raising = login(Client(), clerk)
    with pytest.raises(gate.GateClosed, match=str(customer.pk)):
        raising.get(f"/careless/{customer.pk}/")


def test_a_row_loaded_without_a_decision_stays_sealed(customer):
    with context.scope():  # another request, which decided nothing
        loaded = Customer.objects.get(pk=customer.pk)
        with pytest.raises(gate.GateClosed):
            loaded.family_name  # noqa: B018
        with pytest.raises(gate.GateClosed):
            gate.check(customer.pk)


def test_the_read_entry_is_written_before_the_key_is_released(clerk, customer):
    with context.scope(actor=clerk):
        loaded = Customer.objects.get(pk=customer.pk)
        before = AuditLogEntry.objects.filter(event="customers.customer.read").count()
        decisions.decide(clerk, [loaded], purpose="customer_record", fields=["family_name"])
        entry = AuditLogEntry.objects.filter(event="customers.customer.read").latest("seq")
        assert AuditLogEntry.objects.filter(event="customers.customer.read").count() == before + 1
        assert entry.object_pk == str(customer.pk) and entry.actor == clerk
        assert entry.additional_data["purpose"] == "customer_record"
        assert loaded.family_name == CANARIES["family_name"]


def test_a_decision_is_for_its_actor_only(clerk, manager, customer):
    """A decision taken for the clerk does not open the key to another user's request."""
    with context.scope(actor=clerk):
        decisions.decide(
            clerk, [Customer.objects.get(pk=customer.pk)], purpose="customer_record", fields=[]
        )
        gate.check(customer.pk)
    with context.scope(actor=manager) as scope:
        scope.decisions.update({customer.pk: gate.Decision(clerk.pk, "customer_record")})
        with pytest.raises(gate.GateClosed):
            gate.check(customer.pk)


def test_the_administrators_role_never_gets_a_key_whatever_grants_exist(
    administrator, manager, customer
):
    access.grant(customer, to=administrator, reason="by mistake", by=manager)
    assert access.visible_customers(administrator).filter(pk=customer.pk).exists()
    with context.scope(actor=administrator):
        with pytest.raises(decisions.AccessRefused, match="administrator"):
            decisions.decide(
                administrator,
                [Customer.objects.get(pk=customer.pk)],
                purpose="customer_record",
                fields=["family_name"],
            )
        assert gate.admitted(customer.pk) is None
    refused = AuditLogEntry.objects.get(event="privacy.access.refused")
    assert refused.actor == administrator and refused.object_pk == str(customer.pk)
    # A manager who is also made an administrator loses the key too.
    both = make_staff("both", "manager", "administrator", counter=True)
    with context.scope(actor=both), pytest.raises(decisions.AccessRefused):
        decisions.decide(
            both, [Customer.objects.get(pk=customer.pk)], purpose="customer_record", fields=[]
        )


def test_no_grant_no_key_even_for_a_known_id(outsider_clerk, customer):
    with context.scope(actor=outsider_clerk), pytest.raises(decisions.AccessRefused):
        decisions.decide(
            outsider_clerk,
            [Customer.objects.get(pk=customer.pk)],
            purpose="customer_record",
            fields=["phone"],
        )
    assert not AuditLogEntry.objects.filter(
        event="customers.customer.read", actor=outsider_clerk
    ).exists()


def test_an_unknown_purpose_is_refused(clerk, customer):
    with pytest.raises(ValueError, match="Unknown purpose"):
        decisions.decide(clerk, [customer], purpose="curiosity", fields=[])


def test_a_refused_look_up_leaves_a_trace_the_administrator_can_filter(
    outsider_clerk, administrator, customer
):
    client = login(Client(), outsider_clerk)
    assert client.get(f"/customers/{customer.pk}/").status_code == 404
    refused = AuditLogEntry.objects.get(event="privacy.access.refused")
    assert refused.actor == outsider_clerk and refused.object_pk == str(customer.pk)
    admin = login(Client(), administrator)
    admin.cookies["django_language"] = "en"
    page = admin.get("/audit/", {"action": "refused", "reference": customer.reference})
    assert page.status_code == 200
    assert "outsider" in page.content.decode().lower()


# --- The four ways around the old per-view checks ----------------------------------------


def _correction_request(manager, customer, *, owner=True):
    item = requests.intake(
        kind="correction", channel="counter", name="本人Nm71", contact="c", details=""
    )
    with context.scope(actor=manager):
        requests.verify_identity(
            request_id=item.pk, method="passport", customer=customer, by=manager
        )
        if owner:
            requests.start_work(request_id=item.pk, by=manager)
    return item


def test_a_manager_outside_hours_cannot_read_or_correct_through_a_request(
    manager, customer, settings
):
    item = _correction_request(manager, customer)  # taken up in hours, whatever the clock
    settings.BOOKSHOP_OPENING_HOURS = "08:00-23:00"
    with time_machine.travel(datetime(2026, 11, 3, 2, 0, tzinfo=TOKYO), tick=False):
        boss = login(Client(), manager)
        page = boss.get(f"/requests/{item.pk}/correct/")
        assert page.status_code == 403
        assert CANARIES["family_name"] not in page.content.decode()
        assert CANARIES["phone"] not in page.content.decode()
        posted = boss.post(f"/requests/{item.pk}/correct/", {"phone": "08011112222"})
        assert posted.status_code == 403
    with context.scope():
        stored = Customer.objects.get(pk=customer.pk)
        gate.admit([customer.pk], actor_id=None, purpose="test")
        assert stored.phone == CANARIES["phone"]


def test_only_the_manager_handling_a_correction_reaches_the_customer_through_it(manager, customer):
    item = _correction_request(manager, customer)
    other = make_staff("other_manager", "manager")  # no grant on the customer, not handling
    response = login(Client(), other).get(f"/requests/{item.pk}/correct/")
    assert response.status_code == 404
    assert CANARIES["family_name"] not in response.content.decode()


def test_a_clerk_with_no_part_in_a_request_cannot_open_it(outsider_clerk, clerk):
    item = requests.intake(
        kind="disclosure",
        channel="web",
        name="依頼者Rq55",
        contact="連絡先Ct66",
        details="詳細Dt77",
    )
    for staff in (outsider_clerk, clerk):
        response = login(Client(), staff).get(f"/requests/{item.pk}/")
        assert response.status_code == 404
        html = response.content.decode()
        assert "依頼者Rq55" not in html and "連絡先Ct66" not in html and "詳細Dt77" not in html
    assert not AuditLogEntry.objects.filter(event="privacy.request.read").exists()


def test_request_pages_wait_for_the_handling_rules(manager):
    item = requests.intake(
        kind="complaint", channel="web", name="依頼者Rq55", contact="c", details=""
    )
    with context.scope(actor=manager):
        accounts.publish_rules(text="新しい規程", by=manager)
    response = login(Client(), manager).get(f"/requests/{item.pk}/")
    assert response.status_code == 302 and "/rules/" in response["Location"]
    assert DataRequest.objects.get(pk=item.pk).reference not in response.content.decode()


# --- Commands ---------------------------------------------------------------------------------


def test_a_command_refused_by_the_gate_exits_with_the_purpose_and_no_data(
    manager, customer, tmp_path, settings
):
    """The import compares each row with the customers already there (a read of those who
    match): at night that read is refused, and so is the whole import."""
    settings.BOOKSHOP_OPENING_HOURS = "08:00-23:00"
    csv = tmp_path / "one.csv"
    csv.write_text(
        "姓,名,セイ,メイ,電話番号\n"
        f"{CANARIES['family_name']},{CANARIES['given_name']},{CANARIES['family_name_kana']},"
        f"{CANARIES['given_name_kana']},{CANARIES['phone']}\n"
        "山田,太郎,ヤマダ,タロウ,09011112222\n",
        encoding="utf-8",
    )
    night = time_machine.travel(datetime(2026, 11, 3, 2, 0, tzinfo=TOKYO), tick=False)
    with night, pytest.raises(CommandError) as refused:
        call_command("import_customers", str(csv), "--as", manager.username)
    message = str(refused.value)
    assert "business hours" in message
    for value in CANARIES.values():
        assert value not in message
    assert Customer.objects.count() == 1
