"""A clerk changes their password from the top bar, in Japanese, in a real browser."""

import re

import pytest
from django.contrib.auth.models import User

from privacy.audit.models import AuditLogEntry
from tests.conftest import PASSWORD
from tests.e2e.test_journeys import ja

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("production_password_hasher"),
]

NEW = "tsukimi-dango-ninety-9"


def test_a_clerk_changes_their_password_from_the_top_bar(journey, clerk):
    page = journey.page
    journey.login("clerk", PASSWORD)
    page.wait_for_url(re.compile(r"/board/$"))
    assert page.locator("html").get_attribute("lang") == "ja"

    page.locator("header.topbar").get_by_role("link", name=ja("Change password")).click()
    page.wait_for_url(re.compile(r"/account/password/$"))
    assert page.locator("h1").inner_text() == "パスワード変更"
    journey.shot("password-form")

    # A password the validators refuse: the message beside the field, nothing changed.
    before = User.objects.get(pk=clerk.pk).password
    page.fill("#id_old_password", PASSWORD)
    page.fill("#id_new_password1", "12345678")
    page.fill("#id_new_password2", "12345678")
    page.click("main button.primary")
    page.wait_for_load_state()
    error = page.locator("#id_new_password2_error").first
    assert "パスワード" in error.inner_text()
    assert User.objects.get(pk=clerk.pk).password == before
    journey.shot("password-refused")

    page.fill("#id_old_password", PASSWORD)
    page.fill("#id_new_password1", NEW)
    page.fill("#id_new_password2", NEW)
    page.click("main button.primary")
    page.wait_for_url(re.compile(r"/account/password/done/$"))
    assert ja("Password changed") in page.locator("h1").inner_text()
    assert AuditLogEntry.objects.filter(event="accounts.password_changed", actor=clerk).exists()
    journey.shot("password-changed")

    page.locator("header.topbar").get_by_role("button", name=ja("Log out")).click()
    page.wait_for_url(re.compile(r"/login/"))
    journey.shot("logged-out")

    journey.login("clerk", PASSWORD)  # the old password no longer works
    page.wait_for_load_state()
    assert "/login/" in page.url
    assert page.locator(".error-box").count() == 1
    journey.shot("old-password-refused")

    journey.login("clerk", NEW)
    page.wait_for_url(re.compile(r"/board/$"))
    journey.shot("board-with-new-password")
