"""Records of third-party provision (第三者提供記録): consent or the manager's legal basis,
three years' keeping, flagged then deleted with a second person, in the disclosure package,
covered by erasure, and never in plaintext at rest or in the audit log."""

import datetime
import io
import json
import zipfile
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone, translation

from customers import services
from privacy.access import grants as access
from privacy.audit.models import AuditLogEntry
from privacy.consent import third_party
from privacy.consent.models import ThirdPartyProvision
from privacy.core import context
from privacy.desks import disclosure, erasure
from privacy.desks.models import DataRequest
from privacy.vault.models import DataKey
from tests.conftest import (
    CANARIES,
    PROVISION_CANARIES,
    TOLD,
    customer_data,
    login,
    make_staff,
    order_data,
    provision_for,
    readable,
)


def form_post(**overrides):
    data = {
        **PROVISION_CANARIES,
        "items": ["name", "address"],
        "provided_on": timezone.localdate().isoformat(),
        "basis": "consent",
        "consent_obtained_at": (timezone.localtime() - timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M"
        ),
    }
    data.update(overrides)
    return data


def test_a_provision_without_consent_is_refused_by_the_service(clerk, customer):
    with pytest.raises(third_party.ProvisionRefused, match="Without the customer's consent"):
        provision_for(customer, clerk, consent_obtained_at=None)
    with pytest.raises(third_party.ProvisionRefused, match="before the data is provided"):
        provision_for(
            customer,
            clerk,
            provided_on=timezone.localdate() - timedelta(days=3),
            consent_obtained_at=timezone.now() - timedelta(hours=1),
        )
    assert not ThirdPartyProvision.objects.exists()
    assert not AuditLogEntry.objects.filter(event="privacy.third_party.recorded").exists()


def test_after_a_request_to_stop_provision_consent_no_longer_suffices(manager, clerk, order):
    Client(REMOTE_ADDR="192.0.2.71").post(
        "/privacy/request/",
        {"kind": "third_party_stop", "name": "a", "contact": "b", "details": ""},
    )
    item = DataRequest.objects.get()
    boss = login(Client(), manager)
    boss.post(
        f"/requests/{item.pk}/verify/",
        {"method": "passport", "customer_reference": order.customer.reference},
    )
    boss.post(f"/requests/{item.pk}/start/")
    page = boss.get(f"/requests/{item.pk}/").content.decode()
    assert 'value="third_party_provision" checked' in page  # offered, ticked
    boss.post(f"/requests/{item.pk}/suspend/", {"purposes": ["third_party_provision"]})

    with (
        translation.override("en"),
        pytest.raises(third_party.ProvisionRefused, match="stop giving their data"),
    ):
        provision_for(order.customer, clerk)
    assert not ThirdPartyProvision.objects.exists()
    # What the law requires still gets recorded, by the manager.
    provision_for(
        order.customer,
        manager,
        basis="other",
        other_basis="刑事訴訟法197条2項",
        consent_obtained_at=None,
    )
    assert ThirdPartyProvision.objects.count() == 1


