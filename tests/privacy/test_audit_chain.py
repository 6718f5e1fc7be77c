import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, close_old_connections, connection, transaction

from privacy.audit import chain as audit_chain
from privacy.audit import guard as audit_guard
from privacy.audit import log as audit
from privacy.audit.models import AuditLogEntry, AuditVerification
from privacy.core import context


@pytest.fixture
def checkpoint_file(tmp_path, settings):
    settings.BOOKSHOP_AUDIT_CHECKPOINTS = str(tmp_path / "checkpoints.jsonl")
    return tmp_path / "checkpoints.jsonl"


def some_entries(n=5):
    for i in range(n):
        audit.record("tests.event", data={"i": i})


def raw(sql, params=()):
    audit_guard.remove(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        audit_guard.install(connection)


def verify():
    call_command("verify_audit_log")


def test_an_untouched_log_verifies(order, checkpoint_file, capsys):
    some_entries()
    call_command("audit_checkpoint")
    verify()
    assert "Audit log verified" in capsys.readouterr().out
    assert AuditVerification.objects.latest().ok


def test_entries_are_chained_in_order(order):
    some_entries(3)
    entries = list(AuditLogEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    for previous, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == previous.entry_hash


def test_a_changed_entry_is_named(order, checkpoint_file):
    some_entries()
    target = AuditLogEntry.objects.get(event="tests.event", additional_data__i=2)
    raw(
        "UPDATE privacy_auditlogentry SET additional_data = %s WHERE seq = %s",
        ['{"i": 99}', target.seq],
    )
    with pytest.raises(CommandError, match=rf"entry {target.seq} was changed"):
        verify()
    assert not AuditVerification.objects.latest().ok


def test_a_deleted_entry_is_named(order, checkpoint_file):
    some_entries()
    target = AuditLogEntry.objects.get(event="tests.event", additional_data__i=1)
    raw("DELETE FROM privacy_auditlogentry WHERE seq = %s", [target.seq])
    with pytest.raises(CommandError, match=rf"entry {target.seq} is missing"):
        verify()


def test_a_rewritten_entry_with_a_patched_link_is_still_caught(order, checkpoint_file):
    """An attacker who knows the algorithm rewrites one entry, recomputes its hash and
    patches the next entry's link: the next entry's own hash covers the link, so it shows."""
    from privacy.audit import chain as audit_chain

    some_entries()
    target = AuditLogEntry.objects.get(event="tests.event", additional_data__i=2)
    target.additional_data = {"i": 99}
    forged = audit_chain.entry_hash(target.prev_hash, target)
    raw(
        "UPDATE privacy_auditlogentry SET additional_data = %s, entry_hash = %s WHERE seq = %s",
        ['{"i": 99}', forged, target.seq],
    )
    raw("UPDATE privacy_auditlogentry SET prev_hash = %s WHERE seq = %s", [forged, target.seq + 1])
    with pytest.raises(CommandError, match=rf"entry {target.seq + 1} was changed"):
        verify()


def test_a_cut_off_tail_is_found_through_the_signed_checkpoint(order, checkpoint_file):
    some_entries()
    call_command("audit_checkpoint")
    last = AuditLogEntry.objects.order_by("-seq").first().seq
    raw("DELETE FROM privacy_auditlogentry WHERE seq >= %s", [last - 1])
    with pytest.raises(CommandError, match=r"cut off"):
        verify()


def test_a_forged_checkpoint_is_refused(order, checkpoint_file):
    call_command("audit_checkpoint")
    text = checkpoint_file.read_text().replace('"seq": ', '"seq": 1')
    checkpoint_file.write_text(text)
    with pytest.raises(CommandError, match="bad signature"):
        verify()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE privacy_auditlogentry SET event = 'x'", "DELETE FROM privacy_auditlogentry"],
)
def test_the_database_refuses_to_change_or_delete_log_rows(order, statement):
    """The suite's database as its migrations left it: the test installs nothing itself.
    (tests/test_production_config.py proves the same after `migrate` from zero, and
    outside Django.)"""
    assert audit_guard.missing(connection) == []
    assert AuditLogEntry.objects.exists()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditLogEntry.objects.exclude(event="x").count() == AuditLogEntry.objects.count()


@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_truncate(transactional_audit):
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    some_entries(1)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE privacy_auditlogentry")


def test_the_orm_refuses_to_update_an_entry(order):
    entry = AuditLogEntry.objects.first()
    entry.event = "changed"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()


def _race(writes) -> list:
    """Four threads, each with its own connection, calling ``writes(n)`` at once."""
    errors = []
    start = threading.Barrier(4)

    def writer(n):
        try:
            start.wait()
            writes(n)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_leave_a_chain_that_verifies(transactional_audit, checkpoint_file):
    """Writers inside transactions (a service's change and its event): the chain lock."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers itself; the race needs PostgreSQL")

    def writes(n):
        for i in range(25):
            with transaction.atomic():
                audit.record("tests.concurrent", data={"writer": n, "i": i})

    assert _race(writes) == []
    assert AuditLogEntry.objects.filter(event="tests.concurrent").count() == 100
    verify()


@pytest.mark.django_db(transaction=True)
def test_concurrent_page_reads_leave_a_chain_that_verifies(
    transactional_audit, checkpoint_file, clerk, order
):
    """Read entries of pages, outside any transaction: lock-free, each writer whose head was
    taken by another tries again, and none is lost."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers itself; the race needs PostgreSQL")
    customer = order.customer

    def writes(n):
        for _ in range(25):
            assert not connection.in_atomic_block
            audit.record_reads([customer], actor=clerk, purpose=f"writer-{n}", fields=["phone"])

    before = AuditLogEntry.objects.count()
    assert _race(writes) == []
    assert AuditLogEntry.objects.count() == before + 100
    verify()


