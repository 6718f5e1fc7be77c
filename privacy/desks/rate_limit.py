"""The public request form's hourly limit per address, held when forms arrive together.

Counting first and inserting later lets every one of a burst of simultaneous submissions
see the same count and all get through. Here the count and the insert happen in one
transaction that first takes a lock for the address: a PostgreSQL advisory lock held to the
end of the transaction (as the audit chain does; a submission from another address does not
wait), or SQLite's write lock, which its transactions take at BEGIN (``transaction_mode``
IMMEDIATE, set by ``bookshop.env.database_from_url``). The next submission from the address
counts after the previous one committed, so exactly the limit gets through.

The count comes from the audit log (``requests.received_recently_from``): no address is kept
with the request itself."""

import hashlib
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from privacy.desks import requests


class Limited(Exception):
    """This address sent its forms for the hour."""


def _lock_id(name: str) -> int:
    digest = hashlib.sha256(f"shiori rate limit: {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _serialize(name: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Inside a transaction: wait until no other transaction holds the lock ``name``."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(name)])
    elif connection.vendor == "sqlite":
        mode = (connection.settings_dict.get("OPTIONS") or {}).get("transaction_mode")
        if str(mode).upper() != "IMMEDIATE":
            raise ImproperlyConfigured(
                "SQLite must begin transactions IMMEDIATE (OPTIONS transaction_mode), or "
                "simultaneous public forms could pass the hourly limit together."
            )
    else:
        raise ImproperlyConfigured(f"No rate-limit lock for the {connection.vendor} database.")


@contextmanager
def public_form(address: str | None):
    """A transaction in which this address may send one more public form: raises
    ``Limited`` when it sent ``BOOKSHOP_PUBLIC_FORM_PER_HOUR`` in the last hour. Receive the
    form inside the block, so that its audit entry (what the next count sees) commits with
    it."""
    with transaction.atomic():
        _serialize(f"public_request:{address or ''}")
        if requests.received_recently_from(address) >= settings.BOOKSHOP_PUBLIC_FORM_PER_HOUR:
            raise Limited
        yield
