"""Prepared queries (privacy.prepared): compiled once, they must answer exactly as the ORM
does, on every call, and refuse what would make them answer otherwise."""

import uuid

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from customers import selectors, services
from customers.models import Customer, SpecialOrder
from privacy.access import grants as access
from privacy.access.models import AccessGrant
from privacy.core import prepared
from privacy.vault import datakeys
from tests.conftest import CANARIES, order_data


def test_a_prepared_query_returns_the_rows_the_orm_returns(clerk, order):
    built = datakeys.with_keys(access.visible_customers(clerk).filter(pk=order.customer_id))
    expected = built.get()
    (found,) = selectors._customer(user_id=clerk.pk, pk=order.customer_id)
    assert type(found) is Customer
    assert found.pk == expected.pk
    names = [f.attname for f in Customer._meta.concrete_fields]
    assert [found.__dict__[n] for n in names] == [expected.__dict__[n] for n in names]
    assert found.__dict__["_datakey_wrapped"] == expected.__dict__["_datakey_wrapped"]
    datakeys.adopt_keys([found])
    assert found.family_name == CANARIES["family_name"]


def test_a_prepared_query_fills_select_related_without_another_query(clerk, order):
    with CaptureQueriesContext(connection) as captured:
        (found,) = selectors._order(user_id=clerk.pk, pk=order.pk)
        assert found.customer.pk == order.customer_id
    assert len(captured) == 1
    assert type(found) is SpecialOrder


RECORD = {"purpose": "customer_record", "fields": ["family_name"]}


def test_a_prepared_query_reads_the_database_on_every_call(clerk, outsider_clerk, order):
    """Compiled once, never answered from memory: a revoked grant hides the customer on the
    very next page."""
    assert (
        selectors.get_customer_for_user(clerk, order.customer_id, **RECORD).pk == order.customer_id
    )
    for record in AccessGrant.objects.filter(customer=order.customer):
        access.revoke(record, by=None)
    with pytest.raises(Http404):
        selectors.get_customer_for_user(clerk, order.customer_id, **RECORD)
    with pytest.raises(Http404):
        selectors.get_customer_for_user(outsider_clerk, order.customer_id, **RECORD)


def test_a_hidden_or_malformed_customer_id_answers_404(clerk, outsider_clerk, order):
    with pytest.raises(Http404):
        selectors.get_customer_for_user(outsider_clerk, order.customer_id, **RECORD)
    with pytest.raises(Http404):
        selectors.get_customer_for_user(clerk, "not-a-uuid", **RECORD)
    with pytest.raises(Http404):
        selectors.get_customer_for_user(clerk, uuid.uuid4(), **RECORD)


def test_an_inactive_user_sees_nothing_through_a_prepared_query(clerk, order):
    clerk.is_active = False
    with pytest.raises(Http404):
        selectors.get_customer_for_user(clerk, order.customer_id, **RECORD)
    with pytest.raises(Http404):
        selectors.order_board(clerk)


def test_it_refuses_a_value_of_another_type():
    query = prepared.PreparedQuery(lambda pk: Customer.objects.filter(pk=pk), pk=uuid.UUID)
    with pytest.raises(TypeError, match="pk must be a UUID"):
        query(pk=str(uuid.uuid4()))
    with pytest.raises(TypeError, match="pk must be a UUID"):
        query(pk=None)
    with pytest.raises(TypeError, match="expected"):
        query()


@pytest.mark.django_db
def test_it_refuses_a_parameter_that_never_reaches_the_query():
    query = prepared.PreparedQuery(lambda user_id: User.objects.filter(is_active=True), user_id=int)
    with pytest.raises(TypeError, match="user_id"):
        query(user_id=1)


@pytest.mark.django_db
def test_verify_catches_a_builder_whose_sql_depends_on_the_values(clerk):
    """What the suite runs on (VERIFY): a builder that branches on a value would run the
    kept SQL of another branch; the check compares with the ORM and says so."""
    assert prepared.VERIFY

    def build(user_id):
        users = User.objects.filter(pk=user_id)
        return users.filter(is_active=True) if user_id > 0 else users

    query = prepared.PreparedQuery(build, user_id=int)
    with pytest.raises(AssertionError, match="differs from the ORM"):
        query(user_id=clerk.pk)


@pytest.mark.django_db
def test_datetime_and_date_values_reach_the_query_as_the_orm_prepares_them(clerk, order):
    from datetime import timedelta

    from django.utils import timezone

    from privacy.access.grants import _reading_checks
    from privacy.consent import purposes

    now = timezone.now()
    assert [bool(due) for _rules, due in _reading_checks(user_id=clerk.pk, now=now)] == [False]
    grant = AccessGrant.objects.filter(customer=order.customer).first()
    grant.expires_at = now - timedelta(minutes=1)
    grant.save(update_fields=["expires_at"])
    assert [bool(due) for _rules, due in _reading_checks(user_id=clerk.pk, now=now)] == [True]
    earlier = now - timedelta(minutes=2)
    assert [bool(d) for _rules, d in _reading_checks(user_id=clerk.pk, now=earlier)] == [False]
    assert purposes._notice_in_force(today=timezone.localdate())[0].pk is not None
    assert purposes._notice_in_force(today=timezone.localdate() - timedelta(days=365 * 40)) == []


def test_a_customers_orders_know_their_customer_without_another_query(clerk, order):
    services.order_create(actor=clerk, customer=order.customer, data=order_data())
    with CaptureQueriesContext(connection) as captured:
        orders = selectors.customer_orders(order.customer)
        assert {o.customer.pk for o in orders} == {order.customer_id}
    assert len(orders) == 2
    assert len(captured) == 1
