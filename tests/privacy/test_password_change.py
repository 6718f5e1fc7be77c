"""Everyone changes their own password at /account/password/: the current password (and a
current code where two-step login is enrolled), Django's validators, the other sessions
ended, an audit entry without password material. Checked against the production hasher."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from privacy.audit.models import AuditLogEntry
from tests.conftest import PASSWORD, login, register_terminal

pytestmark = pytest.mark.usefixtures("production_password_hasher")

NEW = "tsukimi-dango-ninety-9"


def code_for(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def logged_in(username, password=PASSWORD) -> Client:
    """A browser at one of the shop's registered terminals (the counter PC, the back-office
    PC), logged in through the form: customer pages such as the board answer 403 anywhere
    else (tests/privacy/test_terminals.py)."""
    client = Client()
    register_terminal(client, User.objects.get(username=username))
    assert client.post("/login/", {"username": username, "password": password}).status_code == 302
    return client


def change(client, *, old=PASSWORD, new=NEW, again=None, **extra):
    return client.post(
        "/account/password/",
        {"old_password": old, "new_password1": new, "new_password2": again or new, **extra},
    )


def is_in(client) -> bool:
    return client.get("/board/").status_code == 200


def password_hash(user) -> str:
    return User.objects.get(pk=user.pk).password


def test_the_top_bar_links_to_the_password_change_in_japanese(clerk):
    client = logged_in("clerk")
    page = client.get("/board/").content.decode()
    assert 'href="/account/password/"' in page and "パスワード変更" in page
    form_page = client.get("/account/password/").content.decode()
    assert "現在のパスワード" in form_page
    assert "新しいパスワード" in form_page


def test_a_clerk_changes_their_password_and_their_other_sessions_end(clerk):
    here = logged_in("clerk")
    elsewhere = logged_in("clerk")  # the back-office PC, still signed in
    response = change(here)
    assert response.status_code == 302 and response["Location"] == "/account/password/done/"
    assert "パスワードを変更しました" in here.get(response["Location"]).content.decode()

    assert is_in(here)  # this session goes on
    assert not is_in(elsewhere)  # the other one ended
    assert Client().post("/login/", {"username": "clerk", "password": PASSWORD}).status_code == 200
    assert is_in(logged_in("clerk", NEW))
    assert password_hash(clerk).startswith("argon2$argon2id$")

    entry = AuditLogEntry.objects.get(event="accounts.password_changed")
    assert entry.actor_id == clerk.pk and entry.object_pk == str(clerk.pk)
    written = f"{entry.additional_data} {entry.changes} {entry.object_repr}"
    for secret in (PASSWORD, NEW, password_hash(clerk)):
        assert secret not in written
    # The write log of the user row (django-auditlog) keeps no password material either.
    for other in AuditLogEntry.objects.all():
        text = f"{other.additional_data} {other.changes}"
        assert NEW not in text and password_hash(clerk) not in text


def test_a_password_the_validators_refuse_changes_nothing(clerk):
    client = logged_in("clerk")
    before = password_hash(clerk)
    for weak in ("short-pw-1", "password1234", "123456789012"):
        response = change(client, new=weak)
        assert response.status_code == 200
        errors = response.context["form"].errors
        assert "new_password2" in errors and "old_password" not in errors
        page = response.content.decode()
        assert 'id="id_new_password2_error"' in page  # beside the field, in Japanese
        assert "このパスワード" in page
    mismatch = change(client, again=NEW + "x")
    assert "new_password2" in mismatch.context["form"].errors
    assert password_hash(clerk) == before
    assert is_in(client)
    assert not AuditLogEntry.objects.filter(event="accounts.password_changed").exists()


def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failed_login(clerk):
    from axes.models import AccessAttempt

    client = logged_in("clerk")
    before = password_hash(clerk)
    response = change(client, old="not-my-password-77")
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["old_password"]
    assert 'id="id_old_password_error"' in response.content.decode()
    assert password_hash(clerk) == before
    assert is_in(client)
    assert AccessAttempt.objects.get().failures_since_start == 1
    assert AuditLogEntry.objects.filter(event="auth.login.failed", object_pk=str(clerk.pk)).exists()
    assert not AuditLogEntry.objects.filter(event="accounts.password_changed").exists()


def test_guessing_the_current_password_from_an_open_session_locks_the_account(clerk, settings):
    client = logged_in("clerk")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = change(client, old="guess-from-the-counter-1")
    assert response.status_code in (403, 429)
    assert not is_in(client)  # the session that guessed ended with the lockout
    assert Client().post("/login/", {"username": "clerk", "password": PASSWORD}).status_code in (
        403,
        429,
    )


def test_without_two_step_login_no_code_is_asked(clerk):
    client = logged_in("clerk")
    assert "otp_token" not in client.get("/account/password/").context["form"].fields


@pytest.fixture
def manager_with_app(manager):
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    client = login(Client(), manager)
    return client, device


def test_with_two_step_login_a_current_code_is_asked_beside_the_password(manager, manager_with_app):
    client, device = manager_with_app
    page = client.get("/account/password/")
    assert "otp_token" in page.context["form"].fields
    assert "認証アプリのコード" in page.content.decode()
    before = password_hash(manager)

    missing = change(client)
    assert list(missing.context["form"].errors) == ["otp_token"]
    wrong = "000000" if code_for(device) != "000000" else "111111"
    refused = change(client, otp_token=wrong)
    assert list(refused.context["form"].errors) == ["otp_token"]
    assert 'id="id_otp_token_error"' in refused.content.decode()
    assert password_hash(manager) == before
    assert not AuditLogEntry.objects.filter(event="accounts.password_changed").exists()

    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):  # throttle
        device.refresh_from_db()
        accepted = change(client, otp_token=code_for(device))
    assert accepted.status_code == 302
    assert password_hash(manager) != before
    assert AuditLogEntry.objects.filter(event="accounts.password_changed", actor=manager).exists()


def test_a_code_is_not_spent_by_a_form_refused_for_another_reason(manager, manager_with_app):
    client, device = manager_with_app
    code = code_for(device)
    assert (
        "new_password2" in change(client, new="short-pw-1", otp_token=code).context["form"].errors
    )
    assert change(client, otp_token=code).status_code == 302  # the same code, still good
