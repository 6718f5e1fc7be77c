import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from customers import selectors
from customers.models import Customer
from privacy.ops import startup
from privacy.vault import datakeys, keyring
from privacy.vault.models import DataKey
from tests.conftest import readable
from tests.customers.test_search import _seed


@pytest.fixture
def own_keyring(tmp_path, settings):
    """Rotation rewrites the keyring file: give each test its own copy."""
    path = tmp_path / "keyring.json"
    keyring.write_new(keyring.parse(path, keyring.load().to_json()))
    settings.BOOKSHOP_KEYRING = str(path)
    yield path
    keyring._CACHE.clear()


def readable_everywhere():
    datakeys._cache().clear()
    for customer in Customer.objects.all():
        customer.__dict__.pop("_data_key", None)
        assert customer.family_name  # decrypts through its (re)wrapped data key


def test_rotation_interrupted_half_way_finishes_on_a_rerun(clerk, own_keyring, capsys):
    _seed(60)
    old = keyring.load().active_kek_id
    call_command("keys", "rotate", "--batch", "10", "--limit", "25")  # stops part-way
    ring = keyring.load()
    assert ring.active_kek_id != old and old in ring.keks
    assert DataKey.objects.filter(kek_id=old).count() == 35
    readable_everywhere()  # half old, half new: everything reads
    startup.verify_keyring()

    with pytest.raises(CommandError, match="still wraps 35"):
        call_command("keys", "retire", old)

    call_command("keys", "rotate", "--batch", "10")  # the rerun continues, adds no key
    assert keyring.load().active_kek_id == ring.active_kek_id
    assert not DataKey.objects.filter(kek_id=old).exists()
    readable_everywhere()
    call_command("keys", "retire", old)
    assert old not in keyring.load().keks
    startup.verify_keyring()
    out = capsys.readouterr().out
    assert "35 remaining" in out and "0 remaining" in out


def test_the_active_key_cannot_be_retired(clerk, own_keyring):
    with pytest.raises(CommandError, match="active"):
        call_command("keys", "retire", keyring.load().active_kek_id)


def test_keys_status_counts_per_key_during_rotation(clerk, own_keyring, capsys):
    _seed(12)
    old = keyring.load().active_kek_id
    call_command("keys", "rotate", "--limit", "5")
    capsys.readouterr()
    call_command("keys", "status")
    out = capsys.readouterr().out
    assert f"{old}: wraps 7 data keys" in out
    assert f"{keyring.load().active_kek_id} (active): wraps 5 data keys" in out


def test_reindex_with_a_new_index_key_keeps_search_working(clerk, own_keyring, settings):
    customers = _seed(40)
    before = Customer.objects.values_list("phone_bidx", flat=True).order_by("pk")
    before = list(before)
    call_command("keys", "reindex", "--new-index-key")
    after = list(Customer.objects.values_list("phone_bidx", flat=True).order_by("pk"))
    assert after != before
    assert [c.pk for c in selectors.find_customers(clerk, phone=customers[7].phone)] == [
        customers[7].pk
    ]
    startup.verify_keyring()


@pytest.mark.django_db(transaction=True)
def test_reads_in_another_connection_work_while_rotation_runs(
    transactional_audit, clerk, own_keyring
):
    _seed(30)  # on SQLite too: the suite's database is a file in WAL mode, as a shop's is
    call_command("keys", "rotate", "--limit", "10")
    seen = []

    def reader():
        from privacy.core import context

        try:
            with context.scope():
                rows = readable(*Customer.objects.all())
                seen.extend(c.family_name for c in rows)
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    call_command("keys", "rotate", "--batch", "5")
    thread.join()
    assert len(seen) == 30 and all(seen)
