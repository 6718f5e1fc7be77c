from datetime import timedelta

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from privacy.audit.models import AuditLogEntry
from privacy.staff import accounts
from tests.conftest import PASSWORD, login

# Logins are where passwords matter: the production hashers (Argon2id), not the suite's MD5.
pytestmark = pytest.mark.usefixtures("production_password_hasher")


def attempt(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def is_logged_in(client) -> bool:
    response = client.get("/board/")
    return response.status_code == 200


def test_a_right_password_logs_in_with_a_new_session_id(client, clerk, settings):
    name = settings.SESSION_COOKIE_NAME
    client.get("/login/")
    client.cookies[name] = "attacker-chosen-session-id"  # session fixation attempt
    response = attempt(client, "clerk", PASSWORD)
    assert response.status_code == 302
    assert client.cookies[name].value != "attacker-chosen-session-id"
    assert is_logged_in(client)


def test_five_wrong_passwords_lock_the_account_and_its_open_sessions(client, clerk, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    already_in = Client()
    already_in.post("/login/", {"username": "clerk", "password": PASSWORD})
    assert is_logged_in(already_in)

    for _ in range(5):
        attempt(client, "clerk", "wrong-password-1234")
    response = attempt(client, "clerk", PASSWORD)
    assert response.status_code in (403, 429)
    assert not is_logged_in(client)
    assert not is_logged_in(already_in)  # the open session ended too
    assert AuditLogEntry.objects.filter(event="auth.lockout", object_pk=str(clerk.pk)).exists()


def test_the_administrator_releases_a_lockout_and_it_is_logged(client, clerk, administrator):
    for _ in range(5):
        attempt(client, "clerk", "wrong-password-1234")
    admin = login(Client(), administrator)
    assert admin.post(f"/staff/{clerk.pk}/release/").status_code == 302
    assert attempt(client, "clerk", PASSWORD).status_code == 302
    assert AuditLogEntry.objects.filter(event="auth.lockout.released", actor=administrator).exists()


def test_a_deactivated_account_cannot_log_in_and_its_sessions_end_at_once(
    client, clerk, administrator
):
    login(client, clerk)
    assert is_logged_in(client)
    admin = login(Client(), administrator)
    admin.post(f"/staff/{clerk.pk}/deactivate/")
    clerk.refresh_from_db()
    assert clerk.is_active is False
    assert not is_logged_in(client)
    assert attempt(Client(), "clerk", PASSWORD).status_code == 200  # the form again, refused
    assert AuditLogEntry.objects.filter(event="accounts.deactivated", actor=administrator).exists()


def test_an_account_past_its_end_date_cannot_log_in(client, clerk, administrator):
    import time_machine

    login(client, clerk)
    end = timezone.localdate() + timedelta(days=1)
    accounts.set_end_date(clerk, valid_until=end, by=administrator)
    assert is_logged_in(client)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert attempt(Client(), "clerk", PASSWORD).status_code == 200
        fresh = Client()
        fresh.force_login(clerk)  # even a session made some other way stops working
        assert not is_logged_in(fresh)


def test_the_personas_log_in_against_the_production_hash(client, clerk, settings):
    """The passwords these tests type are checked against what production stores."""
    from django.contrib.auth.hashers import identify_hasher

    from bookshop import settings as production

    assert settings.PASSWORD_HASHERS == production.PASSWORD_HASHERS
    clerk.refresh_from_db()
    assert clerk.password.startswith("argon2$argon2id$")
    assert identify_hasher(clerk.password).algorithm == "argon2"
    assert attempt(client, "clerk", PASSWORD).status_code == 302
    clerk.refresh_from_db()
    assert clerk.password.startswith("argon2$argon2id$")  # nothing to upgrade on login


def test_an_older_hash_is_upgraded_to_argon2id_on_login(client, clerk):
    from django.contrib.auth.hashers import make_password

    clerk.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    clerk.save(update_fields=["password"])
    assert attempt(client, "clerk", PASSWORD).status_code == 302
    clerk.refresh_from_db()
    assert clerk.password.startswith("argon2$argon2id$")


def test_passwords_are_hashed_with_argon2id_in_production():
    from bookshop import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert (
        Argon2PasswordHasher()
        .encode("a long passphrase", Argon2PasswordHasher().salt())
        .startswith("argon2$argon2id$")
    )


@pytest.mark.parametrize(
    "password",
    ["short-pw-1", "password1234", "123456789012", "tanaka-hanako1"],
)
def test_weak_passwords_are_refused(password):
    from django.contrib.auth.models import User

    user = User(username="tanaka-hanako", first_name="Hanako", last_name="Tanaka")
    with pytest.raises(ValidationError):
        validate_password(password, user=user)


def test_a_strong_password_is_accepted(clerk):
    validate_password("tsukimi-dango-ninety-9", user=clerk)


def test_the_administrator_creates_a_personal_account_with_an_end_date(administrator):
    client = login(Client(), administrator)
    response = client.post(
        "/staff/",
        {
            "username": "contractor",
            "last_name": "外部",
            "first_name": "保守",
            "role": "clerk",
            "valid_until": "2030-01-31",
        },
    )
    assert response.status_code == 200
    password = response.context["new_account"]["password"]
    assert attempt(Client(), "contractor", password).status_code == 302
    assert AuditLogEntry.objects.filter(event="accounts.created", actor=administrator).exists()


def test_an_absurdly_long_username_is_refused_not_crashed(db):
    # Found by the fuzzer on PostgreSQL: axes stores failed usernames in 255 characters.
    response = Client(raise_request_exception=False).post(
        "/login/", {"username": "9" * 400, "password": "x"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors
