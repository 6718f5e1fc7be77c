"""The customer page tells the clerk whether the customer must be told the purposes again:
never when told under the notice in force, always when never told, and again when a newer
notice adds a purpose."""

import datetime

from django.utils import timezone

from privacy.consent import purposes
from tests.conftest import login

BANNER = "This customer has not been told the current purposes."


def _page(client, customer) -> str:
    client.cookies["django_language"] = "en"
    response = client.get(f"/customers/{customer.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def _publish(manager, *, extra_purpose: bool, effective_from=None):
    codes = list(purposes.DEFAULT_PURPOSES)
    if extra_purpose:
        codes.append({"code": "reading_club", "ja": "読書会のご案内", "en": "Reading club news"})
    return purposes.publish_notice(
        by=manager,
        text_ja=purposes.DEFAULT_TEXT_JA,
        text_en=purposes.DEFAULT_TEXT_EN,
        purposes=codes,
        effective_from=effective_from or timezone.localdate(),
    )


def test_a_customer_told_under_the_notice_in_force_needs_no_notice(client, clerk, customer):
    assert BANNER not in _page(login(client, clerk), customer)


def test_a_customer_never_told_is_flagged(client, clerk, customer):
    customer.notice_records.all().delete()
    assert BANNER in _page(login(client, clerk), customer)


def test_a_new_notice_with_a_new_purpose_flags_the_customer_again(client, clerk, manager, customer):
    login(client, clerk)
    _publish(manager, extra_purpose=False)  # the same purposes, new wording
    assert BANNER not in _page(client, customer)
    later = _publish(
        manager, extra_purpose=True, effective_from=timezone.localdate() + datetime.timedelta(1)
    )
    assert BANNER not in _page(client, customer)  # not in force yet
    assert later.version == 3
    _publish(manager, extra_purpose=True)
    assert BANNER in _page(client, customer)
