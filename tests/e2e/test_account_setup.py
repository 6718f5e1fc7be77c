"""The administrator creates a clerk's account in Japanese and hands over the setup link; the
clerk, in another browser, chooses their own password and logs in; the link works once."""

import re

import pytest
from django.contrib.auth.models import User

from privacy.audit.models import AuditLogEntry
from tests.conftest import PASSWORD
from tests.e2e.test_journeys import authenticator_for, ja

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("production_password_hasher"),
]

CHOSEN = "tsukimi-dango-ninety-9"


def label(text: str):
    """A field's visible Japanese label, with or without the required mark."""
    return re.compile(rf"^{re.escape(ja(text))}( \*)?$")


def test_a_new_clerk_sets_their_own_password_with_a_one_time_link(journey, browser, administrator):
    page = journey.page
    journey.login("admin", PASSWORD, authenticator=authenticator_for(administrator))
    page.wait_for_load_state()
    journey.go("/staff/")
    assert page.locator("html").get_attribute("lang") == "ja"

    form = page.locator("form.card", has=page.get_by_role("heading", name=ja("New staff account")))
    # Nothing chosen in advance: no role, no team.
    assert form.get_by_label(label("Role")).input_value() == ""
    assert not form.get_by_label(label("Member of the counter team")).is_checked()
    form.get_by_label(label("Username")).fill("suzuki")
    form.get_by_label(label("Family name")).fill("鈴木")
    form.get_by_label(label("Given name")).fill("一郎")
    form.get_by_label(label("Role")).select_option(label=ja("Clerk"))
    form.get_by_label(label("Member of the counter team")).check()
    journey.shot("new-account-form")
    form.get_by_role("button", name=ja("Create account")).click()
    page.wait_for_load_state()

    link = page.get_by_label(ja("Setup link (shown only now)")).input_value()
    assert "/account/setup/" in link
    journey.shot("setup-link-shown-once")
    assert not User.objects.get(username="suzuki").has_usable_password()
    journey.go("/staff/")
    assert link not in page.content()  # shown once

    # The clerk, in a browser of their own.
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    try:
        clerk_page = context.new_page()
        clerk_page.set_default_timeout(15_000)
        clerk_page.goto(link)
        clerk_page.wait_for_url(re.compile(r"/account/setup/$"))
        assert clerk_page.locator("h1").inner_text() == ja("Set up your account")
        clerk_page.screenshot(path=str(journey.folder / "90-setup-page.png"), full_page=True)
        clerk_page.fill("#id_new_password1", CHOSEN)
        clerk_page.fill("#id_new_password2", CHOSEN)
        clerk_page.get_by_role("button", name=ja("Set my password")).click()
        clerk_page.wait_for_url(re.compile(r"/login/"))

        clerk_page.fill("#id_username", "suzuki")
        clerk_page.fill("#id_password", CHOSEN)
        clerk_page.click("button.primary")
        # Issue 15: no role until the manager confirms it, so the start page, not the board.
        clerk_page.wait_for_url(re.compile(r"/((board|rules)/)?$"))
        clerk_page.screenshot(path=str(journey.folder / "91-logged-in.png"), full_page=True)
    finally:
        context.close()
    assert AuditLogEntry.objects.filter(event="accounts.setup_link.used").count() == 1

    # The link a second time: refused, with what to do.
    again = browser.new_context(locale="ja-JP")
    try:
        second = again.new_page()
        response = second.goto(link)
        assert response.status == 410
        assert ja("This link cannot be used") in second.locator("h1").inner_text()
        second.screenshot(path=str(journey.folder / "92-link-used.png"), full_page=True)
    finally:
        again.close()
