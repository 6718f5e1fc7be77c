import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.test import Client
from django.urls import path
from django.utils import translation

from tests.conftest import CANARIES, login

ROOT = Path(__file__).resolve().parents[1]
SECRET_VALUE = CANARIES["family_name"]


def exploding_view(request):
    raise ValueError(
        f"customer {SECRET_VALUE} broke the page"
    )  # the worst case: a careless message


def hidden_view(request):
    raise Http404(f"customer {SECRET_VALUE} is not yours, see {__file__}")


def forbidden_view(request):
    raise PermissionDenied(f"customer {SECRET_VALUE} belongs to another team")


def failing_query_view(request):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM no_such_table WHERE phone = %s", [SECRET_VALUE])
    return HttpResponse("unreachable")


handler500 = "bookshop.views.server_error"

urlpatterns = [
    path("boom/", exploding_view),
    path("bad-sql/", failing_query_view),
    path("hidden/", hidden_view),
    path("forbidden/", forbidden_view),
    path("", __import__("django.urls", fromlist=["include"]).include("bookshop.urls")),
]


@pytest.fixture
def production_debug(settings):
    """Error pages as production serves them: DEBUG off (DJANGO_DEBUG=0), stated here rather
    than left to pytest-django's default."""
    settings.DEBUG = False
    return settings


@pytest.fixture
def broken_urls(production_debug):
    production_debug.ROOT_URLCONF = __name__


# What a debug page or a careless handler would show: personal values, the error, the code.
LEAKS = (
    *CANARIES.values(),
    "Traceback",
    'File "',
    str(ROOT),
    "site-packages",
    __name__,
    "exploding_view",
    "Using the URLconf",
    "urlpatterns",
    "DEBUG = True",
    "PermissionDenied",
    "Http404",
)


def assert_nothing_leaks(response) -> str:
    html = response.content.decode()
    assert response["X-Request-ID"] in html
    for leak in LEAKS:
        assert leak not in html, leak
    return html


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/boom/", 500),
        ("/hidden/", 404),
        ("/forbidden/", 403),
        ("/no/such/page/", 404),
        ("/board/?q=" + SECRET_VALUE, 200),  # the control: a page that works
    ],
)
def test_error_pages_with_debug_off_show_no_personal_value_trace_or_path(
    broken_urls, clerk, url, status
):
    from django.conf import settings

    assert settings.DEBUG is False
    client = login(Client(raise_request_exception=False), clerk)
    response = client.get(url)
    assert response.status_code == status
    if status != 200:
        html = assert_nothing_leaks(response)
        assert "<h1>" in html


def test_a_hidden_customer_is_a_plain_404_with_debug_off(
    production_debug, outsider_clerk, customer
):
    client = login(Client(raise_request_exception=False), outsider_clerk)
    response = client.get(f"/customers/{customer.pk}/")
    assert response.status_code == 404
    assert_nothing_leaks(response)


def test_a_form_without_its_csrf_token_is_a_plain_403_with_debug_off(production_debug, clerk):
    client = login(Client(enforce_csrf_checks=True, raise_request_exception=False), clerk)
    response = client.post("/orders/new/", {"family_name": SECRET_VALUE})
    assert response.status_code == 403
    html = response.content.decode()
    for leak in LEAKS:
        assert leak not in html, leak
    assert "CSRF" not in html and "Referer" not in html  # the debug reason is not shown


@pytest.mark.parametrize("url", ["/boom/", "/bad-sql/"])
def test_a_500_shows_a_request_id_and_nothing_of_the_error(broken_urls, clerk, url, caplog):
    client = login(Client(raise_request_exception=False), clerk)
    response = client.get(url)
    # A broken query is a 500; SQLite reports it as an OperationalError, which reads as 503.
    assert response.status_code in ((500,) if url == "/boom/" else (500, 503))
    html = response.content.decode()
    assert response["X-Request-ID"] in html
    for leak in (SECRET_VALUE, "Traceback", "SELECT", "no_such_table", "ValueError"):
        assert leak not in html
    with translation.override("ja"):
        heading = translation.gettext(
            "Something went wrong" if response.status_code == 500 else "Temporarily unavailable"
        )
    assert heading in html and heading.isascii() is False


def test_the_500_page_speaks_english_when_chosen(broken_urls, clerk):
    client = login(Client(raise_request_exception=False), clerk)
    client.cookies["django_language"] = "en"
    assert "Something went wrong" in client.get("/boom/").content.decode()


def test_a_404_is_friendly_and_carries_a_request_id(production_debug, client, clerk):
    login(client, clerk)
    response = client.get("/customers/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    html = response.content.decode()
    assert response["X-Request-ID"] in html
    assert "<h1>" in html


def test_a_403_is_friendly(production_debug, client, administrator):
    login(client, administrator)
    response = client.get("/board/")
    assert response.status_code == 403
    assert response["X-Request-ID"] in response.content.decode()


def test_a_database_that_is_down_gives_a_503(tmp_path):
    """A real unreachable PostgreSQL (nothing listens on port 1), in a separate process."""
    keyring = tmp_path / "keyring.json"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bookshop.test_settings",
        "BOOKSHOP_KEYRING": str(keyring),
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=2",
    }
    subprocess.run(
        [sys.executable, "manage.py", "keys", "init"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )  # noqa: S603
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "client = Client(raise_request_exception=False)\n"
        "client.cookies[settings.SESSION_COOKIE_NAME] = 'a' * 32\n"
        "response = client.get('/board/')\n"
        "html = response.content.decode()\n"
        "print(response.status_code, response['X-Request-ID'] in html, 'psycopg' in html or 'Traceback' in html)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )  # noqa: S603
    assert result.stdout.strip().splitlines()[-1:] == ["503 True False"], result.stderr[-3000:]


def test_exceptions_in_the_log_carry_no_decrypted_value(broken_urls, clerk, customer, caplog):
    caplog.set_level(logging.INFO)
    client = login(Client(raise_request_exception=False), clerk)
    client.get(f"/customers/{customer.pk}/")
    client.get("/bad-sql/")
    assert "no_such_table" in caplog.text  # the error is logged, for the administrator
    for value in CANARIES.values():
        if value != SECRET_VALUE:
            assert value not in caplog.text
