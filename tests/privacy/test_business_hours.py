from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from privacy.audit.models import AuditLogEntry
from tests.conftest import login

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def shop_hours(settings):
    settings.BOOKSHOP_OPENING_HOURS = "08:00-23:00"


def at(hour, minute=0, day=27):
    return time_machine.travel(datetime(2026, 11, day, hour, minute, tzinfo=TOKYO), tick=False)


def test_customer_data_is_readable_in_business_hours(shop_hours, client, clerk, customer):
    with at(10):
        login(client, clerk)
        assert client.get(f"/customers/{customer.pk}/").status_code == 200


@pytest.mark.parametrize("hour", [23, 2, 7])
def test_outside_business_hours_a_clerk_gets_a_clear_message(
    shop_hours, client, clerk, customer, hour
):
    with at(hour, 30):
        login(client, clerk)
        for url in [f"/customers/{customer.pk}/", "/board/"]:
            response = client.get(url)
            assert response.status_code == 403
            assert "08:00" in response.content.decode()
        response = client.post("/customers/search/", {"phone": customer.phone})
        assert response.status_code == 403
    assert AuditLogEntry.objects.filter(event="customers.customer.read").count() == 0
    assert AuditLogEntry.objects.filter(event="privacy.hours.refused", actor=clerk).exists()


def test_the_manager_opens_a_short_logged_override(shop_hours, client, manager, clerk, customer):
    with at(23, 30):
        login(client, manager)
        response = client.post("/manager/hours/", {"reason": "stocktaking", "minutes": "30"})
        assert response.status_code == 302
        login(client, clerk)
        assert client.get(f"/customers/{customer.pk}/").status_code == 200
    with at(0, 5, day=28):  # the override has ended
        login(client, clerk)
        assert client.get(f"/customers/{customer.pk}/").status_code == 403
    entry = AuditLogEntry.objects.get(event="privacy.hours.override_opened")
    assert entry.actor == manager
    assert entry.additional_data["minutes"] == 30


def test_a_clerk_cannot_open_an_override(shop_hours, client, clerk):
    login(client, clerk)
    assert client.post("/manager/hours/", {"reason": "x", "minutes": "30"}).status_code == 403
