"""Shared set-up: a test keyring, and the personas every test speaks of (healthchecks'
alice and bob): a clerk with a grant, a clerk without, the manager, the administrator."""

from pathlib import Path

import pytest

PASSWORD = "correct-horse-battery-staple-42"
# The customer was told the purposes on the screen and said no to the optional ones.
TOLD = {"method": "screen", "choices": {}}

CANARIES = {
    "family_name": "カナリア姓Zq81",
    "given_name": "カナリア名Wx52",
    "family_name_kana": "カナリアセイ",
    "given_name_kana": "カナリアメイ",
    "phone": "09071234987",
    "email": "canary.qx83@example.jp",
    "postal_code": "123-4567",
    "address": "カナリア県カナリア市1-2-3Zq",
    "notes": "カナリアのメモVb19",
}
ORDER_CANARIES = {
    "title": "カナリアの本Tt42",
    "author": "カナリア著者Aa77",
    "publisher": "カナリア出版Pp31",
    "isbn": "978-4-06-293450-3",
}

PROVISION_CANARIES = {
    "recipient": "取次カナリア社Rr58",
    "recipient_details": "カナリア区配送センターDd26",
    "purpose": "カナリア直送目的Pq64",
}


@pytest.fixture(scope="session", autouse=True)
def _keyring(django_db_setup_done=None):
    from django.conf import settings

    from privacy.vault import keyring

    path = Path(settings.BOOKSHOP_KEYRING)
    if not path.exists():
        keyring.write_new(keyring.generate(path))
    return keyring.load()


@pytest.fixture(scope="session", autouse=True)
def _prepared_queries_checked():
    """Every prepared query run by the suite is also built by the ORM and compared."""
    from privacy.core import prepared

    prepared.VERIFY = True
    yield
    prepared.VERIFY = False


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Messages raised by services are asserted in English; pages choose their own language
    per request (Japanese unless the language cookie says otherwise)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _privacy_scope():
    """Each test runs like one request: data keys are cached for its length only."""
    from privacy.core import context

    with context.scope():
        yield


def readable(*rows):
    """A test that reads rows straight from the database, as no page may, says so: this
    opens the gate for their subjects in the test's own scope (purpose ``test``)."""
    from privacy.vault import gate

    gate.admit({row.data_subject_id() for row in rows}, actor_id=None, purpose="test")
    return rows[0] if len(rows) == 1 else rows


def all_readable(rows) -> list:
    """``readable`` for every row of a query, as a list."""
    rows = list(rows)
    if rows:
        readable(*rows)
    return rows


def make_staff(username, *role_names, counter=False):
    from django.contrib.auth.models import User

    from customers import demo
    from privacy.access import grants as access

    groups = demo.ensure_groups()
    user = User.objects.create_user(
        username=username, password=PASSWORD, last_name=username.title()
    )
    for name in role_names:
        user.groups.add(groups[name])
    if counter:
        user.groups.add(access.counter_team())
    return user


@pytest.fixture
def clerk(db):
    """Works the counter, in the counter team."""
    return make_staff("clerk", "clerk", counter=True)


@pytest.fixture
def outsider_clerk(db):
    """A clerk with no grant on anybody."""
    return make_staff("outsider", "clerk")


@pytest.fixture
def manager(db):
    return make_staff("manager", "manager", counter=True)


@pytest.fixture
def administrator(db):
    return make_staff("admin", "administrator")


def customer_data(**overrides):
    data = dict(CANARIES)
    data["preferred_contact"] = "email"
    data.update(overrides)
    return data


def order_data(**overrides):
    data = dict(ORDER_CANARIES)
    data.update({"quantity": 1, "deposit_paid": 0})
    data.update(overrides)
    return data


@pytest.fixture
def order(clerk):
    """A customer full of canary values with one open order, taken by ``clerk``."""
    from customers import services

    return services.order_create_with_customer(
        notice=TOLD, actor=clerk, customer_data=customer_data(), order_data=order_data()
    )


@pytest.fixture
def customer(order):
    return order.customer


def login(client, user, *, second_factor=True):
    """Log in as ``user``. For roles that need two factors, also pass the second step with a
    confirmed authenticator (tests/privacy/test_two_factor.py walks the real flow)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from privacy.staff import accounts

    client.force_login(user)
    if second_factor and accounts.requires_two_factor(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def transactional_audit(db):
    """For tests marked ``django_db(transaction=True)``, whose writes really commit (threads,
    pg_dump, subprocesses). The append-only triggers come off afterwards so that the test
    database can be emptied for the next test."""
    from django.db import connection

    from privacy.audit import guard as audit_guard
    from privacy.consent import purposes

    audit_guard.install(connection)
    purposes.ensure_default_notice()  # an earlier test's flush removed the migration's data
    yield
    audit_guard.remove(connection)


def path_for(template: str, order) -> str:
    """Fill a URL template with real ids around ``order``: its customer, a grant on them, the
    clerk who took it, a pending request, and an open incident."""
    from privacy.desks import requests

    pending = requests.intake(
        kind="complaint", channel="counter", name="n", contact="c", details=""
    )
    extra = {}
    if "{print_job}" in template:
        from customers import printing

        extra["print_job"] = printing.print_order_slip(actor=order.requested_by, order=order).pk
    if "{provision}" in template:
        extra["provision"] = provision_for(order.customer, order.requested_by).pk
    if "{incident}" in template:
        from django.utils import timezone

        from privacy.incidents import services as incident_services

        extra["incident"] = incident_services.record(
            by=order.requested_by, discovered_at=timezone.now(), summary="s"
        ).pk
    return template.format(
        customer=order.customer_id,
        order=order.pk,
        grant=order.customer.access_grants.first().pk,
        staff=order.requested_by_id,
        request=pending.pk,
        **extra,
    )


def provision_for(customer, clerk, **overrides):
    """A record that the customer's data went to a distributor, with their consent."""
    from datetime import timedelta

    from django.utils import timezone

    from privacy.consent import third_party

    data = {
        **PROVISION_CANARIES,
        "items": ["name", "phone", "address"],
        "provided_on": timezone.localdate(),
        "basis": "consent",
        "consent_obtained_at": timezone.now() - timedelta(minutes=5),
    }
    data.update(overrides)
    return third_party.record(actor=clerk, customer=customer, **data)
