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
def _no_isbn_lookup_outside(settings):
    """The suite never asks the real openBD or NDL Search: the lookup is off unless a test
    points it at a local fake (tests/customers/test_isbn.py)."""
    settings.BOOKSHOP_ISBN_LOOKUP = False


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


def login(client, user, *, second_factor=True, terminal=True):
    """Log in as ``user``. For roles that need two factors, also pass the second step with a
    confirmed authenticator (tests/privacy/test_two_factor.py walks the real flow). The client
    is one of the shop's registered terminals unless ``terminal=False`` (customer data is
    shown only on them; tests/privacy/test_terminals.py walks the real registration)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from privacy.staff import accounts

    if terminal:
        register_terminal(client, user)
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
def client():
    """pytest-django's ``client``, standing at one of the shop's registered terminals, as the
    staff do at the counter: from its first request after a user exists, it holds the device
    cookie of a terminal registered by the first user. A ``Client()`` made in a test is not a
    terminal unless ``login()`` or ``register_terminal()`` makes it one."""
    from django.test import Client

    from privacy.staff import terminals

    class TerminalClient(Client):
        def request(self, **request):
            if terminals.cookie_name() not in self.cookies:
                from django.contrib.auth.models import User

                try:
                    first = User.objects.order_by("pk").first()
                except RuntimeError:  # a test without database access: nobody to register
                    first = None
                if first is not None:
                    register_terminal(self, first)
            return super().request(**request)

    return TerminalClient()


def register_terminal(client, user, name="テスト端末"):
    """Make ``client`` a registered terminal (registered by ``user``), holding the device
    cookie the manager's registration gives (privacy.staff.terminals). The terminal check
    itself stays on (BOOKSHOP_REQUIRE_TERMINAL=1): the middleware and the access decision
    check this cookie on every request as they do in the shop. No audit entry: set-up only."""
    import secrets

    from django.http import HttpResponse

    from privacy.staff import terminals
    from privacy.staff.models import Terminal

    if terminals.cookie_name() in client.cookies:
        return None
    secret = secrets.token_urlsafe(32)
    terminal = Terminal.objects.create(
        name=name, secret_hash=terminals._hash(secret), registered_by=user
    )
    response = HttpResponse()
    terminals.set_cookie(response, terminal, secret)
    client.cookies.update(response.cookies)
    return terminal


@pytest.fixture
def transactional_audit(db):
    """For tests marked ``django_db(transaction=True)``, whose writes really commit (threads,
    pg_dump, subprocesses): the data the migrations leave, which an earlier test's flush
    removed. The audit log's guard is the one the migrations installed; it comes off for the
    flush only (``_audit_guard_off_for_the_flush``)."""
    from privacy.consent import purposes

    purposes.ensure_default_notice()  # an earlier test's flush removed the migration's data
    yield


def _is_transactional(request) -> bool:
    """As pytest-django decides it: the marker's ``transaction``, or a fixture that asks."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (
        marker.kwargs.get("transaction")
        or marker.kwargs.get("reset_sequences")
        or marker.args[:1] == (True,)
    ):
        return True
    names = {"transactional_db", "live_server", "django_db_reset_sequences"}
    return bool(names & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _audit_guard_off_for_the_flush(request):
    """The migrations make the audit log append-only, in the test database as in production.
    After a transactional test pytest-django empties every table (DELETE or TRUNCATE), which
    the guard refuses: it comes off just before that flush, and ``_audit_guard_after_flush``
    puts it back just after, so every test meets the database as ``migrate`` left it."""
    if not _is_transactional(request):
        yield
        return
    # Set up the test database first, so that its flush runs after this fixture's end.
    request.getfixturevalue("transactional_db")
    from django.db import connection

    from privacy.audit import guard as audit_guard

    audit_guard.install(connection)  # in case an earlier flush could not put it back
    yield
    audit_guard.remove(connection)


@pytest.fixture(scope="session", autouse=True)
def _audit_guard_after_flush():
    """Django's flush ends by sending post_migrate (as ``migrate`` does): install the guard
    again on the emptied database."""
    from django.db import connections
    from django.db.models.signals import post_migrate

    from privacy.audit import guard as audit_guard

    def reinstall(sender, using, **kwargs):
        if sender.label != "privacy":
            return
        connection = connections[using]
        if audit_guard.TABLE in connection.introspection.table_names():
            audit_guard.install(connection)

    post_migrate.connect(reinstall, weak=False, dispatch_uid="tests.audit_guard_after_flush")
    yield
    post_migrate.disconnect(dispatch_uid="tests.audit_guard_after_flush")


@pytest.fixture
def production_password_hasher(settings, db):
    """Where passwords matter (logins), the production hashers instead of the suite's fast
    MD5: set first, so the personas are created with them; any user made before is hashed
    again (every persona's password is PASSWORD)."""
    from django.contrib.auth.models import User

    from bookshop import settings as production

    settings.PASSWORD_HASHERS = list(production.PASSWORD_HASHERS)
    for user in User.objects.all():
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    return settings.PASSWORD_HASHERS


@pytest.fixture
def new_database(tmp_path):
    """``new_database("sqlite")`` or ``new_database("postgresql")``: the DATABASE_URL of a
    brand-new, empty database, as an operator would make one: a file under tmp_path, or a
    database on the suite's PostgreSQL server (the test is skipped when the suite runs on
    SQLite), dropped at the end."""
    import itertools
    from urllib.parse import quote

    from django.db import connection

    made = []
    files = itertools.count()

    def make(engine: str) -> str:
        if engine == "sqlite":
            return f"sqlite:///{tmp_path / f'new-{next(files)}.sqlite3'}"
        if connection.vendor != "postgresql":
            pytest.skip("a new PostgreSQL database needs DATABASE_URL to point at PostgreSQL")
        import uuid

        name = f"shiori_new_{uuid.uuid4().hex[:10]}"
        with _pg_server() as server:
            server.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        db = connection.settings_dict
        user, password = quote(db["USER"] or "postgres"), quote(db["PASSWORD"] or "")
        credentials = f"{user}:{password}" if password else user
        return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"

    yield make
    for name in made:
        with _pg_server() as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_server():
    """A connection to the suite's PostgreSQL server, outside any database of the suite's."""
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or "postgres",
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def raw_connection(url: str):
    """A DB-API connection to DATABASE_URL ``url`` that goes around Django altogether (as an
    attacker with the database's credentials would); ``?`` or ``%s`` as its placeholder."""
    from bookshop.env import database_from_url

    db = database_from_url(url)
    if db["ENGINE"].endswith("sqlite3"):
        import sqlite3

        return sqlite3.connect(db["NAME"], isolation_level=None)
    import psycopg

    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    )


