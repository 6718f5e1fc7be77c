import re
from datetime import timedelta

import pytest
import time_machine
from django.db import models
from django.test import Client
from django.utils import timezone

from privacy.audit.models import AuditLogEntry
from privacy.desks import requests
from privacy.desks.models import DataRequest, RequestStatus
from tests.conftest import CANARIES, login

FORM = {
    "kind": "disclosure",
    "name": "山田 花子",
    "contact": "090-1234-5678",
    "details": "保有している情報の開示を希望します",
}


def public(client, **changes):
    return client.post("/privacy/request/", {**FORM, **changes})


def test_the_public_form_needs_no_login_and_answers_the_same_for_anyone(db, customer):
    as_customer = public(
        Client(REMOTE_ADDR="192.0.2.1"), name=CANARIES["family_name"], contact=CANARIES["phone"]
    )
    as_stranger = public(Client(REMOTE_ADDR="192.0.2.2"), name="知らない人", contact="08000000000")
    assert as_customer.status_code == as_stranger.status_code == 200

    def without_reference(response):
        text = response.content.decode()
        ref = response.context["reference"]
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
        return text.replace(ref, "R-XXXXXXXX").replace(response["X-Request-ID"], "")

    assert without_reference(as_customer) == without_reference(as_stranger)
    assert DataRequest.objects.filter(customer__isnull=True).count() == 2  # nobody was looked up


def test_a_flood_from_one_address_is_stopped(db, settings):
    settings.BOOKSHOP_PUBLIC_FORM_PER_HOUR = 3
    flooder = Client(REMOTE_ADDR="198.51.100.9")
    answers = [public(flooder).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    assert DataRequest.objects.count() == 3
    assert public(Client(REMOTE_ADDR="198.51.100.10")).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=5)):
        assert public(flooder).status_code == 200


def test_a_disclosure_request_goes_from_intake_to_approval_by_a_second_person(
    manager, clerk, customer
):
    public(Client(REMOTE_ADDR="192.0.2.1"))
    item = DataRequest.objects.get()
    assert item.status == RequestStatus.RECEIVED
    assert item.due_date == timezone.localdate() + timedelta(days=14)

    boss = login(Client(), manager)
    assert FORM["name"] in boss.get(f"/requests/{item.pk}/").content.decode()
    boss.post(
        f"/requests/{item.pk}/verify/",
        {"method": "driving_licence", "customer_reference": customer.reference},
    )
    boss.post(f"/requests/{item.pk}/start/")
    boss.post(
        f"/requests/{item.pk}/propose/",
        {"outcome": "complete", "reply": "開示書面をお渡ししました"},
    )
    item.refresh_from_db()
    assert item.status == RequestStatus.AWAITING_APPROVAL
    assert item.customer == customer and item.identity_method == "driving_licence"

    boss.post(f"/requests/{item.pk}/approve/")  # the proposer cannot approve
    item.refresh_from_db()
    assert item.status == RequestStatus.AWAITING_APPROVAL

    second = login(Client(), clerk)
    second.post(f"/requests/{item.pk}/approve/")
    item.refresh_from_db()
    assert item.status == RequestStatus.COMPLETED and item.decided_by == clerk

    events = list(
        AuditLogEntry.objects.filter(object_pk=str(item.pk)).values_list("event", flat=True)
    )
    for event in [
        "privacy.request.received_web",
        "privacy.request.identity_verified",
        "privacy.request.proposed",
        "privacy.request.approved",
    ]:
        assert event in events
    log = str(list(AuditLogEntry.objects.values_list("changes", "additional_data", "object_repr")))
    assert FORM["name"] not in log and FORM["contact"] not in log and "開示書面" not in log


def test_a_clerk_cannot_work_a_request_only_approve_one(clerk, manager):
    item = requests.intake(
        kind="correction", channel="counter", name="x", contact="y", details="", by=clerk
    )
    client = login(Client(), clerk)
    assert client.post(f"/requests/{item.pk}/verify/", {"method": "passport"}).status_code == 404
    assert client.get("/requests/").status_code == 403


def test_rejection_needs_the_reason_the_person_will_be_told(manager):
    item = requests.intake(
        kind="erasure", channel="counter", name="x", contact="y", details="", by=manager
    )
    with pytest.raises(requests.RequestError, match="reason"):
        requests.propose(request_id=item.pk, outcome="reject", reply="  ", by=manager)
    requests.propose(
        request_id=item.pk, outcome="reject", reply="ご本人と確認できませんでした", by=manager
    )


def test_completing_needs_an_identity_check(manager):
    item = requests.intake(
        kind="disclosure", channel="counter", name="x", contact="y", details="", by=manager
    )
    with pytest.raises(requests.RequestError, match="identity"):
        requests.propose(request_id=item.pk, outcome="complete", reply="done", by=manager)


def test_overdue_requests_come_first_on_the_board(manager):
    with time_machine.travel(timezone.now() - timedelta(days=20)):
        old = requests.intake(
            kind="disclosure", channel="counter", name="a", contact="b", details="", by=manager
        )
    new = requests.intake(
        kind="complaint", channel="counter", name="c", contact="d", details="", by=manager
    )
    page = login(Client(), manager).get("/requests/")
    shown = list(page.context["open_requests"])
    assert shown[0] == old and shown[0].is_overdue and shown[1] == new
    assert "overdue" in page.content.decode() or "期限" in page.content.decode()


def test_an_extension_needs_a_reason(manager):
    item = requests.intake(
        kind="disclosure", channel="counter", name="a", contact="b", details="", by=manager
    )
    with pytest.raises(requests.RequestError, match="reason"):
        requests.extend(request_id=item.pk, days=7, reason="", by=manager)
    requests.extend(request_id=item.pk, days=7, reason="取次への確認待ち", by=manager)
    item.refresh_from_db()
    assert item.due_date == timezone.localdate() + timedelta(days=21)


def test_no_image_of_an_identity_document_can_be_stored():
    assert not [
        f
        for f in DataRequest._meta.get_fields()
        if isinstance(f, (models.FileField, models.ImageField))
    ]


def test_the_requesters_words_are_encrypted_at_rest(clerk):
    from django.db import connection

    requests.intake(
        kind="complaint",
        channel="counter",
        name="苦情者カナリアQq",
        contact="q@example.jp",
        details="カナリアの苦情",
        by=clerk,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT requester_name, details FROM privacy_datarequest")
        row = cursor.fetchone()
    assert "苦情者カナリアQq".encode() not in bytes(row[0])
    assert "カナリアの苦情".encode() not in bytes(row[1])
