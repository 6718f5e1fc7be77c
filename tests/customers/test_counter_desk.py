"""The counter as a new clerk finds it (issue 16): phones typed with a Japanese keyboard's
dashes, a board that pages a busy shop's orders and logs only what it shows, a new customer
who is already registered out of the clerk's sight (an access request, never a second
record), labels instead of codes, the demo's names and readings, `make run PORT=...`."""

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from customers import selectors, services, validators
from customers.models import Customer
from privacy.access.models import AccessGrant, AccessOutcome, AccessRequest
from privacy.audit.models import AuditLogEntry
from privacy.desks import approvals
from privacy.vault import blind_index, normalize
from tests.conftest import (
    CANARIES,
    TOLD,
    customer_data,
    login,
    make_staff,
    order_data,
    readable,
)

ROOT = Path(__file__).resolve().parents[2]
DASHES = ["ー", "ｰ", "－", "‐", "−", "-"]


def reads(**filters):
    return AuditLogEntry.objects.filter(event="customers.customer.read", **filters)


def _orders(clerk, count, start=0):
    return [
        services.order_create_with_customer(
            notice=TOLD,
            actor=clerk,
            customer_data=customer_data(phone=f"0902222{start + k:04d}", email=""),
            order_data=order_data(),
        )
        for k in range(count)
    ]


# --- Phones typed with a Japanese keyboard ------------------------------------------------


@pytest.mark.parametrize("dash", DASHES)
def test_a_phone_typed_with_any_keyboard_dash_is_one_number(dash):
    typed = f"090{dash}7123{dash}4987"
    assert validators.clean_phone(typed) == "09071234987"
    assert validators.clean_phone(f"０９０{dash}７１２３{dash}４９８７") == "09071234987"
    assert normalize.phone(typed) == "09071234987"
    assert normalize.phone_last4(typed) == "4987"


@pytest.mark.django_db
@pytest.mark.parametrize("dash", DASHES)
def test_the_blind_index_of_a_phone_with_any_dash_is_the_plain_numbers(dash):
    plain = blind_index.lookup(Customer, "phone_bidx", "09071234987")
    assert blind_index.lookup(Customer, "phone_bidx", f"090{dash}7123{dash}4987") == plain


@pytest.mark.parametrize("dash", ["ー", "ｰ", "－", "‐", "−"])
def test_search_by_phone_with_a_japanese_dash_finds_the_customer(client, clerk, customer, dash):
    login(client, clerk)
    response = client.post("/customers/search/", {"phone": f"090{dash}7123{dash}4987"})
    page = response.content.decode()
    assert response.status_code == 200
    assert CANARIES["family_name"] in page
    assert "電話番号は数字だけ" not in page and "A phone number holds digits only" not in page


