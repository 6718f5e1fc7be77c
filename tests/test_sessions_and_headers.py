import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import time_machine
from django.contrib.sessions.models import Session
from django.utils import timezone

from tests.conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parents[1]


def test_an_idle_session_ends_after_15_minutes(client, clerk, settings):
    assert settings.SESSION_COOKIE_AGE == 15 * 60
    client.post("/login/", {"username": "clerk", "password": PASSWORD})
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        assert client.get("/board/").status_code == 200  # activity renews the session
    with time_machine.travel(timezone.now() + timedelta(minutes=24)):
        assert client.get("/board/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=40)):
        response = client.get("/board/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_session_ends_after_one_shift_however_active(client, clerk):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.post("/login/", {"username": "clerk", "password": PASSWORD})
    for minutes in range(10, 12 * 60, 10):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert client.get("/board/").status_code == 200
    with time_machine.travel(start + timedelta(hours=12, minutes=5), tick=False):
        response = client.get("/board/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_logout_ends_the_session_on_the_server(client, clerk, settings):
    client.post("/login/", {"username": "clerk", "password": PASSWORD})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert Session.objects.filter(session_key=key).exists()
    client.post("/logout/")
    assert not Session.objects.filter(session_key=key).exists()


def test_every_page_forbids_caching_and_framing_and_sets_a_strict_csp(client, clerk, customer):
    login(client, clerk)
    for url in ["/board/", f"/customers/{customer.pk}/", "/login/"]:
        response = client.get(url)
        assert "no-store" in response["Cache-Control"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        csp = response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response["X-Request-ID"]


def test_pages_carry_no_inline_script_or_style(client, clerk, customer):
    login(client, clerk)
    for url in ["/board/", f"/customers/{customer.pk}/", "/orders/new/"]:
        html = client.get(url).content.decode()
        assert "<script>" not in html and "<style" not in html and " style=" not in html
        assert "onclick=" not in html


def _production_env(tmp_path) -> dict:
    keyring = tmp_path / "keyring.json"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bookshop.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "prod-" + "q8Zr!w3Kp0" * 6,
        "DJANGO_ALLOWED_HOSTS": "shop.example.jp",
        "BOOKSHOP_KEYRING": str(keyring),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    }
    for name in ("DJANGO_SECURE_SSL_REDIRECT", "DJANGO_EMAIL_BACKEND", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "manage.py", "keys", "init"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )  # noqa: S603
    return env


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = _production_env(tmp_path)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_cookies_are_secure_host_prefixed_and_httponly(tmp_path):
    env = _production_env(tmp_path)
    script = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, s.SECURE_HSTS_SECONDS)"
    )
    out = (
        subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        .stdout.strip()
        .splitlines()[-1]
        .split()
    )
    assert out == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "True",
        "True",
        "True",
        "True",
        "Lax",
        "31536000",
    ]


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = _production_env(tmp_path)
    env.pop("DJANGO_SECRET_KEY")
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_activity_renews_the_idle_timeout_at_most_once_a_minute(client, clerk, settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.post("/login/", {"username": "clerk", "password": PASSWORD})
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        client.get("/board/")
        saved = Session.objects.get(session_key=key).expire_date
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get("/board/")
        assert Session.objects.get(session_key=key).expire_date == saved
    with time_machine.travel(start + timedelta(seconds=90), tick=False):
        client.get("/board/")
        assert Session.objects.get(session_key=key).expire_date == saved + timedelta(seconds=90)
