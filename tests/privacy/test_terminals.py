"""Customer data stays on the shop's own terminals (issue 15): the manager registers each
computer from itself, its browser holds a signed device cookie, and the access decision shows
no customer to any other browser. Forged, unknown, revoked and copied cookies are refused."""

from datetime import timedelta

import pytest
import time_machine
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from privacy.audit.models import AuditLogEntry
from privacy.staff import terminals
from privacy.staff.models import Terminal
from tests.conftest import CANARIES, PASSWORD, login, register_terminal

REFUSAL_JA = "この端末は登録されていません"


def page(client, customer):
    return client.get(f"/customers/{customer.pk}/")


def shows_customer(response) -> bool:
    return response.status_code == 200 and CANARIES["family_name"] in response.content.decode()


def registered_by_page(client, manager, name="レジ1"):
    """The manager, at the computer, names it on 端末の登録."""
    login(client, manager, terminal=False)
    response = client.post("/terminals/register/", {"name": name})
    assert response.status_code == 302, response.content.decode()[:500]
    return Terminal.objects.get(name=name)


def refusals(reason):
    return AuditLogEntry.objects.filter(
        event="privacy.terminal.refused", additional_data__reason=reason
    )


def test_a_clerk_with_a_grant_sees_no_customer_on_a_browser_that_is_not_a_terminal(clerk, customer):
    client = login(Client(), clerk, terminal=False)
    response = page(client, customer)
    assert response.status_code == 403
    body = response.content.decode()
    assert REFUSAL_JA in body
    assert CANARIES["family_name"] not in body
    refused = AuditLogEntry.objects.filter(event="privacy.access.refused", actor=clerk).last()
    assert refused.additional_data["reason"] == terminals.NOT_A_TERMINAL
    # The board (names of every open order) and a search show nothing either.
    board = client.get("/board/")
    assert CANARIES["family_name"] not in board.content.decode()
    # Their own account and the approvals inbox still work.
    assert client.get("/approvals/").status_code == 200


def test_the_same_clerk_on_a_registered_terminal_sees_the_customer(clerk, customer):
    client = login(Client(), clerk)  # the conftest registers the client as a terminal
    assert shows_customer(page(client, customer))


def test_the_manager_registers_the_terminal_from_it_and_the_cookie_is_a_device_cookie(
    manager, clerk, customer, settings
):
    client = Client()
    login(client, manager, terminal=False)
    form = client.get("/terminals/register/")
    assert "端末" in form.content.decode()
    response = client.post("/terminals/register/", {"name": "レジ1"})
    assert response.status_code == 302
    cookie = response.cookies[terminals.cookie_name()]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert bool(cookie["secure"]) == settings.SESSION_COOKIE_SECURE
    assert int(cookie["max-age"]) >= 364 * 24 * 3600
    terminal = Terminal.objects.get(name="レジ1")
    assert terminal.registered_by == manager
    # Only a hash of the secret is kept: the cookie's secret is not on the row.
    request = HttpRequest()
    request.COOKIES[terminals.cookie_name()] = cookie.value
    value = request.get_signed_cookie(terminals.cookie_name(), salt=terminals.SALT)
    assert value.split(":", 1)[0] == str(terminal.pk)
    assert value.split(":", 1)[1] not in (terminal.secret_hash, terminal.previous_secret_hash)
    assert AuditLogEntry.objects.filter(
        event="privacy.terminal.registered", actor=manager, object_pk=str(terminal.pk)
    ).exists()
    # The clerk who uses this computer next sees the customer on it.
    client.post("/logout/")
    login(client, clerk, terminal=False)
    assert shows_customer(page(client, customer))


def test_a_clerk_cannot_register_a_terminal(clerk):
    client = login(Client(), clerk, terminal=False)
    assert client.post("/terminals/register/", {"name": "自宅PC"}).status_code == 403
    assert not Terminal.objects.exists()


