from django.test import Client

from privacy.audit.models import AuditLogEntry
from privacy.staff import accounts
from tests.conftest import login


def test_staff_acknowledge_the_rules_before_reading_customer_data(
    manager, clerk, administrator, customer
):
    boss = login(Client(), manager)
    boss.post("/rules/edit/", {"text": "第1版: 顧客情報は注文のためだけに使う"})
    assert accounts.current_rules().version == 1

    counter = login(Client(), clerk)
    response = counter.get(f"/customers/{customer.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/rules/")
    assert "第1版" in counter.get(response["Location"]).content.decode()
    counter.post("/rules/", {"agree": "on", "next": f"/customers/{customer.pk}/"})
    assert counter.get(f"/customers/{customer.pk}/").status_code == 200
    assert AuditLogEntry.objects.filter(event="accounts.rules_acknowledged", actor=clerk).exists()

    boss.post("/rules/edit/", {"text": "第2版: 印刷物はシュレッダーへ"})
    assert counter.get("/board/").status_code == 302  # asked again for the new version

    staff_page = login(Client(), administrator).get("/staff/")
    rows = {row["user"].username: row["acknowledged"] for row in staff_page.context["staff"]}
    assert rows["clerk"] is False and rows["manager"] is True


def test_a_refusal_to_tick_the_box_keeps_the_data_closed(manager, clerk, customer):
    login(Client(), manager).post("/rules/edit/", {"text": "rules"})
    counter = login(Client(), clerk)
    response = counter.post("/rules/", {})
    assert response.status_code == 200 and response.context["form"].errors
    assert counter.get(f"/customers/{customer.pk}/").status_code == 302


def test_only_the_manager_writes_the_rules(clerk):
    response = login(Client(), clerk).post("/rules/edit/", {"text": "my own rules"})
    assert response.status_code == 403
    assert accounts.current_rules() is None
