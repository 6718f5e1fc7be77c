"""The public request form's hourly limit per address holds when forms arrive together:
threads, each with its own database connection, post at the same moment against the real
database (the SQLite file in WAL mode, or PostgreSQL), and exactly the limit gets through."""

import threading

import pytest
from django.db import close_old_connections, connection
from django.test import Client

from privacy.audit.models import AuditLogEntry
from privacy.desks.models import DataRequest

FORM = {
    "kind": "disclosure",
    "name": "山田 花子",
    "contact": "090-1234-5678",
    "details": "保有している情報の開示を希望します",
}


def _together(senders: list[tuple[str, dict]]) -> list[tuple[str, dict, int]]:
    """Post every (address, form) from its own thread and connection, all released at once;
    the answers as (address, form, status)."""
    start = threading.Barrier(len(senders))
    answers, errors = [], []

    def send(address, form):
        try:
            client = Client(REMOTE_ADDR=address)
            start.wait()
            answers.append((address, form, client.post("/privacy/request/", form).status_code))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=send, args=sender) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return answers


@pytest.mark.django_db(transaction=True)
def test_simultaneous_forms_from_one_address_pass_the_limit_exactly(transactional_audit, settings):
    settings.BOOKSHOP_PUBLIC_FORM_PER_HOUR = 3
    answers = _together([("198.51.100.23", FORM)] * 12)
    statuses = sorted(status for _, _, status in answers)
    assert statuses == [200] * 3 + [429] * 9
    assert DataRequest.objects.count() == 3
    received = AuditLogEntry.objects.filter(event="privacy.request.received_web")
    assert received.filter(remote_addr="198.51.100.23").count() == 3

    # The hour is used up: one more, alone, is refused too.
    assert Client(REMOTE_ADDR="198.51.100.23").post("/privacy/request/", FORM).status_code == 429


@pytest.mark.django_db(transaction=True)
def test_one_address_at_its_limit_does_not_hold_back_another(transactional_audit, settings):
    settings.BOOKSHOP_PUBLIC_FORM_PER_HOUR = 2
    answers = _together([("198.51.100.31", FORM)] * 5 + [("198.51.100.32", FORM)] * 5)
    for address in ("198.51.100.31", "198.51.100.32"):
        statuses = sorted(status for a, _, status in answers if a == address)
        assert statuses == [200] * 2 + [429] * 3
    assert DataRequest.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_forms_refused_as_invalid_do_not_use_up_the_hour(transactional_audit, settings):
    settings.BOOKSHOP_PUBLIC_FORM_PER_HOUR = 2
    invalid = {**FORM, "kind": "not-a-kind"}
    answers = _together([("198.51.100.40", invalid)] * 4 + [("198.51.100.40", FORM)] * 2)
    # Both valid forms get through, whenever the invalid ones came (the form again, 200, or
    # once the hour is used up, 429).
    assert [status for _, form, status in answers if form is FORM] == [200, 200]
    assert DataRequest.objects.count() == 2
