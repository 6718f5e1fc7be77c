"""Records the law expects (APPI, the PPC guidelines): the manager's periodic access review,
the register of contractors (委託先の監督) whose staff accounts end with their contract, and
staff training (従業者の教育), which the public notice reports only from what is recorded."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers import services as customer_services
from privacy.access import grants as access
from privacy.audit import log as audit
from privacy.audit.models import AuditLogEntry
from privacy.core import inbox
from privacy.staff.records import services
from privacy.staff.records.models import (
    AccessReview,
    Contractor,
    ContractorStaff,
    TrainingSession,
)
from tests.conftest import CANARIES, PASSWORD, TOLD, customer_data, login, make_staff, order_data

MANAGER_PAGES = ["/manager/access-review/", "/manager/contractors/", "/manager/training/"]


def new_customer(clerk, **overrides):
    order = customer_services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(**overrides),
        order_data=order_data(),
    )
    return order.customer


def a_contractor(manager, **values):
    data = {
        "name": "配送センター株式会社",
        "data_handled": "氏名、住所",
        "purpose": "お届け",
        "contract_starts_on": date(2026, 1, 1),
        "contract_ends_on": None,
        "confidentiality_agreed_on": date(2026, 1, 1),
    }
    data.update(values)
    return services.save_contractor(by=manager, **data)


# --- Access review ----------------------------------------------------------------------


def test_the_review_lists_everyone_with_grants_by_reference_reads_and_unused_accounts(
    manager, clerk, outsider_clerk, administrator, customer
):
    access.grant(customer, to=outsider_clerk, reason="引き継ぎ", by=manager)
    audit.record_reads([customer], actor=clerk, purpose="customer_record", fields=["phone"])
    with time_machine.travel(timezone.now() - timedelta(days=120)):
        idle = make_staff("idle", "clerk")

    page = login(Client(), manager).get("/manager/access-review/")
    html = page.content.decode()

    assert page.status_code == 200
    assert "アクセス権の見直し" in html
    for user in (manager, clerk, outsider_clerk, administrator, idle):
        assert f'id="person-{user.pk}"' in html
    outsider_row = html.split(f'id="person-{outsider_clerk.pk}"')[1].split("</tr>")[0]
    assert customer.reference in outsider_row  # the grant in force, by reference
    assert "店員" in outsider_row
    clerk_row = html.split(f'id="person-{clerk.pk}"')[1].split("</tr>")[0]
    assert "カウンター担当" in clerk_row  # the team, whose grants are counted
    assert timezone.localtime().strftime("%Y-%m-%d") in clerk_row  # the last customer read
    idle_row = html.split(f'id="person-{idle.pk}"')[1].split("</tr>")[0]
    assert "90日以上使われていません" in idle_row
    assert "90日以上使われていません" not in outsider_row
    for value in CANARIES.values():  # references only, never a customer's data
        assert str(value) not in html


def test_the_review_costs_the_same_queries_for_four_people_or_twelve(manager, clerk, customer):
    client = login(Client(), manager)

    def cost() -> int:
        client.get("/manager/access-review/")  # session and caches warm
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/manager/access-review/").status_code == 200
        return len(queries)

    make_staff("other", "clerk")
    few = cost()
    for n in range(8):
        person = make_staff(f"person{n}", "clerk", counter=n % 2 == 0)
        other = new_customer(clerk, phone=f"0901234{n:04d}")
        access.grant(other, to=person, reason="担当", by=manager)
        audit.record_reads([other], actor=person, purpose="customer_record", fields=["phone"])
    assert cost() == few


def test_a_due_review_waits_in_the_managers_inbox_until_recorded(manager, clerk):
    def review_waiting(user):
        return [item for item in inbox.waiting_for(user) if item.kind == "access_review"]

    assert review_waiting(manager) == []  # a new shop: the first review is a month away
    with time_machine.travel(timezone.now() + timedelta(days=32)):
        (item,) = review_waiting(manager)
        assert item.url == "/manager/access-review/"
        assert review_waiting(clerk) == []
        client = login(Client(), manager)
        assert "アクセス権の見直し" in client.get("/approvals/").content.decode()

        response = client.post(
            "/manager/access-review/",
            {"reviewed_on": timezone.localdate().isoformat(), "changes": "退職者1名を停止"},
        )
        assert response.status_code == 302
        assert review_waiting(manager) == []
        review = AccessReview.objects.get()
        assert review.reviewed_by == manager
        entry = AuditLogEntry.objects.get(event="records.access_review.recorded")
        assert entry.actor == manager
        assert "退職者" not in str(entry.additional_data)  # the note stays out of the log
    with time_machine.travel(timezone.now() + timedelta(days=32 + 32)):
        assert len(review_waiting(manager)) == 1  # due again a month later


# --- Contractors -----------------------------------------------------------------------


@pytest.mark.usefixtures("production_password_hasher")
def test_a_contractors_account_ends_with_the_contract(manager, clerk, administrator):
    contractor = a_contractor(manager, contract_ends_on=timezone.localdate())
    admin = login(Client(), administrator)
    response = admin.post("/staff/contractors/", {"user": clerk.pk, "contractor": contractor.pk})
    assert response.status_code == 302
    assert AuditLogEntry.objects.filter(
        event="records.contractor.staff_set", object_pk=str(clerk.pk), actor=administrator
    ).exists()

    open_session = Client()
    assert (
        open_session.post("/login/", {"username": "clerk", "password": PASSWORD}).status_code == 302
    )
    assert open_session.get("/approvals/").status_code == 200  # the contract's last day

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        refused = Client().post("/login/", {"username": "clerk", "password": PASSWORD})
        assert refused.status_code != 302
        assert open_session.get("/approvals/").status_code == 302  # the session ended too
        out = []
        call_command("expire_access", stdout=type("W", (), {"write": out.append})())
        clerk.refresh_from_db()
        assert not clerk.is_active
        assert "Deactivated 1 accounts" in "".join(out)
        ended = AuditLogEntry.objects.get(event="records.contractor.account_ended")
        assert ended.object_pk == str(clerk.pk)
        assert ended.additional_data["contractor"] == contractor.pk
        assert AuditLogEntry.objects.filter(
            event="accounts.deactivated", object_pk=str(clerk.pk)
        ).exists()
    manager.refresh_from_db()
    assert manager.is_active  # the shop's own staff are not touched


def test_the_manager_keeps_the_register_and_records_checks(manager, clerk):
    client = login(Client(), manager)
    response = client.post(
        "/manager/contractors/",
        {
            "name": "印刷サービス株式会社",
            "data_handled": "氏名、住所（DM 宛名）",
            "purpose": "ダイレクトメールの印刷",
            "contract_starts_on": "2026-04-01",
            "contract_ends_on": "2027-03-31",
            "confidentiality_agreed_on": "2026-03-20",
        },
    )
    contractor = Contractor.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/manager/contractors/{contractor.pk}/"
    assert client.get("/manager/contractors/").content.decode().count("印刷サービス株式会社") == 1

    response = client.post(
        f"/manager/contractors/{contractor.pk}/",
        {
            "action": "check",
            "checked_on": timezone.localdate().isoformat(),
            "what_checked": "保管場所の施錠を確認",
            "checked_by": clerk.pk,
            "result": "needs_action",
            "findings": "鍵の管理簿がない",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/manager/contractors/{contractor.pk}/").content.decode()
    assert "保管場所の施錠を確認" in page
    assert "要対応" in page

    response = client.post(
        f"/manager/contractors/{contractor.pk}/",
        {
            "action": "edit",
            "name": "印刷サービス株式会社",
            "data_handled": "氏名、住所（DM 宛名）",
            "purpose": "ダイレクトメールの印刷",
            "contract_starts_on": "2026-04-01",
            "contract_ends_on": "2026-03-01",  # before it starts: refused
            "confidentiality_agreed_on": "2026-03-20",
        },
    )
    assert response.status_code == 200
    assert "契約は開始日より前に終了できません" in response.content.decode()
    client.post(
        f"/manager/contractors/{contractor.pk}/",
        {
            "action": "edit",
            "name": "印刷サービス株式会社",
            "data_handled": "氏名、住所（DM 宛名）",
            "purpose": "ダイレクトメールの印刷",
            "contract_starts_on": "2026-04-01",
            "contract_ends_on": "2026-09-30",
            "confidentiality_agreed_on": "2026-03-20",
        },
    )
    contractor.refresh_from_db()
    assert contractor.contract_ends_on == date(2026, 9, 30)
    events = list(
        AuditLogEntry.objects.filter(object_pk=str(contractor.pk), event__startswith="records.")
        .order_by("seq")
        .values_list("event", flat=True)
    )
    assert events == [
        "records.contractor.added",
        "records.contractor.checked",
        "records.contractor.changed",
    ]
    changed = AuditLogEntry.objects.get(event="records.contractor.changed")
    assert changed.additional_data["fields"] == ["contract_ends_on"]


# --- Training and the public notice ---------------------------------------------------


def test_the_notice_says_nothing_of_training_until_a_session_is_recorded(manager, clerk):
    before = Client().get("/privacy/").content.decode()
    assert "研修" not in before
    assert "従業者の教育" not in before
    assert "train" not in before.lower()  # the old fixed sentence (untranslated) is gone

    client = login(Client(), manager)
    with time_machine.travel(timezone.make_aware(timezone.datetime(2026, 11, 20, 12, 0))):
        response = client.post(
            "/manager/training/",
            {"held_on": "2026-11-18", "topic": "個人情報の取扱い", "attendees": [clerk.pk]},
        )
        assert response.status_code == 302
        session = TrainingSession.objects.get()
        assert list(session.attendees.all()) == [clerk]
        assert AuditLogEntry.objects.filter(
            event="records.training.recorded", actor=manager
        ).exists()
        after = Client().get("/privacy/").content.decode()
    assert (
        "従業者に対し、個人情報の取扱いに関する研修を定期的に実施しています（直近: 2026年11月）"
        in after
    )


def test_a_training_day_still_to_come_is_refused(manager, clerk):
    client = login(Client(), manager)
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = client.post(
        "/manager/training/",
        {"held_on": tomorrow.isoformat(), "topic": "予定", "attendees": [clerk.pk]},
    )
    assert response.status_code == 200
    assert not TrainingSession.objects.exists()


# --- Who may -----------------------------------------------------------------------------


def test_only_the_manager_opens_the_records_and_only_the_administrator_links_accounts(
    manager, clerk, administrator
):
    contractor = a_contractor(manager)
    pages = [*MANAGER_PAGES, f"/manager/contractors/{contractor.pk}/"]
    for person in (clerk, administrator):
        client = login(Client(), person)
        for url in pages:
            assert client.get(url).status_code == 403, (person, url)
            assert client.post(url, {}).status_code == 403, (person, url)
    manager_client = login(Client(), manager)
    for url in pages:
        assert manager_client.get(url).status_code == 200
    for person in (clerk, manager):
        client = login(Client(), person)
        assert client.get("/staff/contractors/").status_code == 403
        assert (
            client.post(
                "/staff/contractors/", {"user": clerk.pk, "contractor": contractor.pk}
            ).status_code
            == 403
        )
    assert not ContractorStaff.objects.filter(user=clerk).exists()
    menu = manager_client.get("/approvals/").content.decode()
    for url in MANAGER_PAGES:
        assert f'href="{url}"' in menu
    assert (
        'href="/staff/contractors/"'
        in login(Client(), administrator).get("/approvals/").content.decode()
    )
