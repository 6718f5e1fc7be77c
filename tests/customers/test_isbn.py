"""An ISBN fills in the book: openBD first, NDL Search next, each a real HTTP server on
localhost answering in the services' own shapes (tests/fakes.py). Only the ISBN leaves the
shop; offline or on a miss the clerk types the details, and the form says so."""

import time

import pytest

from customers import isbn
from customers.models import BookInfo, SpecialOrder
from tests.conftest import login, readable
from tests.fakes import FakeBookServices, free_port

NINGEN_SHIKKAKU = "9784101001340"  # openBD knows it
BOTCHAN = "9784003101018"  # openBD does not; NDL Search does
UNKNOWN = "9784062934503"  # nobody does


@pytest.fixture
def books(settings):
    with FakeBookServices() as server:
        server.point(settings)
        yield server


def ask(client, typed):
    return client.post("/books/isbn/", {"isbn": typed})


def test_the_isbn_is_normalized_and_its_check_digit_verified():
    assert isbn.normalize_isbn("4-10-100134-0") == NINGEN_SHIKKAKU
    assert isbn.normalize_isbn("９７８－４１０１００１３４０") == NINGEN_SHIKKAKU
    with pytest.raises(Exception, match="check digit"):
        isbn.normalize_isbn("9784101001341")


def test_a_scanned_isbn_10_in_full_width_digits_fills_the_book_from_openbd(client, clerk, books):
    login(client, clerk)
    answer = ask(client, "４－１０－１００１３４－０").json()
    assert answer["found"] is True
    assert answer["title"] == "人間失格"
    assert answer["author"] == "太宰治/著"  # NFKC, as every typed field
    assert answer["publisher"] == "新潮社"
    assert answer["isbn"] == "978-4-10-100134-0"
    assert "openBD から入力しました" in answer["message"]
    # What left the shop: one GET carrying the ISBN and nothing else.
    [sent] = books.requests
    assert sent["path"] == "/openbd" and sent["query"] == {"isbn": [NINGEN_SHIKKAKU]}
    headers = {k.lower() for k in sent["headers"]}
    assert "cookie" not in headers and "referer" not in headers
    assert not {"authorization", "x-csrftoken"} & headers


def test_a_book_openbd_does_not_know_comes_from_ndl_search(client, clerk, books):
    login(client, clerk)
    answer = ask(client, BOTCHAN).json()
    assert answer["found"] is True
    assert (answer["title"], answer["author"], answer["publisher"]) == (
        "坊っちゃん",
        "夏目漱石 著",
        "岩波書店",
    )
    assert [r["path"] for r in books.requests] == ["/openbd", "/ndl"]


def test_a_book_found_once_is_answered_from_the_cache_which_keeps_it_sealed(client, clerk, books):
    login(client, clerk)
    ask(client, NINGEN_SHIKKAKU)
    books.requests.clear()
    assert ask(client, NINGEN_SHIKKAKU).json()["title"] == "人間失格"
    assert books.requests == []
    row = BookInfo.objects.get()
    stored = bytes(row.sealed) + row.isbn_hash.encode()
    assert "人間失格".encode() not in stored and NINGEN_SHIKKAKU.encode() not in stored


def test_a_miss_says_so_and_the_clerk_types_the_details(client, clerk, books):
    login(client, clerk)
    answer = ask(client, UNKNOWN).json()
    assert answer["found"] is False
    assert answer["message"] == (
        "このISBNの本は見つかりませんでした。書名・著者・出版社を入力してください。"
    )
    assert BookInfo.objects.count() == 0


def test_offline_the_lookup_gives_up_quickly_and_says_so(client, clerk, settings):
    settings.BOOKSHOP_ISBN_LOOKUP = True
    settings.BOOKSHOP_ISBN_OPENBD_URL = f"http://127.0.0.1:{free_port()}/openbd"
    settings.BOOKSHOP_ISBN_NDL_URL = f"http://127.0.0.1:{free_port()}/ndl"
    login(client, clerk)
    answer = ask(client, NINGEN_SHIKKAKU).json()
    assert answer["found"] is False
    assert "つながりませんでした" in answer["message"]


def test_a_slow_service_is_not_waited_for_beyond_the_timeout(client, clerk, settings):
    settings.BOOKSHOP_ISBN_TIMEOUT = 1
    with FakeBookServices(delay=3) as slow:
        slow.point(settings)
        login(client, clerk)
        started = time.monotonic()
        answer = ask(client, NINGEN_SHIKKAKU).json()
        took = time.monotonic() - started
    assert answer["found"] is False and "つながりませんでした" in answer["message"]
    assert took < 2.5, took


def test_a_wrong_check_digit_is_refused_with_the_reason(client, clerk, books):
    login(client, clerk)
    response = ask(client, "9784101001341")
    assert response.status_code == 400
    assert "チェック" in response.json()["message"] or "check" in response.json()["message"]
    assert books.requests == []


def test_turned_off_nothing_is_asked(client, clerk, books, settings):
    settings.BOOKSHOP_ISBN_LOOKUP = False
    login(client, clerk)
    answer = ask(client, NINGEN_SHIKKAKU).json()
    assert answer["found"] is False and answer["state"] == "off"
    assert books.requests == []


def test_saving_an_order_with_an_isbn_and_no_title_fills_the_book(client, clerk, customer, books):
    login(client, clerk)
    response = client.post(
        f"/customers/{customer.pk}/orders/new/",
        {"order-isbn": "4-10-100134-0", "order-quantity": "1", "order-deposit_paid": "0"},
    )
    assert response.status_code == 302
    order = readable(SpecialOrder.objects.filter(customer=customer).latest("requested_at"))
    assert (order.title, order.author, order.publisher) == ("人間失格", "太宰治/著", "新潮社")
    assert order.isbn == "978-4-10-100134-0"


def test_saving_an_unknown_isbn_without_a_title_asks_for_the_title(client, clerk, customer, books):
    login(client, clerk)
    before = customer.orders.count()
    response = client.post(
        f"/customers/{customer.pk}/orders/new/",
        {"order-isbn": UNKNOWN, "order-quantity": "1", "order-deposit_paid": "0"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "このISBNの本は見つかりませんでした" in page
    assert 'value="9784062934503"' in page or "978-4-06-293450-3" in page  # kept as typed
    assert customer.orders.count() == before


def test_the_order_form_offers_the_lookup_button_from_a_static_script(client, clerk):
    login(client, clerk)
    page = client.get("/orders/new/?new=1").content.decode()
    assert "ISBNで検索" in page and 'data-isbn-lookup="/books/isbn/"' in page
    assert '<script src="/static/isbn.js" defer></script>' in page
