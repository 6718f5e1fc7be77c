import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from customers import selectors
from customers.models import Customer
from privacy.access import grants as access
from privacy.vault import crypto

ROWS = 2000


def _seed(rows):
    """Customers the counter team may see, with distinct phones."""
    rng = random.Random(7)
    kana = ["サトウ", "スズキ", "タカハシ", "タナカ", "ワタナベ", "イトウ", "ヤマモト", "ナカムラ"]
    customers = [
        Customer(
            family_name="顧客",
            given_name=str(i),
            family_name_kana=rng.choice(kana),
            given_name_kana="テスト",
            phone=f"090{10000000 + i * 37:08d}",
            email="",
        )
        for i in range(rows)
    ]
    Customer.objects.bulk_create(customers, batch_size=500)
    assign_perm("view_customer", access.counter_team(), Customer.objects.all())
    return customers


@pytest.fixture
def many_customers(clerk):
    return _seed(ROWS)


@pytest.fixture
def some_customers(clerk):
    return _seed(100)


def test_it_finds_a_customer_by_phone_decrypting_only_candidates(clerk, many_customers):
    target = many_customers[1234]
    before = crypto.counters["decrypt"]
    with CaptureQueriesContext(connection) as queries:
        found = selectors.find_customers(clerk, phone=target.phone)
    decrypted = crypto.counters["decrypt"] - before
    assert [c.pk for c in found] == [target.pk]
    # 10 bits over 2,000 rows: a handful of candidates, each decrypted once for the phone.
    assert 1 <= decrypted <= 20
    # The candidates come with their data keys in one query; the others are the checks every
    # read makes and the matches' read entries.
    assert len([q for q in queries if "customers_customer" in q["sql"]]) == 1


def test_it_finds_a_customer_by_kana_and_last_four_digits(clerk, many_customers):
    target = many_customers[777]
    before = crypto.counters["decrypt"]
    found = selectors.find_customers(
        clerk, family_name_kana=target.family_name_kana, last4=target.phone[-4:]
    )
    assert target.pk in [c.pk for c in found]
    assert all(c.phone.endswith(target.phone[-4:]) for c in found)
    assert crypto.counters["decrypt"] - before <= 20


def test_full_width_digits_and_hiragana_find_the_same_customer(clerk, some_customers):
    target = some_customers[42]
    full_width = target.phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    spaced = f"{full_width[:3]}－{full_width[3:7]}－{full_width[7:]}"
    assert [c.pk for c in selectors.find_customers(clerk, phone=spaced)] == [target.pk]
    hiragana = {
        "サトウ": "さとう",
        "スズキ": "すずき",
        "タカハシ": "たかはし",
        "タナカ": "たなか",
        "ワタナベ": "わたなべ",
        "イトウ": "いとう",
        "ヤマモト": "やまもと",
        "ナカムラ": "なかむら",
    }
    found = selectors.find_customers(
        clerk, family_name_kana=hiragana[target.family_name_kana], last4=full_width[-4:]
    )
    assert target.pk in [c.pk for c in found]


def test_a_wrong_number_finds_nobody(clerk, some_customers):
    assert selectors.find_customers(clerk, phone="08099998888") == []


def test_it_never_finds_a_customer_the_clerk_may_not_see(outsider_clerk, some_customers):
    assert selectors.find_customers(outsider_clerk, phone=some_customers[5].phone) == []
    assert selectors.visible_customers(outsider_clerk).count() == 0
