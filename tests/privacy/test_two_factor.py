import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from privacy.audit.models import AuditLogEntry
from tests.conftest import PASSWORD, register_terminal

# The password step checks what production stores (Argon2id), not the suite's fast MD5.
pytestmark = pytest.mark.usefixtures("production_password_hasher")


def code_for(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def after_throttle():
    """django-otp makes each failed code wait before the next try; the tests wait too."""
    return time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False)


def at_a_terminal(user) -> Client:
    """A browser at one of the shop's registered terminals, where the staff log in: customer
    pages such as the board answer 403 anywhere else (tests/privacy/test_terminals.py)."""
    client = Client()
    register_terminal(client, user)
    return client


def password_step(client, username):
    return client.post("/login/", {"username": username, "password": PASSWORD}, follow=True)


def test_the_password_step_checks_the_production_hash(manager):
    manager.refresh_from_db()
    assert manager.password.startswith("argon2$argon2id$")
    response = password_step(Client(), "manager")
    assert response.redirect_chain, "the right password moves on to the second step"


def test_the_manager_must_enrol_then_reaches_the_board(manager):
    client = at_a_terminal(manager)
    response = password_step(client, "manager")
    assert response.redirect_chain[-1][0].startswith("/account/2fa/setup/")
    assert client.get("/board/").status_code == 302  # nothing before the second step

    device = TOTPDevice.objects.get(user=manager, confirmed=False)
    page = client.get("/account/2fa/setup/").content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    response = client.post(
        "/account/2fa/setup/", {"token": "000000" if code_for(device) != "000000" else "111111"}
    )
    assert "token" in response.context["form"].errors

    with after_throttle():
        device.refresh_from_db()
        response = client.post("/account/2fa/setup/", {"token": code_for(device)})
        codes = response.context["codes"]
        assert len(codes) == 10
        assert client.get("/board/").status_code == 200
    assert AuditLogEntry.objects.filter(event="auth.2fa.enrolled", actor=manager).exists()


def test_an_enrolled_manager_logs_in_with_a_code(manager):
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    client = at_a_terminal(manager)
    response = password_step(client, "manager")
    assert response.redirect_chain[-1][0].startswith("/account/2fa/verify/")
    response = client.post("/account/2fa/verify/", {"token": "12345"})
    assert response.status_code == 200 and client.get("/board/").status_code == 302
    with after_throttle():
        device.refresh_from_db()
        client.post("/account/2fa/verify/", {"token": code_for(device), "next": "/board/"})
        assert client.get("/board/").status_code == 200
    assert AuditLogEntry.objects.filter(event="auth.2fa.failed", actor=manager).count() == 1


def test_a_recovery_code_works_once(manager):
    client = at_a_terminal(manager)
    password_step(client, "manager")
    device = TOTPDevice.objects.get(user=manager, confirmed=False)
    codes = client.post("/account/2fa/setup/", {"token": code_for(device)}).context["codes"]
    client.post("/logout/")

    first = at_a_terminal(manager)
    password_step(first, "manager")
    first.post("/account/2fa/verify/", {"token": codes[0]})
    assert first.get("/board/").status_code == 200

    second = at_a_terminal(manager)
    password_step(second, "manager")
    second.post("/account/2fa/verify/", {"token": codes[0]})
    assert second.get("/board/").status_code == 302


def test_the_administrator_needs_two_steps_too(administrator):
    client = Client()
    response = password_step(client, "admin")
    assert re.match(r"^/account/2fa/setup/", response.redirect_chain[-1][0])
    assert client.get("/audit/").status_code == 302


def test_a_clerk_may_log_in_with_one_step_or_enrol(clerk):
    client = at_a_terminal(clerk)
    password_step(client, "clerk")
    assert client.get("/board/").status_code == 200
    client.get("/account/2fa/setup/")
    device = TOTPDevice.objects.get(user=clerk, confirmed=False)
    client.post("/account/2fa/setup/", {"token": code_for(device)})
    client.post("/logout/")
    again = at_a_terminal(clerk)
    password_step(again, "clerk")
    assert again.get("/board/").status_code == 302  # enrolled: the second step is now required
