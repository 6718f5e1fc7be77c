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
    # A page for any signed-in person, on a registered terminal or not (issue 15, terminals).
    response = client.get("/approvals/")
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
    # No password from the administrator (issue 15): the person sets their own with the link.
    link = response.context["new_account"]["link"]
    person = Client()
    person.get(link)
    password = "tsukimi-dango-ninety-9"
    person.post("/account/setup/", {"new_password1": password, "new_password2": password})
    assert attempt(Client(), "contractor", password).status_code == 302
    assert AuditLogEntry.objects.filter(event="accounts.created", actor=administrator).exists()


def test_an_absurdly_long_username_is_refused_not_crashed(db):
    # Found by the fuzzer on PostgreSQL: axes stores failed usernames in 255 characters.
    response = Client(raise_request_exception=False).post(
        "/login/", {"username": "9" * 400, "password": "x"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors


# --- Failed logins keep no typed name (issue 15) ------------------------------------------

# What a clerk might type into the username field by mistake: a customer's name and phone.
TYPED_CANARY = "顧客カナリア名Lq73 09076543219"


def _every_row_as_text():
    """Every row of every table in the database, as text (the audit log included)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                yield (
                    table,
                    " ".join(
                        bytes(v).decode("utf-8", "replace")
                        if isinstance(v, bytes | memoryview)
                        else str(v)
                        for v in row
                    ),
                )


def _canary_forms(value: str) -> list[str]:
    """The typed value and the forms normalization could turn it into."""
    import unicodedata

    forms = {value, unicodedata.normalize("NFKC", value), value.lower()}
    forms |= {part for f in list(forms) for part in f.split()}
    return sorted(forms)


def test_a_failed_login_keeps_no_typed_name_in_any_table_or_log(
    client, clerk, administrator, caplog, settings
):
    import logging

    from axes.models import AccessAttempt

    caplog.set_level(logging.DEBUG)
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):  # past the lockout, too
        attempt(client, TYPED_CANARY, "wrong-password-1234")
    attempt(Client(), "clerk", "wrong-password-1234")
    # The administrator's page of failed logins is rendered (and would write nothing).
    page = login(Client(), administrator).get("/staff/").content.decode()

    assert AccessAttempt.objects.count() == 2  # counted all the same, by hash
    assert all(a.username.startswith("hmac:") for a in AccessAttempt.objects.all())
    for table, text in _every_row_as_text():
        for needle in _canary_forms(TYPED_CANARY):
            assert needle not in text, f"the typed name is in table {table}"
    from django.contrib.sessions.models import Session

    sessions = " ".join(str(s.get_decoded()) for s in Session.objects.all())  # base64 inside
    for needle in _canary_forms(TYPED_CANARY):
        assert needle not in caplog.text
        assert needle not in page
        assert needle not in sessions
    failed = AuditLogEntry.objects.filter(event="auth.login.failed")
    assert failed.count() == settings.AXES_FAILURE_LIMIT + 2
    unknown = failed.filter(object_pk="")
    assert unknown.count() == settings.AXES_FAILURE_LIMIT + 1
    assert all(e.additional_data == {"known_account": False} for e in unknown)
    # An existing account's failed login names it: the administrator needs to know.
    assert failed.filter(object_pk=str(clerk.pk)).count() == 1


def test_a_typed_name_counts_together_whatever_its_case_or_width(client, clerk, settings):
    for typed in ["Clerk", "ＣＬＥＲＫ", " clerk ", "CLERK", "ｃｌｅｒｋ"][
        : settings.AXES_FAILURE_LIMIT
    ]:
        attempt(client, typed, "wrong-password-1234")
    response = attempt(Client(), "clerk", PASSWORD)
    assert response.status_code in (403, 429)  # one account, locked
    assert AuditLogEntry.objects.filter(event="auth.lockout", object_pk=str(clerk.pk)).exists()


def test_the_login_takes_the_name_in_any_case_or_width(client, clerk):
    assert attempt(client, "ＣＬＥＲＫ", PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_the_administrator_sees_locked_accounts_by_name_and_others_as_unknown(
    client, clerk, administrator, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "clerk", "wrong-password-1234")
        attempt(client, TYPED_CANARY, "wrong-password-1234")
    admin = login(Client(), administrator)
    response = admin.get("/staff/", HTTP_ACCEPT_LANGUAGE="ja")
    page = response.content.decode()
    rows = {
        (row["user"].username if row["user"] else None): row
        for row in response.context["failed_logins"]
    }
    assert rows["clerk"]["locked"] and rows["clerk"]["failures"] == settings.AXES_FAILURE_LIMIT
    assert rows[None]["locked"]
    assert "不明な名前" in page
    assert TYPED_CANARY not in page
    staff_row = next(r for r in response.context["staff"] if r["user"] == clerk)
    assert staff_row["locked"]

    assert admin.post(f"/staff/{clerk.pk}/release/").status_code == 302
    assert attempt(Client(), "clerk", PASSWORD).status_code == 302
    rows = admin.get("/staff/").context["failed_logins"]
    assert [row["user"] for row in rows] == [None]  # the unknown name stays counted


def test_names_kept_in_clear_before_are_hashed_by_the_migration(db, clerk):
    """A database from before keeps the names axes stored: the migration replaces them."""
    import importlib

    from axes.models import AccessAttempt
    from django.apps import apps
    from django.utils import timezone as tz

    from privacy.staff.backends import login_name_digest

    migration = importlib.import_module("privacy.migrations.0019_login_attempts")
    common = {"ip_address": "192.0.2.7", "user_agent": "counter-pc", "attempt_time": tz.now()}
    for name, failures in [("Clerk", 2), ("clerk", 3), (TYPED_CANARY, 1)]:
        AccessAttempt.objects.create(
            username=name, failures_since_start=failures, get_data="", post_data="", **common
        )
    migration._hash_typed_names(apps, None)
    kept = dict(AccessAttempt.objects.values_list("username", "failures_since_start"))
    assert kept == {login_name_digest("clerk"): 5, login_name_digest(TYPED_CANARY): 1}
