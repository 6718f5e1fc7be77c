"""Browser journeys: Playwright driving Debian's chromium against the live test server.

Skipped, with the reason, where chromium or Playwright is missing (.ci/run installs chromium).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture(scope="module")
def browser():
    """One browser for the journeys of a module, closed afterwards so that no event loop
    outlives them. Playwright's sync API runs that loop in this thread; the ORM calls the tests
    make between browser steps (and the database flush after each test) are still plain
    synchronous calls, so Django's async guard is lifted for exactly that long."""
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_api)
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _launch(sync_api):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


class Journey:
    """A browser page that saves a numbered screenshot after each step."""

    def __init__(self, page, base_url, folder: Path):
        self.page = page
        self.base_url = base_url
        self.folder = folder
        self.step = 0
        # Customer data is shown only on the shop's registered terminals: the browser is
        # made one at the first login (tests/e2e/test_terminals.py registers it through the
        # page instead, with ``terminal = False``).
        self.terminal = True

    def become_terminal(self, username):
        """Give the browser the device cookie of a terminal registered by ``username``, as
        「端末の登録」 does (privacy.staff.terminals), unless it holds one already."""
        register_browser(self.page.context, self.base_url, username)

    def go(self, path):
        self.page.goto(self.base_url + path)

    def shot(self, name):
        self.step += 1
        self.page.screenshot(path=str(self.folder / f"{self.step:02d}-{name}.png"), full_page=True)

    def login(self, username, password, *, authenticator=None):
        """Password, then (for roles that need it) the code from the authenticator."""
        if self.terminal:
            self.become_terminal(username)
        self.go("/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.shot(f"login-{username}")
        self.page.click("button.primary")
        if authenticator is not None:
            from django_otp.oath import totp

            self.page.wait_for_url(re.compile(r"/account/2fa/verify/"))
            code = totp(authenticator.bin_key, step=authenticator.step, t0=authenticator.t0)
            self.page.fill("#id_token", f"{code:06d}")
            self.shot(f"second-step-{username}")
            self.page.click("button.primary")


@pytest.fixture
def journey(request, browser, live_server, transactional_audit):
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Journey(page, live_server.url, folder)
    context.close()


def register_browser(context, base_url, username):
    """Make a browser context a registered shop terminal (privacy.staff.terminals), as the
    manager's 「端末の登録」 does, unless it holds a terminal cookie already."""
    import secrets
    from urllib.parse import urlsplit

    from django.contrib.auth.models import User
    from django.http import HttpResponse

    from privacy.staff import terminals
    from privacy.staff.models import Terminal

    name = terminals.cookie_name()
    if any(c["name"] == name for c in context.cookies(base_url)):
        return
    secret = secrets.token_urlsafe(32)
    terminal = Terminal.objects.create(
        name="E2E端末",
        secret_hash=terminals._hash(secret),
        registered_by=User.objects.get(username=username),
    )
    response = HttpResponse()
    terminals.set_cookie(response, terminal, secret)
    cookie = response.cookies[name]
    context.add_cookies(
        [
            {
                "name": name,
                "value": cookie.value,
                # domain + path rather than url: the DevTools protocol refuses a Secure
                # cookie set "for" a plain-http url, though the browser itself keeps one
                # that a page on 127.0.0.1 (a trustworthy origin) sets.
                "domain": urlsplit(base_url).hostname,
                "path": "/",
                "httpOnly": True,
                "secure": bool(cookie["secure"]),
                "sameSite": "Strict",
            }
        ]
    )
