"""Issue 15, in Japanese: the administrator proposes the clerk role for a new account; it is
not in force until the manager, signed in with both steps, finds it counted in the top bar,
opens 承認待ち and confirms it."""

import re

import pytest
from django.contrib.auth.models import User

from privacy.audit.models import AuditLogEntry
from privacy.staff import roles
from tests.conftest import PASSWORD
from tests.e2e.test_journeys import authenticator_for, ja

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def label(text: str):
    return re.compile(rf"^{re.escape(ja(text))}( \*)?$")


def test_the_manager_confirms_the_role_the_administrator_proposed(journey, administrator, manager):
    page = journey.page
    journey.login("admin", PASSWORD, authenticator=authenticator_for(administrator))
    page.wait_for_load_state()
    journey.go("/staff/")
    form = page.locator("form.card", has=page.get_by_role("heading", name=ja("New staff account")))
    form.get_by_label(label("Username")).fill("yamada")
    form.get_by_label(label("Family name")).fill("山田")
    form.get_by_label(label("Role")).select_option(label=ja("Clerk"))
    form.get_by_role("button", name=ja("Create account")).click()
    page.wait_for_load_state()
    newcomer = User.objects.get(username="yamada")
    row = page.locator(f"#staff-{newcomer.pk}")
    assert "確認待ち" in row.inner_text()
    journey.shot("role-waiting-for-confirmation")
    assert roles.roles_of(newcomer) == set()  # not in force yet

    # The manager, in the same browser after the administrator signs out.
    page.get_by_role("button", name=ja("Log out")).click()
    page.wait_for_url(re.compile(r"/login/"))
    journey.login("manager", PASSWORD, authenticator=authenticator_for(manager))
    page.wait_for_load_state()
    inbox_link = page.locator("header.topbar").get_by_role(
        "link", name=re.compile(re.escape(ja("Awaiting approval")))
    )
    assert inbox_link.locator(".inbox-count").inner_text().strip() != "0"
    journey.shot("count-in-top-bar")
    inbox_link.click()
    page.wait_for_url(re.compile(r"/approvals/"))
    page.get_by_role("link", name=re.compile("アカウントの役割")).click()
    page.wait_for_url(re.compile(r"/confirmations/\d+/"))
    assert "yamada" in page.content()
    journey.shot("confirmation-page")
    page.get_by_role("button", name=ja("Confirm")).click()
    page.wait_for_load_state()
    journey.shot("confirmed")
    assert ja("Confirmed: it takes effect now.") in page.content()
    assert roles.roles_of(User.objects.get(username="yamada")) == {roles.CLERK}
    assert AuditLogEntry.objects.filter(event="accounts.role_confirmed", actor=manager).exists()