def test_a_forged_cookie_is_refused_and_logged(clerk, customer):
    client = login(Client(), clerk)
    name = terminals.cookie_name()
    value = client.cookies[name].value
    terminal_id, rest = value.split(":", 1)
    client.cookies[name] = f"{terminal_id}:{'A' * 43}{rest[43:]}"  # another secret, same id
    assert not shows_customer(page(client, customer))
    assert refusals(terminals.FORGED).exists()
    # The refused cookie is taken back from the browser.
    assert client.cookies[name].value == ""


def test_a_cookie_naming_an_unknown_terminal_is_refused(clerk, customer):
    client = login(Client(), clerk)
    Terminal.objects.all().delete()
    assert not shows_customer(page(client, customer))
    assert refusals(terminals.UNKNOWN).exists()


def test_the_administrator_sees_the_terminals_and_revokes_a_lost_one(
    clerk, administrator, customer
):
    counter = login(Client(), clerk)
    assert shows_customer(page(counter, customer))
    terminal = Terminal.objects.get()
    admin = login(Client(), administrator, terminal=False)
    listing = admin.get("/terminals/").content.decode()
    assert terminal.name in listing and "Clerk" in listing  # registered by
    assert timezone.localtime(terminal.last_seen_at or timezone.now()).strftime("%Y-%m-%d") in (
        listing
    )
    assert admin.post(f"/terminals/{terminal.pk}/revoke/").status_code == 302
    terminal.refresh_from_db()
    assert terminal.revoked_by == administrator
    assert AuditLogEntry.objects.filter(
        event="privacy.terminal.revoked", actor=administrator
    ).exists()
    assert not shows_customer(page(counter, customer))
    assert refusals(terminals.REVOKED).exists()


def test_a_clerk_cannot_see_or_revoke_terminals(clerk):
    client = login(Client(), clerk)
    terminal = Terminal.objects.get()
    assert client.get("/terminals/").status_code == 403
    assert client.post(f"/terminals/{terminal.pk}/revoke/").status_code == 403
    terminal.refresh_from_db()
    assert terminal.revoked_at is None


def test_a_copied_cookie_stops_working_once_the_real_terminal_rotates_it(clerk, customer):
    real = login(Client(), clerk)
    name = terminals.cookie_name()
    copy = login(Client(), clerk, terminal=False)
    copy.cookies[name] = real.cookies[name].value  # taken to another browser profile
    assert shows_customer(page(copy, customer))  # before the rotation, a copy is a copy

    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        login(real, clerk)  # a new shift: the session ended; the terminal cookie stays
        response = page(real, customer)
        assert shows_customer(response)
        assert name in response.cookies  # a new secret, sent with this page
        # Later (past the minute two tabs may overlap), the copy's old secret is refused.
    with time_machine.travel(timezone.now() + timedelta(hours=25, minutes=2)):
        login(copy, clerk, terminal=False)
        assert not shows_customer(page(copy, customer))
        assert refusals(terminals.STALE).exists()
        # Nothing was revoked: the real terminal keeps working.
        assert shows_customer(page(real, customer))
    assert Terminal.objects.get().revoked_at is None


def test_with_the_check_off_any_browser_shows_the_customer_and_the_notice_says_nothing(
    clerk, customer, settings
):
    claim = "登録された店のコンピューター"
    assert claim in Client().get("/privacy/").content.decode()
    settings.BOOKSHOP_REQUIRE_TERMINAL = False
    client = login(Client(), clerk, terminal=False)
    assert shows_customer(page(client, customer))
    assert claim not in Client().get("/privacy/").content.decode()


def test_commands_and_background_work_are_not_terminals(clerk, customer):
    """No request: the operator's command or the scheduler's job on the server decides as
    before (tests/conftest.py opens a scope without a request for each test)."""
    from privacy.access import decisions

    assert decisions.decide(clerk, [customer], purpose="customer_record", fields=["name"])


# --- Logins ------------------------------------------------------------------------------