@pytest.fixture
def manage(tmp_path):
    """``manage("migrate", "--noinput", url=URL)``: run manage.py in a process of its own, as
    the operator does, with the PRODUCTION settings (bookshop.settings, DEBUG off) and the
    suite's keyring; the ledger, checkpoints and var/ under tmp_path. Returns the completed
    process; a non-zero exit fails the test unless ``check=False``."""
    import os
    import subprocess
    import sys

    from privacy.vault import keyring

    root = Path(__file__).resolve().parents[1]

    def run(*args, url: str, check: bool = True, env: dict | None = None):
        extra = env or {}
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bookshop.settings",
            "DJANGO_DEBUG": "0",
            "DATABASE_URL": url,
            "BOOKSHOP_KEYRING": str(keyring.keyring_path()),
            "BOOKSHOP_VAR_DIR": str(tmp_path / "var"),
            "BOOKSHOP_ERASURE_LEDGER": str(tmp_path / "erasure-ledger.jsonl"),
            "BOOKSHOP_AUDIT_CHECKPOINTS": str(tmp_path / "audit-checkpoints.jsonl"),
            **extra,  # e.g. a keyring of the test's own (BOOKSHOP_KEYRING)
        }
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-3000:])
        return result

    return run


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
    if "{contractor}" in template:  # records: a contractor in the register
        import datetime

        from privacy.staff.records import services as records

        extra["contractor"] = records.save_contractor(
            by=order.requested_by,
            name="委託先",
            data_handled="氏名",
            purpose="配送",
            contract_starts_on=datetime.date(2026, 1, 1),
            contract_ends_on=None,
            confidentiality_agreed_on=None,
        ).pk
    if "{access_request}" in template:  # a clerk's pending access request on the customer
        from privacy.access import requests as access_requests

        extra["access_request"] = access_requests.file_request(
            order.customer, by=order.requested_by
        )[0].pk
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