def test_the_form_shows_the_refusal_next_to_the_consent_field_and_saves_nothing(
    client, clerk, customer
):
    login(client, clerk)
    client.cookies["django_language"] = "en"
    response = client.post(
        f"/customers/{customer.pk}/third-party/new/", form_post(consent_obtained_at="")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "Without the customer's consent" in form.errors["consent_obtained_at"][0]
    html = response.content.decode()
    assert 'id="id_consent_obtained_at_error"' in html
    assert PROVISION_CANARIES["recipient"] in html  # what the clerk typed is kept
    assert not ThirdPartyProvision.objects.exists()


def test_a_clerk_cannot_use_another_basis_and_the_manager_can(client, clerk, manager, customer):
    login(client, clerk)
    client.cookies["django_language"] = "en"
    page = client.get(f"/customers/{customer.pk}/third-party/new/").content.decode()
    assert 'value="other"' not in page and "id_other_basis" not in page

    forged = client.post(
        f"/customers/{customer.pk}/third-party/new/",
        form_post(basis="other", consent_obtained_at="", other_basis="刑事訴訟法197条2項"),
    )
    assert "Only the manager" in forged.context["form"].errors["basis"][0]
    with pytest.raises(third_party.ProvisionRefused, match="Only the manager"):
        provision_for(customer, clerk, basis="other", other_basis="法令", consent_obtained_at=None)
    assert not ThirdPartyProvision.objects.exists()

    boss = login(Client(), manager)
    response = boss.post(
        f"/customers/{customer.pk}/third-party/new/",
        form_post(basis="other", consent_obtained_at="", other_basis="刑事訴訟法197条2項"),
    )
    assert response.status_code == 302
    record = readable(ThirdPartyProvision.objects.get())
    assert record.basis == "other" and record.consent_obtained_at is None
    assert record.other_basis == "刑事訴訟法197条2項" and record.recorded_by == manager


def test_a_clerk_records_a_consented_provision_shown_on_the_customer_page(client, clerk, customer):
    login(client, clerk)
    response = client.post(f"/customers/{customer.pk}/third-party/new/", form_post())
    assert response.status_code == 302
    record = readable(ThirdPartyProvision.objects.get())
    assert record.recipient == PROVISION_CANARIES["recipient"]
    assert record.items == ["name", "address"] and record.recorded_by == clerk
    assert record.keep_until == record.provided_on.replace(year=record.provided_on.year + 3)
    event = AuditLogEntry.objects.get(event="privacy.third_party.recorded")
    assert event.object_pk == str(customer.pk) and event.additional_data["basis"] == "consent"
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert PROVISION_CANARIES["recipient"] in page and record.reference in page


def test_a_clerk_cannot_record_for_or_touch_a_customer_they_may_not_see(
    clerk, outsider_clerk, manager, customer
):
    record = provision_for(customer, clerk)
    outsider = login(Client(), outsider_clerk)
    assert (
        outsider.post(f"/customers/{customer.pk}/third-party/new/", form_post()).status_code == 404
    )
    assert outsider.post(f"/third-party/{record.pk}/approve_delete/").status_code == 404
    assert ThirdPartyProvision.objects.count() == 1


def test_three_years_on_a_record_is_flagged_not_silently_kept(client, clerk, manager, customer):
    record = provision_for(customer, clerk)
    boss = login(Client(), manager)
    boss.cookies["django_language"] = "en"
    assert "Retention expired" not in boss.get("/manager/third-party/").content.decode()

    later = timezone.now() + timedelta(days=3 * 366)
    with time_machine.travel(later, tick=False):
        boss = login(Client(), manager)
        boss.cookies["django_language"] = "en"
        listing = boss.get("/manager/third-party/").content.decode()
        assert "Retention expired: review and delete." in listing
        assert "1 record is past its keeping time" in listing
        assert PROVISION_CANARIES["recipient"] in listing
        only_expired = boss.get("/manager/third-party/", {"expired_only": "on"})
        assert record.reference in only_expired.content.decode()
    reads = AuditLogEntry.objects.filter(event="privacy.third_party.read", actor=manager)
    assert reads.exists() and {e.object_pk for e in reads} == {str(record.pk)}


def test_an_expired_record_is_deleted_only_with_a_second_person_and_it_is_logged(
    clerk, manager, customer
):
    fresh = provision_for(customer, clerk)
    with pytest.raises(third_party.ProvisionRefused, match="must be kept until"):
        third_party.propose_deletion(provision_id=fresh.pk, by=manager)
    with time_machine.travel(timezone.now() - timedelta(days=3 * 365 + 5), tick=False):
        old = provision_for(customer, clerk)  # recorded over three years ago
    assert old.retention_expired and not fresh.retention_expired

    boss = login(Client(), manager)
    boss.cookies["django_language"] = "en"
    boss.post(f"/third-party/{old.pk}/propose_delete/")
    response = boss.post(f"/third-party/{old.pk}/approve_delete/", follow=True)
    assert "you proposed it" in response.content.decode()
    assert ThirdPartyProvision.objects.filter(pk=old.pk).exists()

    colleague = login(Client(), clerk)
    page = colleague.get(f"/customers/{customer.pk}/").content.decode()
    assert f'action="/third-party/{old.pk}/approve_delete/"' in page
    assert colleague.post(f"/third-party/{old.pk}/approve_delete/").status_code == 302
    assert not ThirdPartyProvision.objects.filter(pk=old.pk).exists()
    assert ThirdPartyProvision.objects.filter(pk=fresh.pk).exists()
    deleted = AuditLogEntry.objects.get(event="privacy.third_party.deleted")
    assert deleted.actor == clerk and deleted.additional_data["proposed_by"] == manager.pk
    assert AuditLogEntry.objects.filter(
        object_pk=str(old.pk), action=AuditLogEntry.Action.DELETE
    ).exists()  # the write log has it too, its values masked


def test_keeping_time_from_29_february_is_never_shorter_than_three_years():
    assert third_party.keep_until(datetime.date(2024, 2, 29)) == datetime.date(2027, 3, 1)
    assert third_party.keep_until(datetime.date(2025, 6, 30)) == datetime.date(2028, 6, 30)


def test_a_provision_entered_late_is_kept_three_years_from_the_day_it_was_recorded(
    clerk, manager, customer
):
    four_years_ago = timezone.localdate() - timedelta(days=4 * 365)
    late = provision_for(
        customer,
        clerk,
        provided_on=four_years_ago,
        consent_obtained_at=timezone.now() - timedelta(days=4 * 366),
    )
    assert late.keep_until == third_party.keep_until(timezone.localdate())
    assert late.keep_until.year == timezone.localdate().year + 3
    assert late not in third_party.manager_list(manager, expired_only=True)


def test_the_disclosure_package_holds_the_records(clerk, customer):
    record = provision_for(customer, clerk)
    package = disclosure.build(customer)
    [shown] = package["third_party_provisions"]
    assert shown["reference"] == record.reference
    assert shown["recipient"] == PROVISION_CANARIES["recipient"]
    assert shown["purpose"] == PROVISION_CANARIES["purpose"]
    assert shown["basis"] == "consent" and shown["consent_obtained_at"]
    archive = zipfile.ZipFile(io.BytesIO(disclosure.as_zip(package)))
    assert PROVISION_CANARIES["recipient"] in archive.read("third_party.csv").decode("utf-8-sig")
    assert PROVISION_CANARIES["recipient"] in archive.read("package.html").decode()
    from_json = json.loads(archive.read("package.json"))["third_party_provisions"]
    assert from_json[0]["reference"] == record.reference


@pytest.fixture
def second_manager(db):
    return make_staff("manager2", "manager", counter=True)


def test_erasure_leaves_the_records_the_law_keeps_readable(
    clerk, manager, second_manager, order, tmp_path, settings
):
    settings.BOOKSHOP_ERASURE_LEDGER = str(tmp_path / "ledger.jsonl")
    record = provision_for(order.customer, clerk)
    services.order_cancel(actor=clerk, order_id=order.pk, reason="erasure")
    erasure.erase_customer(order.customer, by=manager)
    assert not DataKey.objects.filter(subject_id=order.customer_id).exists()
    with context.scope():
        kept = readable(ThirdPartyProvision.objects.get(pk=record.pk))
        # Who the data was about, who got it, what and why: readable for its three years.
        assert kept.subject_name == f"{CANARIES['family_name']} {CANARIES['given_name']}"
        assert kept.recipient == PROVISION_CANARIES["recipient"]
    boss = login(Client(), manager)
    listing = boss.get("/manager/third-party/").content.decode()
    assert CANARIES["family_name"] in listing and PROVISION_CANARIES["recipient"] in listing

    # Once its time is up, two people delete it, and its key goes with it.
    with time_machine.travel(timezone.now() + timedelta(days=3 * 366 + 2), tick=False):
        third_party.propose_deletion(provision_id=record.pk, by=manager)
        third_party.approve_deletion(provision_id=record.pk, by=second_manager)
    assert not ThirdPartyProvision.objects.filter(pk=record.pk).exists()
    assert not DataKey.objects.filter(subject_id=record.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_no_provision_canary_at_rest_or_in_the_audit_log(
    transactional_audit, client, clerk, manager, administrator, tmp_path
):
    from tests.privacy.test_canary_at_rest import _dump_database

    order = services.order_create_with_customer(
        notice=TOLD, actor=clerk, customer_data=customer_data(), order_data=order_data()
    )
    login(client, clerk)
    response = client.post(f"/customers/{order.customer_id}/third-party/new/", form_post())
    assert response.status_code == 302
    client.get(f"/customers/{order.customer_id}/")
    login(Client(), manager).get("/manager/third-party/")
    admin = login(Client(), administrator)
    outputs = [
        admin.get("/audit/").content.decode(),
        b"".join(admin.get("/audit/export.csv").streaming_content).decode(),
    ]
    log = json.dumps(
        list(AuditLogEntry.objects.values("changes", "additional_data", "object_repr")),
        ensure_ascii=False,
        default=str,
    )
    dump = _dump_database(tmp_path)
    for value in PROVISION_CANARIES.values():
        assert value.encode() not in dump
        assert value not in log
        for text in outputs:
            assert value not in text


def test_a_hidden_customers_record_is_not_reachable_by_id(clerk, outsider_clerk):
    theirs = services.order_create_with_customer(
        notice=TOLD,
        actor=outsider_clerk,
        customer_data=customer_data(phone="08099990000"),
        order_data=order_data(),
    )
    record = provision_for(theirs.customer, outsider_clerk)
    for grant in access.active_grants(theirs.customer).filter(group__isnull=False):
        access.revoke(grant, by=None)
    mine = login(Client(), clerk)
    assert mine.post(f"/third-party/{record.pk}/approve_delete/").status_code == 404
    assert mine.get(f"/customers/{theirs.customer_id}/third-party/new/").status_code == 404


@pytest.mark.parametrize(
    ("provided_on", "consent", "field"),
    [
        ("0001-01-01", "0001-01-01T00:00", "provided_on"),
        ("9999-12-31", "2020-01-01T10:00", "provided_on"),
        ("2020-01-02", "0001-01-01T00:00", "consent_obtained_at"),
        ("2020-01-02", "9999-12-31T23:59", "consent_obtained_at"),
    ],
)
def test_impossible_dates_are_refused_on_their_field(clerk, customer, provided_on, consent, field):
    client = login(Client(raise_request_exception=False), clerk)
    response = client.post(
        f"/customers/{customer.pk}/third-party/new/",
        form_post(provided_on=provided_on, consent_obtained_at=consent),
    )
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not ThirdPartyProvision.objects.exists()
