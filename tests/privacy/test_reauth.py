"""Re-authentication (issue 15): what a stolen session could abuse asks for the password
(and the authenticator's code) again unless the person proved it within
BOOKSHOP_REAUTH_MINUTES; a POST is never replayed; failures count like failed logins."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from privacy.access.models import HoursOverride
from privacy.audit.models import AuditLogEntry
from privacy.staff.reauth import REAUTH_AT
from privacy.staff.sessions import LOGIN_AT
from tests.conftest import PASSWORD, login, make_staff

pytestmark = pytest.mark.usefixtures("production_password_hasher")


def stale(client, minutes=6):
    """The session was opened (and last confirmed) this many minutes ago."""
    session = client.session
    session[LOGIN_AT] = time.time() - minutes * 60
    session.pop(REAUTH_AT, None)
    session.save()
    return client


def english(client):
    client.cookies["django_language"] = "en"
    return client


def code(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}"


def shown(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


OVERRIDE = {"reason": "棚卸しの後で取り置きを確認", "minutes": 30}


def test_an_hours_override_after_the_window_asks_again_and_is_not_replayed(manager):
    boss = english(stale(login(Client(), manager)))
    # Showing the form needs nothing; opening the override does.
    assert boss.get("/manager/hours/").status_code == 200
    response = boss.post("/manager/hours/", OVERRIDE)
    assert response.status_code == 302
    assert response["Location"] == "/account/reauth/?next=%2Fmanager%2Fhours%2F"
    assert not HoursOverride.objects.exists()

    page = boss.get(response["Location"])
    assert "id_token" in page.content.decode()  # the manager has an authenticator
    device = TOTPDevice.objects.get(user=manager, confirmed=True)
    done = boss.post(
        "/account/reauth/", {"password": PASSWORD, "token": code(device), "next": "/manager/hours/"}
    )
    assert done.status_code == 302 and done["Location"] == "/manager/hours/"
    assert "Confirmed. Press the button again to continue." in shown(done)
    assert not HoursOverride.objects.exists()  # nothing was replayed
    assert boss.post("/manager/hours/", OVERRIDE).status_code == 302
    assert HoursOverride.objects.count() == 1
    assert AuditLogEntry.objects.filter(event="auth.reauth", actor=manager).count() == 1


def test_a_fresh_login_counts_and_the_window_is_the_setting(manager, settings):
    boss = login(Client(), manager)
    assert boss.post("/manager/hours/", OVERRIDE)["Location"] != "/account/reauth/"
    assert HoursOverride.objects.count() == 1
    settings.BOOKSHOP_REAUTH_MINUTES = 10
    stale(boss, minutes=6)
    assert not boss.post("/manager/hours/", OVERRIDE)["Location"].startswith("/account/reauth/")
    stale(boss, minutes=11)
    assert boss.post("/manager/hours/", OVERRIDE)["Location"].startswith("/account/reauth/")


def test_a_wrong_password_is_refused_audited_and_counted(manager):
    boss = english(stale(login(Client(), manager)))
    device = TOTPDevice.objects.get(user=manager, confirmed=True)
    response = boss.post(
        "/account/reauth/", {"password": "wrong", "token": code(device), "next": "/manager/hours/"}
    )
    assert response.status_code == 200
    assert "This password is not right" in response.content.decode()
    assert AuditLogEntry.objects.filter(event="auth.reauth.failed", actor=manager).count() == 1
    assert AuditLogEntry.objects.filter(event="auth.login.failed", object_pk=str(manager.pk))
    assert boss.post("/manager/hours/", OVERRIDE)["Location"].startswith("/account/reauth/")


def test_a_wrong_code_is_refused_and_counted(manager):
    boss = english(stale(login(Client(), manager)))
    response = boss.post("/account/reauth/", {"password": PASSWORD, "token": "000000"})
    assert "This code is not right" in response.content.decode()
    failed = AuditLogEntry.objects.get(event="auth.reauth.failed")
    assert failed.additional_data == {"reason": "code"}
    assert AuditLogEntry.objects.filter(event="auth.login.failed", object_pk=str(manager.pk))
    assert boss.post("/manager/hours/", OVERRIDE)["Location"].startswith("/account/reauth/")


def test_failures_lock_the_account_like_failed_logins(clerk, settings):
    till = english(stale(login(Client(), clerk)))
    for _ in range(settings.AXES_FAILURE_LIMIT):
        till.post("/account/reauth/", {"password": "guess", "next": "/account/password/"})
    assert AuditLogEntry.objects.filter(event="auth.lockout", object_pk=str(clerk.pk)).exists()
    # The session has ended, and the right password no longer logs in until released.
    response = till.get("/board/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    login_again = Client().post("/login/", {"username": "clerk", "password": PASSWORD})
    assert login_again.status_code != 302 or "/login/" in login_again["Location"]


def test_replacing_the_authenticator_asks_again(manager):
    boss = stale(login(Client(), manager))
    response = boss.get("/account/2fa/setup/")
    assert response["Location"] == "/account/reauth/?next=%2Faccount%2F2fa%2Fsetup%2F"
    assert not TOTPDevice.objects.filter(user=manager, confirmed=False).exists()
    device = TOTPDevice.objects.get(user=manager, confirmed=True)
    boss.post("/account/reauth/", {"password": PASSWORD, "token": code(device)})
    assert boss.get("/account/2fa/setup/").status_code == 200
    assert TOTPDevice.objects.filter(user=manager, confirmed=False).exists()


def test_a_clerk_enrolling_after_the_window_asks_again(clerk):
    till = stale(login(Client(), clerk))
    assert till.get("/account/2fa/setup/")["Location"].startswith("/account/reauth/")
    page = till.get("/account/reauth/").content.decode()
    assert "id_token" not in page  # no authenticator yet: the password alone
    till.post("/account/reauth/", {"password": PASSWORD})
    assert till.get("/account/2fa/setup/").status_code == 200


def test_a_password_change_after_the_window_asks_again(clerk):
    till = stale(login(Client(), clerk))
    new = "tsukimi-dango-ninety-9"
    response = till.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response["Location"] == "/account/reauth/?next=%2Faccount%2Fpassword%2F"
    assert User.objects.get(pk=clerk.pk).check_password(PASSWORD)


def test_creating_an_account_or_issuing_a_link_after_the_window_asks_again(administrator, clerk):
    admin = stale(login(Client(), administrator))
    response = admin.post(
        "/staff/", {"username": "late", "last_name": "x", "role": "administrator"}
    )
    assert response["Location"] == "/account/reauth/?next=%2Fstaff%2F"
    assert not User.objects.filter(username="late").exists()
    response = admin.post(f"/staff/{clerk.pk}/setup_link/")
    assert response["Location"] == "/account/reauth/?next=%2Fstaff%2F"
    assert User.objects.get(pk=clerk.pk).check_password(PASSWORD)


def test_the_next_address_stays_on_this_site(clerk):
    till = stale(login(Client(), clerk))
    response = till.post(
        "/account/reauth/", {"password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_confirmation_lasts_the_window_then_ends(manager):
    boss = stale(login(Client(), manager))
    device = TOTPDevice.objects.get(user=manager, confirmed=True)
    boss.post("/account/reauth/", {"password": PASSWORD, "token": code(device)})
    assert not boss.post("/manager/hours/", OVERRIDE)["Location"].startswith("/account/reauth/")
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert boss.post("/manager/hours/", OVERRIDE)["Location"].startswith("/account/reauth/")


def test_downloading_an_export_after_the_window_asks_again(customer, manager):
    from privacy.desks.models import ExportRequest
    from tests.privacy.test_bulk_export import ask

    second_manager = make_staff("manager2", "manager", counter=True)
    asker = login(Client(), manager)
    ask(asker)
    item = ExportRequest.objects.get()
    login(Client(), second_manager).post(f"/manager/exports/{item.pk}/approve/")
    stale(asker)
    response = asker.post(f"/manager/exports/{item.pk}/download/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/reauth/?next=")
    assert f"%2Fmanager%2Fexports%2F{item.pk}%2F" in response["Location"]
    item.refresh_from_db()
    assert item.downloaded_at is None
    device = TOTPDevice.objects.get(user=manager, confirmed=True)
    asker.post("/account/reauth/", {"password": PASSWORD, "token": code(device)})
    assert asker.post(f"/manager/exports/{item.pk}/download/")["Content-Type"].startswith(
        "text/csv"
    )


def test_releasing_a_disclosure_after_the_window_asks_again(manager, clerk, customer):
    from privacy.desks.models import DisclosureRelease
    from tests.privacy.test_disclosure_and_erasure import take_through

    item, _ = take_through("disclosure", manager, clerk, customer)
    boss = stale(login(Client(), manager))
    response = boss.post(f"/requests/{item.pk}/release/")
    assert response["Location"] == f"/account/reauth/?next=%2Frequests%2F{item.pk}%2F"
    assert not DisclosureRelease.objects.exists()
    # Other actions of the same page are not held up.
    assert not boss.post(f"/requests/{item.pk}/extend/")["Location"].startswith("/account/")