OUTSIDE = "203.0.113.7"
COUNTER = "192.0.2.10"


def attempt(client, password, address):
    return client.post("/login/", {"username": "clerk", "password": password}, REMOTE_ADDR=address)


def logged_in(client, address) -> bool:
    return client.get("/approvals/", REMOTE_ADDR=address).status_code == 200


@pytest.mark.usefixtures("production_password_hasher")
def test_failures_from_outside_lock_only_that_name_from_that_address(clerk, manager):
    counter = Client()
    register_terminal(counter, manager)
    at_counter = Client()
    at_counter.cookies.update(counter.cookies)
    assert attempt(at_counter, PASSWORD, COUNTER).status_code == 302  # in, at the counter

    outside = Client()
    for _ in range(5):
        attempt(outside, "wrong-password-1234", OUTSIDE)
    assert attempt(outside, PASSWORD, OUTSIDE).status_code in (403, 429)  # that pair: locked
    entry = AuditLogEntry.objects.filter(event="auth.lockout").last()
    assert entry.additional_data["lockout"] == "address"
    # The counter's open session goes on, and the terminal still logs in (even behind the
    # same address as the guesser).
    assert logged_in(at_counter, COUNTER)
    again = Client()
    again.cookies.update(counter.cookies)
    assert attempt(again, PASSWORD, OUTSIDE).status_code == 302
    # Another address is not locked either.
    assert attempt(Client(), PASSWORD, "198.51.100.3").status_code == 302


@pytest.mark.usefixtures("production_password_hasher")
def test_failures_at_a_terminal_lock_the_account_everywhere(clerk, manager):
    counter = Client()
    register_terminal(counter, manager)
    for _ in range(5):
        attempt(counter, "wrong-password-1234", COUNTER)
    assert attempt(counter, PASSWORD, COUNTER).status_code in (403, 429)
    assert attempt(Client(), PASSWORD, OUTSIDE).status_code in (403, 429)
    other_terminal = Client()
    register_terminal(other_terminal, manager, name="レジ2")
    assert attempt(other_terminal, PASSWORD, "192.0.2.11").status_code in (403, 429)
    entry = AuditLogEntry.objects.filter(event="auth.lockout").last()
    assert entry.additional_data["lockout"] == "account"


def test_the_demo_registers_the_browser_it_runs_in_and_says_so(clerk, customer, settings):
    """`make run` sets BOOKSHOP_DEMO_REGISTERS_TERMINAL: the first signed-in page registers
    the browser (as the person who logged in), says so, and is listed at 端末."""
    settings.BOOKSHOP_DEMO_REGISTERS_TERMINAL = True
    client = Client()
    client.post("/login/", {"username": "clerk", "password": PASSWORD})
    assert not Terminal.objects.exists()  # not at the login itself: nobody was signed in yet
    response = client.get(f"/customers/{customer.pk}/", follow=True)
    assert shows_customer(response)
    (terminal,) = Terminal.objects.all()
    assert terminal.registered_by == clerk and terminal.name == "デモのブラウザ"
    shown = [str(m) for m in response.context["messages"]]
    assert any("デモのブラウザ" in m and "登録しました" in m for m in shown)
    assert shows_customer(page(client, customer))  # the cookie holds from then on
    assert Terminal.objects.count() == 1
    assert AuditLogEntry.objects.filter(event="privacy.terminal.registered").count() == 1


def test_a_shop_never_registers_browsers_by_themselves_and_deploy_checks_warn(
    clerk, customer, settings
):
    client = Client()
    client.post("/login/", {"username": "clerk", "password": PASSWORD})
    assert page(client, customer).status_code == 403
    assert not Terminal.objects.exists()

    from privacy.ops import checks

    assert checks.demo_terminal_registration_is_off() == []
    settings.BOOKSHOP_DEMO_REGISTERS_TERMINAL = True
    (warning,) = checks.demo_terminal_registration_is_off()
    assert warning.id == "privacy.W003"
