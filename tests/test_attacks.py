"""The app under attack: id tampering, forged cross-site posts, hostile input."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from customers import services
from customers.models import Customer
from privacy.access import grants as access
from tests.conftest import TOLD, customer_data, login, order_data, path_for

HOSTILE = [
    "<script>alert('x')</script>",
    "'; DROP TABLE customers_customer; --",
    "\u202eエリカ\u202c",  # right-to-left override
    "本😀📚",
    "ｶﾀｶﾅ と ひらがな と 全角ＡＢＣ",
    '" onmouseover="alert(1)',
    "{{ request }} {% debug %}",
]


@pytest.fixture
def two_customers(clerk, outsider_clerk):
    """One customer the clerk may see, one only the outsider may see."""
    mine = services.order_create_with_customer(
        notice=TOLD, actor=clerk, customer_data=customer_data(), order_data=order_data()
    )
    theirs = services.order_create_with_customer(
        notice=TOLD,
        actor=outsider_clerk,
        customer_data=customer_data(phone="08099990000"),
        order_data=order_data(),
    )
    for grant in access.active_grants(theirs.customer).filter(group__isnull=False):
        access.revoke(grant, by=None)
    return mine, theirs


def id_taking_urls():
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(
                    entry.url_patterns, f"{prefix}{entry.namespace}:" if entry.namespace else prefix
                )
            elif isinstance(entry, URLPattern) and entry.pattern.converters:
                yield f"{prefix}{entry.name}"

    return set(walk(get_resolver().url_patterns))


TAMPER = {
    # url name: (persona, method, path template using the other side's ids)
    "customers:customer_detail": ("clerk", "get", "/customers/{customer}/"),
    "customers:customer_edit": ("clerk", "post", "/customers/{customer}/edit/"),
    "customers:order_new_for_customer": ("clerk", "post", "/customers/{customer}/orders/new/"),
    "customers:order_transition": ("clerk", "post", "/orders/{order}/ordered/"),
    "privacy:access_grant": ("manager", "post", "/customers/{customer}/access/grant/"),
    "privacy:access_revoke": ("manager", "post", "/access/{grant}/revoke/"),
    "staff_action": ("administrator", "post", "/staff/999999/deactivate/"),
    "privacy:request_detail": ("manager", "get", "/requests/00000000-0000-4000-8000-000000000000/"),
    "privacy:request_action": (
        "manager",
        "post",
        "/requests/00000000-0000-4000-8000-000000000000/start/",
    ),
    # A guessed or used token: gone (410), the same answer as for a real one already used.
    "disclosure_download": ("clerk", "post", "/privacy/disclosure/guessed-token/"),
    "customers:customer_confirm": ("clerk", "post", "/customers/{customer}/confirm/"),
    "privacy:request_correct": (
        "manager",
        "get",
        "/requests/00000000-0000-4000-8000-000000000000/correct/",
    ),
    "privacy:retention_batch": (
        "manager",
        "get",
        "/manager/retention/00000000-0000-4000-8000-000000000000/",
    ),
    "privacy:retention_action": (
        "manager",
        "post",
        "/manager/retention/00000000-0000-4000-8000-000000000000/approve/",
    ),
    "privacy:export_detail": (
        "manager",
        "get",
        "/manager/exports/00000000-0000-4000-8000-000000000000/",
    ),
    "privacy:export_action": (
        "manager",
        "post",
        "/manager/exports/00000000-0000-4000-8000-000000000000/download/",
    ),
    "customers:print_order_slip": ("clerk", "post", "/print/orders/{order}/slip/"),
    # A guessed setup link (issue 15): not found, whoever asks.
    "account_setup_link": ("clerk", "get", "/account/setup/guessed-token/"),
    # Another printer's job: tests/customers/test_printing.py opens a real one.
    "customers:print_job": ("clerk", "get", "/print/00000000-0000-4000-8000-000000000000/"),
    "privacy:provision_new": ("clerk", "post", "/customers/{customer}/third-party/new/"),
    # A hidden customer's record: tests/privacy/test_third_party.py tries a real one.
    "privacy:provision_action": (
        "clerk",
        "post",
        "/third-party/00000000-0000-4000-8000-000000000000/approve_delete/",
    ),
    "incidents:incident_detail": (
        "manager",
        "get",
        "/manager/incidents/00000000-0000-4000-8000-000000000000/",
    ),
    "incidents:incident_edit": (
        "manager",
        "post",
        "/manager/incidents/00000000-0000-4000-8000-000000000000/edit/",
    ),
    "incidents:incident_action": (
        "manager",
        "post",
        "/manager/incidents/00000000-0000-4000-8000-000000000000/close/",
    ),
    # Another clerk's order's arrival notice: resent or marked phoned by nobody else.
    "customers:order_notice": ("clerk", "post", "/orders/{order}/notice/resend/"),
    # Ids of records nobody has (guessed): not found, as for the manager's other pages.
    "privacy:access_request": ("manager", "get", "/manager/access-requests/999999/"),
    "privacy:access_request_action": ("manager", "post", "/manager/access-requests/999999/grant/"),
    "privacy:contractor": ("manager", "post", "/manager/contractors/999999/"),
    "privacy:terminal_revoke": (
        "manager",
        "post",
        "/terminals/00000000-0000-4000-8000-000000000000/revoke/",
    ),
    # A proposal one may not decide does not exist for them: tests/privacy/test_second_person.py
    # tries a real one.
    "privacy:confirmation": ("clerk", "get", "/confirmations/999999/"),
    "privacy:confirmation_action": ("clerk", "post", "/confirmations/999999/confirm/"),
}


def test_every_view_that_takes_an_id_is_in_the_tampering_table():
    assert id_taking_urls() == set(TAMPER)


@pytest.mark.parametrize("name", sorted(TAMPER))
def test_another_customers_id_answers_404(request, two_customers, manager, name):
    _mine, theirs = two_customers
    persona, method, template = TAMPER[name]
    client = login(Client(), request.getfixturevalue(persona))
    grant = access.active_grants(theirs.customer).first()
    path = template.format(customer=theirs.customer_id, order=theirs.pk, grant=grant.pk)
    before = theirs.customer.version
    response = getattr(client, method)(path, {"reason": "x", "user": manager.pk, "version": 1})
    assert response.status_code == (410 if name == "disclosure_download" else 404)
    theirs.refresh_from_db()
    assert theirs.status == "requested"
    assert Customer.objects.get(pk=theirs.customer_id).version == before


POST_URLS = [
    ("clerk", "/orders/new/"),
    ("clerk", "/customers/search/"),
    ("clerk", "/shipments/"),
    ("clerk", "/customers/{customer}/edit/"),
    ("clerk", "/customers/{customer}/orders/new/"),
    ("clerk", "/orders/{order}/ordered/"),
    ("manager", "/customers/{customer}/access/grant/"),
    ("manager", "/access/{grant}/revoke/"),
    ("manager", "/manager/find/"),
    ("manager", "/manager/hours/"),
    ("manager", "/rules/edit/"),
    ("manager", "/manager/notices/"),
    ("clerk", "/requests/new/"),
    ("manager", "/requests/{request}/start/"),
    (None, "/privacy/request/"),
    (None, "/privacy/disclosure/some-token/"),
    ("clerk", "/customers/{customer}/confirm/"),
    ("manager", "/requests/{request}/correct/"),
    ("manager", "/manager/retention/"),
    ("manager", "/manager/retention/00000000-0000-4000-8000-000000000000/approve/"),
    ("manager", "/manager/exports/"),
    ("manager", "/manager/exports/00000000-0000-4000-8000-000000000000/approve/"),
    ("administrator", "/staff/"),
    ("administrator", "/staff/{staff}/end_sessions/"),
    ("clerk", "/account/2fa/setup/"),
    (None, "/account/setup/"),
    ("clerk", "/account/reauth/"),
    ("clerk", "/account/2fa/verify/"),
    ("clerk", "/rules/"),
    ("clerk", "/logout/"),
    (None, "/login/"),
    (None, "/i18n/setlang/"),
    ("clerk", "/print/pickup-list/"),
    ("clerk", "/print/orders/{order}/slip/"),
    ("clerk", "/customers/{customer}/third-party/new/"),
    ("manager", "/third-party/{provision}/propose_delete/"),
    ("manager", "/manager/incidents/new/"),
    ("manager", "/manager/incidents/{incident}/edit/"),
    ("manager", "/manager/incidents/{incident}/close/"),
    ("clerk", "/orders/{order}/notice/resend/"),
    ("clerk", "/books/isbn/"),
    ("clerk", "/account/password/"),
    ("manager", "/manager/access-requests/{access_request}/grant/"),
    ("administrator", "/audit/verify/"),
    ("manager", "/manager/access-review/"),
    ("manager", "/manager/contractors/"),
    ("manager", "/manager/contractors/{contractor}/"),
    ("manager", "/manager/training/"),
    ("administrator", "/staff/contractors/"),
    ("manager", "/terminals/register/"),
    ("manager", "/terminals/00000000-0000-4000-8000-000000000000/revoke/"),
    ("manager", "/confirmations/999999/confirm/"),
]


@pytest.mark.parametrize(("persona", "template"), POST_URLS)
def test_every_post_without_a_csrf_token_is_refused(request, order, persona, template):
    client = Client(enforce_csrf_checks=True)
    if persona:
        login(client, request.getfixturevalue(persona))
    response = client.post(
        path_for(template, order), {"reason": "x", "phone": "09012345678", "language": "en"}
    )
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == "requested"


def test_every_post_url_of_the_project_is_in_the_csrf_list():
    """Views that accept POST: a new one must be added to POST_URLS above."""
    names = {
        "customers:order_new",
        "customers:customer_search",
        "customers:shipment",
        "customers:customer_edit",
        "customers:order_new_for_customer",
        "customers:order_transition",
        "privacy:access_grant",
        "privacy:access_revoke",
        "privacy:find_any_customer",
        "privacy:hours_override",
        "rules_edit",
        "staff_list",
        "staff_action",
        "privacy:notices",
        "privacy:counter_request",
        "privacy:request_action",
        "public_request",
        "disclosure_download",
        "customers:customer_confirm",
        "privacy:request_correct",
        "privacy:retention",
        "privacy:retention_action",
        "privacy:exports",
        "privacy:export_action",
        "two_factor_setup",
        "account_setup",
        "reauth",
        "two_factor_verify",
        "rules_acknowledge",
        "logout",
        "login",
        "set_language",
        "customers:print_pickup_list",
        "customers:print_order_slip",
        "privacy:provision_new",
        "privacy:provision_action",
        "incidents:incident_new",
        "incidents:incident_edit",
        "incidents:incident_action",
        "customers:order_notice",
        "customers:isbn_lookup",
        "password_change",
        "privacy:access_request_action",
        "privacy:audit_verify",
        "privacy:access_review",
        "privacy:contractors",
        "privacy:contractor",
        "privacy:training",
        "privacy:contractor_staff",
        "privacy:terminal_register",
        "privacy:terminal_revoke",
        "privacy:confirmation_action",
    }
    read_only = {
        "customers:print_job",
        "customers:print_log",
        "privacy:provision_list",
        "privacy_notice",
        "privacy:request_board",
        "privacy:request_detail",
        "privacy:counter_request_received",
        "privacy:approvals",
        "home",
        "customers:board",
        "customers:customer_detail",
        "privacy:audit_log",
        "privacy:audit_export",
        "privacy:retention_batch",
        "privacy:export_detail",
        "account_setup_link",
        "incidents:register",
        "incidents:incident_detail",
        "password_change_done",
        "privacy:access_requests",
        "privacy:access_request",
        "privacy:confirmation",
        "privacy:terminals",
    }

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(
                    entry.url_patterns, f"{prefix}{entry.namespace}:" if entry.namespace else prefix
                )
            else:
                yield f"{prefix}{entry.name}"

    assert set(walk(get_resolver().url_patterns)) == names | read_only
    assert len(POST_URLS) == len(names)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_come_back_escaped_and_intact(client, clerk, customer, value):
    from tests.customers.test_concurrent_edits import edit_form

    login(client, clerk)
    loaded = Customer.objects.get(pk=customer.pk)
    response = client.post(
        f"/customers/{customer.pk}/edit/", edit_form(loaded, notes=value, address=value)
    )
    assert response.status_code == 302
    response = client.post(
        f"/customers/{customer.pk}/orders/new/",
        {
            "order-title": value,
            "order-author": value,
            "order-quantity": "1",
            "order-deposit_paid": "0",
        },
    )
    assert response.status_code == 302
    from django.utils.html import escape

    from privacy.vault import normalize

    expected = normalize.text(value)  # width and kana normalized (NFKC), nothing else changed
    saved = Customer.objects.get(pk=customer.pk)
    assert saved.notes == expected and saved.address == expected
    assert saved.orders.latest("requested_at").title == expected
    html = client.get(f"/customers/{customer.pk}/").content.decode()
    assert escape(expected) in html
    if "<" in value or '"' in value:
        assert value not in html  # never raw
