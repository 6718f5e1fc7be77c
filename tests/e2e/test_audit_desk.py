"""The administrator's desk in a real browser, in Japanese, from the labels on the screen: open
the audit log, filter, page, verify the chain with the button, download the CSV."""

import re

import pytest

from privacy.audit import checkpoints
from privacy.audit import log as audit
from privacy.audit.models import AuditVerification
from tests.conftest import PASSWORD
from tests.e2e.test_journeys import authenticator_for, ja

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_administrator_filters_pages_verifies_and_downloads(
    journey, clerk, administrator, order, settings, tmp_path
):
    settings.BOOKSHOP_AUDIT_CHECKPOINTS = str(tmp_path / "checkpoints.jsonl")
    customer = order.customer
    audit.record_many([audit.event_entry("auth.login", actor=clerk) for _ in range(60)])
    audit.record("privacy.request.corrected", actor=clerk, data={"fields": 2})  # the old 500
    checkpoints.write_checkpoint()
    page = journey.page

    journey.login("admin", PASSWORD, authenticator=authenticator_for(administrator))
    page.wait_for_url(re.compile(r"/audit/"))
    page.click(f"nav >> text={ja('Audit log')}")
    page.wait_for_url(re.compile(r"/audit/$"))
    assert page.locator("h1").inner_text() == ja("Audit log")
    # One screen wide at 1280 pixels: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    row_height = page.locator("table.audit tbody tr").first.bounding_box()["height"]
    assert row_height < 40  # one line per entry: the time is not wrapped
    journey.shot("audit-log")

    page.get_by_label(ja("Staff member")).select_option(label="clerk")
    page.get_by_label(ja("Kind"), exact=True).select_option(label=ja("Logins"))
    page.get_by_role("button", name=ja("Filter"), exact=True).click()
    page.wait_for_url(re.compile(r"action=login"))
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 50
    assert all(ja("Logged in") in text for text in rows.all_inner_texts())
    assert customer.family_name not in page.content()
    journey.shot("audit-filtered")

    page.get_by_role("link", name=ja("Older"), exact=True).click()
    page.wait_for_url(re.compile(r"page=2"))
    assert "action=login" in page.url
    assert 1 <= rows.count() <= 11
    assert all(ja("Logged in") in text for text in rows.all_inner_texts())
    journey.shot("audit-page-2")

    page.get_by_role("link", name=ja("Clear filters")).click()
    page.get_by_role("button", name=ja("Verify the chain now")).click()
    page.wait_for_load_state()
    verification = AuditVerification.objects.get()
    assert verification.ok
    result = page.locator(".verification-result").inner_text()
    assert ja("intact") in result and f"#{verification.head_seq}" in result
    assert page.locator(".messages").inner_text().strip() != ""
    assert "#" in page.locator(".checkpoint").inner_text()
    journey.shot("chain-verified")

    with page.expect_download() as download_info:
        page.get_by_role("link", name=ja("Download CSV")).click()
    path = download_info.value.path()
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    assert lines[0].startswith("seq,timestamp,actor,event")
    assert lines[-1].startswith("end of export: ")
    assert any("privacy.request.corrected" in line for line in lines)
    assert customer.family_name not in path.read_text(encoding="utf-8")
