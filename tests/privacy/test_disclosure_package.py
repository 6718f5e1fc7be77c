"""The disclosure package is a document the customer can read: Japanese labels, the shop's
time to the minute, consent as はい/いいえ per purpose, a styled page under a strict CSP,
CSVs with header rows and defused cells, every stored field (an order's reason for
cancelling included)."""

import csv
import io
import re
import zipfile

import pytest
from django.test import Client
from django.utils import translation

from customers import services
from customers.models import Customer
from privacy.consent import purposes
from privacy.desks import disclosure
from tests.conftest import login, readable


@pytest.fixture
def package_files(clerk, manager, customer, order):
    """The customer said no to news of new releases, cancelled an order with a reason that
    starts like a formula, and was looked at once; the package is opened as the customer
    does, in Japanese."""
    services.order_cancel(actor=clerk, order_id=order.pk, reason="=HYPERLINK(1)取消理由Cr")
    purposes.record_notice(
        customer, method="screen", choices={purposes.NEW_RELEASE_INFO: False}, by=clerk
    )
    login(Client(), clerk).get(f"/customers/{customer.pk}/")
    with translation.override("ja"):
        loaded = readable(Customer.objects.get(pk=customer.pk))
        archive = zipfile.ZipFile(io.BytesIO(disclosure.as_zip(disclosure.build(loaded))))
        return {name: archive.read(name).decode("utf-8-sig") for name in archive.namelist()}


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_page_speaks_japanese_in_the_shops_time(package_files):
    page = package_files["package.html"]
    for label in ["姓", "電話番号", "希望の連絡方法", "書名", "キャンセルの理由", "ステータス"]:
        assert label in page
    for code in ["family_name", "preferred_contact", "cancelled", "new_release_info", "screen"]:
        assert code not in page
    assert "{'" not in page and "False" not in page and "True" not in page
    assert "新刊・イベントのご案内: いいえ" in page
    assert "キャンセル" in page  # the status by its label
    # The shop's time, to the minute: no UTC offset, no seconds, no microseconds.
    assert not re.search(r"\d{2}:\d{2}:\d{2}", page) and "+00:00" not in page
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", page)
    assert "取消理由Cr" in page
    # By which date an erasure would be unreadable in every backup too.
    assert 'class="erasure-horizon"' in page


def test_the_page_is_styled_under_a_strict_policy(package_files):
    page = package_files["package.html"]
    assert ' style="' not in page and "<script" not in page
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy
    import base64
    import hashlib

    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    assert "@media print" in css and ".disclosure" in css
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy  # only this stylesheet, the static one, applies


def test_every_csv_has_its_header_row_and_defused_cells(package_files):
    third = rows(package_files["third_party.csv"])
    assert len(third) == 1 and "提供先" in third[0]  # no records, still a header
    suspensions = rows(package_files["suspensions.csv"])
    assert len(suspensions) == 1 and suspensions[0][0] == "情報の利用"
    orders = rows(package_files["orders.csv"])
    header, [order] = orders[0], orders[1:]
    reason = order[header.index("キャンセルの理由")]
    assert reason.startswith("'=") and "取消理由Cr" in reason  # not run as a formula
    assert order[header.index("ステータス")] == "キャンセル"
    profile = dict(rows(package_files["profile.csv"])[1:])
    assert "電話番号" in profile and "メモ" in profile
    notices = rows(package_files["notices.csv"])
    assert "新刊・イベントのご案内: いいえ" in notices[1][-1]
    access = rows(package_files["access_log.csv"])
    assert access[0] == ["日時", "スタッフ", "目的", "閲覧した項目"]
    assert any(row[2] == "顧客ページ" for row in access[1:])


def test_json_keeps_every_stored_field(package_files):
    import json

    data = json.loads(package_files["package.json"])
    [order] = data["orders"]
    assert "取消理由Cr" in order["cancel_reason"]
    assert order["status"] == "cancelled"  # codes for machines
    assert {"family_name", "notes", "preferred_contact", "last_confirmed_at"} <= set(
        data["profile"]
    )
    assert not any(key.endswith("_bidx") for key in data["profile"])