@pytest.mark.django_db(transaction=True)
def test_page_reads_never_overtake_a_transactions_writer(
    transactional_audit, checkpoint_file, clerk, order
):
    """Two writers in transactions and two pages at once: the pages wait for the lock in
    their insert, so a transaction (a clerk saving an order) never fails for them."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers itself; the race needs PostgreSQL")
    customer = order.customer

    def writes(n):
        for i in range(25):
            if n % 2:
                audit.record_reads([customer], actor=clerk, purpose="page", fields=["phone"])
            else:
                with transaction.atomic():
                    audit.record("tests.concurrent", data={"writer": n, "i": i})

    before = AuditLogEntry.objects.count()
    assert _race(writes) == []
    assert AuditLogEntry.objects.count() == before + 100
    verify()


def test_a_batch_keeps_each_entrys_own_values_shared_or_not(order, clerk, checkpoint_file):
    """A batch goes in with one value for the columns its entries share and an array for the
    rest (PostgreSQL): each row must still hold its own entry, and the chain verify."""
    customer = order.customer
    batch = [
        audit.event_entry("tests.batch.a", target=customer, actor=clerk, data={"n": 1}),
        audit.event_entry("tests.batch.b", actor=None, data={"n": 2}),
        audit.event_entry("tests.batch.a", target=customer, actor=clerk, data={"n": 1}),
        audit.event_entry("tests.batch.a", target=customer, actor=clerk, data=None),
    ]
    written = audit.record_many(batch)
    assert all(entry.pk for entry in written)
    rows = list(
        AuditLogEntry.objects.filter(event__startswith="tests.batch.")
        .order_by("seq")
        .values_list("pk", "event", "actor_id", "object_pk", "additional_data")
    )
    assert rows == [
        (written[0].pk, "tests.batch.a", clerk.pk, str(customer.pk), {"n": 1}),
        (written[1].pk, "tests.batch.b", None, "", {"n": 2}),
        (written[2].pk, "tests.batch.a", clerk.pk, str(customer.pk), {"n": 1}),
        (written[3].pk, "tests.batch.a", clerk.pk, str(customer.pk), None),
    ]
    verify()


@pytest.mark.django_db(transaction=True)
def test_a_page_whose_head_went_stale_tries_again_and_the_chain_verifies(
    transactional_audit, checkpoint_file, clerk, order
):
    """The customer page reads the chain's head with the customer; when another writer
    appends before the page logs its read, the page's first insert finds its place taken,
    and it reads the head again: on either database, without a lock held in between."""
    from django.utils import timezone

    from customers import selectors

    assert not connection.in_atomic_block
    # The customer page's own query, which reads the head with the customer.
    found = selectors._customer_with_page_facts(
        user_id=clerk.pk, pk=order.customer_id, today=timezone.localdate()
    )
    audit_chain.adopt_head(found)
    stale = context.current().chain_head
    with context.scope():  # another request
        audit.record("tests.in_between", data={"writer": "another request"})
    assert context.current().chain_head == stale
    assert audit_chain.head()[0] == stale[0] + 1
    (entry,) = audit.record_reads(found, actor=clerk, purpose="customer_record", fields=["phone"])
    assert entry.seq == stale[0] + 2
    assert entry.prev_hash == AuditLogEntry.objects.get(event="tests.in_between").entry_hash
    assert context.current().chain_head is None  # a guess serves once
    verify()