def test_a_correction_accepts_a_phone_typed_with_a_japanese_dash(client, clerk, customer):
    login(client, clerk)
    response = client.post(
        f"/customers/{customer.pk}/edit/",
        {
            **customer_data(phone="080ー1111ー2222", email=""),
            "preferred_contact": "phone",
            "version": customer.version,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    customer.refresh_from_db()
    readable(customer)
    assert customer.phone == "08011112222"


# --- The board, paged and filtered ---------------------------------------------------------


def test_the_board_shows_at_most_fifty_and_logs_reads_only_for_those(client, clerk):
    orders = _orders(clerk, selectors.BOARD_PAGE_SIZE + 5)
    login(client, clerk)
    before = reads().count()
    first = client.get("/board/").content.decode()
    assert first.count('class="order-card"') == selectors.BOARD_PAGE_SIZE
    assert reads().count() - before == selectors.BOARD_PAGE_SIZE
    shown = set(re.findall(r'id="order-([0-9a-f-]{36})"', first))
    logged = {e.object_pk for e in reads().order_by("-seq")[: selectors.BOARD_PAGE_SIZE]}
    customers_shown = {str(o.customer_id) for o in orders if str(o.pk) in shown}
    assert logged == customers_shown
    assert "注文 55 件中 1–50 件目" in first
    assert 'href="?page=2"' in first

    before = reads().count()
    second = client.get("/board/?page=2").content.decode()
    assert second.count('class="order-card"') == 5
    assert reads().count() - before == 5
    assert not shown & set(re.findall(r'id="order-([0-9a-f-]{36})"', second))
    # A page past the end shows the last one, not an error.
    assert client.get("/board/?page=99").content.decode().count('class="order-card"') == 5


def test_the_board_filters_by_status_arrival_day_and_my_orders(client, clerk):
    colleague = make_staff("colleague", "clerk", counter=True)
    mine = _orders(clerk, 3)
    theirs = _orders(colleague, 2, start=10)
    for order in (mine[0], theirs[0]):
        services.order_mark_ordered(actor=clerk, order_id=order.pk)
        services.order_mark_arrived(actor=clerk, order_id=order.pk)
    login(client, clerk)

    def cards(url):
        return set(re.findall(r'id="order-([0-9a-f-]{36})"', client.get(url).content.decode()))

    assert cards("/board/?mine=on") == {str(o.pk) for o in mine}
    assert cards("/board/?status=arrived") == {str(mine[0].pk), str(theirs[0].pk)}
    today = timezone.localdate()
    arrived_today = {str(mine[0].pk), str(theirs[0].pk)}
    assert cards(f"/board/?arrived={today.isoformat()}") == arrived_today
    assert cards(f"/board/?arrived={(today - timedelta(days=1)).isoformat()}") == set()
    assert cards("/board/?status=arrived&mine=on") == {str(mine[0].pk)}
    page = client.get("/board/?status=arrived").content.decode()
    assert 'id="col-requested"' not in page and 'id="col-arrived"' in page
    # A filter that does not parse is ignored, not a server error.
    assert client.get("/board/?arrived=yesterday&page=x&status=zzz").status_code == 200


def test_an_order_step_from_a_filtered_page_returns_to_that_page(client, clerk):
    order = _orders(clerk, 1)[0]
    login(client, clerk)
    page = client.get("/board/?mine=on").content.decode()
    assert 'name="next" value="/board/?mine=on"' in page
    response = client.post(
        f"/orders/{order.pk}/ordered/", {"version": order.version, "next": "/board/?mine=on"}
    )
    assert response["Location"] == "/board/?mine=on"


def test_the_pickup_list_keeps_numbers_and_names_on_one_line(client, clerk, order):
    services.order_mark_ordered(actor=clerk, order_id=order.pk)
    services.order_mark_arrived(actor=clerk, order_id=order.pk)
    login(client, clerk)
    response = client.post("/print/pickup-list/", follow=True)
    page = response.content.decode()
    for cell in ("ref", "name", "phone"):
        assert f'<td class="{cell}">' in page
    css = (ROOT / "bookshop" / "static" / "shiori.css").read_text()
    assert re.search(
        r"\.print-table td\.ref, \.print-table td\.phone, \.print-table td\.name[^{]*\{[^}]*white-space: nowrap",
        css,
    )
    assert re.search(
        r"\.order-card \.actions label, \.order-card \.actions button[^{]*\{[^}]*white-space: nowrap",
        css,
    )
    assert 'style="' not in page


# --- The new-customer form and duplicates --------------------------------------------------


def test_the_new_customer_form_shows_only_when_asked_or_when_nobody_was_found(
    client, clerk, customer
):
    login(client, clerk)
    assert 'name="customer-family_name"' not in client.get("/orders/new/").content.decode()
    assert 'name="customer-family_name"' in client.get("/orders/new/?new=1").content.decode()
    found = client.post("/orders/new/", {"action": "search", "phone": CANARIES["phone"]})
    assert CANARIES["family_name"] in found.content.decode()
    assert 'name="customer-family_name"' not in found.content.decode()
    missed = client.post("/orders/new/", {"action": "search", "phone": "080ー5555ー6666"})
    page = missed.content.decode()
    assert 'name="customer-family_name"' in page
    assert 'value="08055556666"' in page  # the number searched starts the form


def _new_order_post(**customer):
    data = {"action": "create", "notice-method": "screen"}
    fields = customer_data(email="", preferred_contact="phone", **customer)
    data.update({f"customer-{name}": value for name, value in fields.items()})
    data.update({f"order-{name}": value for name, value in order_data().items()})
    return data


def test_a_hidden_duplicate_files_an_access_request_instead_of_a_second_customer(
    client, outsider_clerk, manager, customer
):
    login(client, outsider_clerk)
    before = Customer.objects.count()
    response = client.post(
        "/orders/new/",
        _new_order_post(phone="090ー7123ー4987", family_name_kana="かなりあせい"),
        follow=True,
    )
    page = response.content.decode()
    assert Customer.objects.count() == before  # no second record
    request = AccessRequest.objects.get()
    assert request.customer_id == customer.pk and request.requested_by == outsider_clerk
    assert request.outcome == AccessOutcome.PENDING
    assert request.reference in page and "閲覧申請" in page
    for name in ("given_name", "email", "address", "notes"):  # nothing of the other record
        assert CANARIES[name] not in page
    assert str(customer.pk) not in page and customer.reference not in page
    assert not reads(actor=outsider_clerk).exists()
    filed = AuditLogEntry.objects.get(event="privacy.access_request.filed")
    assert filed.actor == outsider_clerk

    # Asking again does not pile up requests.
    client.post("/orders/new/", _new_order_post(family_name_kana="カナリアセイ"))
    assert AccessRequest.objects.count() == 1

    # The manager finds it in the approvals inbox and grants it.
    waiting = [w for w in approvals.waiting_for(manager) if w.kind == "access_request"]
    assert [w.url for w in waiting] == [f"/manager/access-requests/{request.pk}/"]
    assert not [w for w in approvals.waiting_for(outsider_clerk) if w.kind == "access_request"]
    login(client, manager)
    detail = client.get(waiting[0].url).content.decode()
    assert request.reference in detail and CANARIES["family_name"] not in detail
    client.post(f"/manager/access-requests/{request.pk}/grant/", {"ends": "7"})
    request.refresh_from_db()
    assert request.outcome == AccessOutcome.GRANTED and request.decided_by == manager
    grant = AccessGrant.objects.get(pk=request.grant_id)
    assert grant.user == outsider_clerk and grant.granted_by == manager and grant.expires_at
    assert AuditLogEntry.objects.filter(event="privacy.access_request.granted").exists()
    assert AuditLogEntry.objects.filter(event="privacy.access.granted", actor=manager).exists()

    # Now the clerk finds the customer and takes the order from that record.
    login(client, outsider_clerk)
    found = client.post("/customers/search/", {"phone": "090ー7123ー4987"}).content.decode()
    assert CANARIES["family_name"] in found


def test_the_manager_refuses_an_access_request_and_the_clerk_still_sees_nothing(
    client, outsider_clerk, manager, customer
):
    login(client, outsider_clerk)
    client.post("/orders/new/", _new_order_post())
    request = AccessRequest.objects.get()
    login(client, manager)
    client.post(f"/manager/access-requests/{request.pk}/refuse/")
    request.refresh_from_db()
    assert request.outcome == AccessOutcome.REFUSED and request.grant is None
    assert AuditLogEntry.objects.filter(event="privacy.access_request.refused").exists()
    assert not [w for w in approvals.waiting_for(manager) if w.kind == "access_request"]
    # Decided once: a second decision is refused.
    client.post(f"/manager/access-requests/{request.pk}/grant/")
    assert not AccessGrant.objects.filter(user=outsider_clerk).exists()
    login(client, outsider_clerk)
    assert client.get(f"/customers/{customer.pk}/").status_code == 404


def test_a_clerk_cannot_decide_an_access_request(client, outsider_clerk, clerk, customer):
    login(client, outsider_clerk)
    client.post("/orders/new/", _new_order_post())
    request = AccessRequest.objects.get()
    login(client, clerk)
    assert client.post(f"/manager/access-requests/{request.pk}/grant/").status_code == 403
    assert client.get(f"/manager/access-requests/{request.pk}/").status_code == 403


def test_a_visible_duplicate_is_not_saved_twice_either(client, clerk, customer):
    login(client, clerk)
    before = Customer.objects.count()
    response = client.post("/orders/new/", _new_order_post(phone="090－7123－4987"))
    assert response.status_code == 200
    assert Customer.objects.count() == before
    assert "すでに登録されています" in response.content.decode()
    assert not AccessRequest.objects.exists()


def test_the_same_phone_with_another_reading_is_a_new_customer(client, outsider_clerk, customer):
    login(client, outsider_clerk)
    before = Customer.objects.count()
    response = client.post("/orders/new/", _new_order_post(family_name_kana="ベツジン"))
    assert response.status_code == 302
    assert Customer.objects.count() == before + 1
    assert not AccessRequest.objects.exists()


# --- Labels instead of codes ---------------------------------------------------------------


def test_the_customer_page_names_purposes_and_teams_in_japanese(client, clerk, manager):
    order = services.order_create_with_customer(
        notice={"method": "screen", "choices": {"new_release_info": False}},
        actor=clerk,
        customer_data=customer_data(),
        order_data=order_data(),
    )
    login(client, manager)
    page = client.get(f"/customers/{order.customer_id}/").content.decode()
    assert "new_release_info" not in page
    assert "チーム: counter" not in page and "カウンター担当" in page
    assert '<option value="' in page and ">clerk<" not in page and ">counter<" not in page


def test_the_staff_list_names_roles_and_teams_in_japanese(client, administrator):
    from django.urls import reverse

    make_staff("tanaka", "clerk", counter=True)
    login(client, administrator)
    page = client.get(reverse("staff_list")).content.decode()
    assert "clerk, counter" not in page
    assert "カウンター担当" in page and "店員" in page


# --- The demo ------------------------------------------------------------------------------


def test_demo_customers_have_the_reading_of_their_own_name(db):
    from faker.providers.person.ja_JP import Provider

    from customers import demo

    demo.ensure_staff()
    demo.seed_customers(8, seed=3)
    family_pairs = {(p[0], p[1]) for p in Provider.last_name_pairs}
    given_pairs = {(p[0], p[1]) for p in Provider.first_name_pairs}
    customers = list(Customer.objects.all())
    readable(*customers)
    assert len(customers) == 8
    for c in customers:
        assert (c.family_name, c.family_name_kana) in family_pairs
        assert (c.given_name, c.given_name_kana) in given_pairs


# --- make run ------------------------------------------------------------------------------


def _make_n(*args) -> str:
    return subprocess.run(
        ["make", "-n", "run", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_make_run_takes_a_port_and_says_the_real_url():
    out = _make_n("PORT=8010")
    assert "runserver --insecure 127.0.0.1:8010" in out
    assert "http://127.0.0.1:8010" in out
    assert ":8000" not in out
    default = _make_n()
    assert "127.0.0.1:8000" in default


def test_the_demo_runs_without_debug_and_keeps_production_defaults_secure():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile[makefile.index("run: export") : makefile.index("test: $(STAMP)")]
    assert "run: export DJANGO_DEBUG = 0" in run and "DJANGO_DEBUG = 1" not in run
    assert "DJANGO_SECRET_KEY_FILE" in run and "secrets.token_urlsafe(64)" in run
    assert "umask 077" in run
    from django.conf import settings

    assert settings.SESSION_COOKIE_SECURE  # the suite runs the production settings
