"""Issue 14: an erasure is final in every copy by a stated date. The schedule is run forward
with the clock moved (keys rotate, backup --prune, keys retire of the old epoch key), and the
old backup, kept "off site", no longer yields the erased customer's data with the keyring as
it then is, while a backup taken after the erasure restores fine."""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from customers import services
from privacy.desks import erasure
from privacy.ops import backup, erasure_date, restore, rotation
from privacy.vault import keyring
from tests.conftest import TOLD, customer_data, order_data, raw_connection


@pytest.fixture
def own_keys(tmp_path, settings):
    """A copy of the suite's keyring that this test may rotate and retire, its own backup
    folder, ledger and checkpoint file."""
    ring = tmp_path / "keys" / "keyring.json"
    ring.parent.mkdir()
    shutil.copy(keyring.keyring_path(), ring)
    ring.chmod(0o600)
    settings.BOOKSHOP_KEYRING = str(ring)
    settings.BOOKSHOP_BACKUP_DIR = str(tmp_path / "backups")
    settings.BOOKSHOP_ERASURE_LEDGER = str(tmp_path / "erasure-ledger.jsonl")
    settings.BOOKSHOP_AUDIT_CHECKPOINTS = str(tmp_path / "audit-checkpoints.jsonl")
    settings.BOOKSHOP_KEY_ROTATE_DAYS = 30
    settings.BOOKSHOP_BACKUP_KEEP_DAYS = 35
    keyring._CACHE.clear()
    yield ring
    keyring._CACHE.clear()


def _env(tmp_path, ring):
    return {
        "BOOKSHOP_KEYRING": str(ring),
        "BOOKSHOP_BACKUP_DIR": str(tmp_path / "backups"),
        "BOOKSHOP_ERASURE_LEDGER": str(tmp_path / "erasure-ledger.jsonl"),
        "BOOKSHOP_AUDIT_CHECKPOINTS": str(tmp_path / "audit-checkpoints.jsonl"),
    }


def _people(clerk):
    leaving = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(phone="08011112222", family_name="去る人Qq"),
        order_data=order_data(),
    )
    staying = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(phone="08033334444", family_name="残る人Ww"),
        order_data=order_data(),
    )
    services.order_cancel(actor=clerk, order_id=leaving.pk, reason="erasure")
    return leaving.customer, staying.customer


@pytest.mark.django_db(transaction=True)
def test_the_schedule_makes_an_erasure_final_in_every_backup_by_its_date(
    transactional_audit, clerk, manager, own_keys, tmp_path, new_database, manage
):
    leaving, staying = _people(clerk)
    start = timezone.now()
    old_kek = keyring.load().active_kek_id

    old = backup.create(now=start)  # the nightly backup, before the erasure
    offsite = tmp_path / "offsite" / "old.backup"
    offsite.parent.mkdir()
    shutil.copy(old["path"], offsite)  # a copy that left the shop: pruning never reaches it

    erasure.erase_customer(leaving, by=manager)
    status = erasure_date.erasure_status(leaving)
    assert status.erased_at is not None
    # The old epoch's key can go once its epoch's backups expire: epoch end + keep days.
    epoch_end = max(keyring.load().created_at(old_kek) + timedelta(days=30), status.erased_at)
    final = epoch_end + timedelta(days=35)
    assert old_kek in [k.key_id for k in status.keys]
    assert status.unreadable_in_backups_from == (
        timezone.localtime(final).date() + timedelta(days=1)
    )
    assert status.unreadable_in_backups_from >= timezone.localdate(start) + timedelta(days=35)
    assert erasure_date.backup_horizon() >= status.unreadable_in_backups_from
    assert not status.overdue

    # The next epoch: the key is rotated on schedule; the old backup still needs the old key.
    with time_machine.travel(epoch_end + timedelta(hours=1), tick=False):
        assert rotation.rotate().remaining == 0
        assert keyring.load().active_kek_id != old_kek
        with pytest.raises(rotation.RotationError, match="still need"):
            rotation.retire(old_kek)

    # Its backups expired: prune, and the status now says the retirement is overdue.
    with time_machine.travel(final + timedelta(hours=2), tick=False):
        assert Path(old["path"]) in backup.prune()
        overdue = erasure_date.erasure_status(leaving)
        assert [k.key_id for k in overdue.overdue] == [old_kek]
        with pytest.raises(Exception, match=f"keys retire {old_kek}"):
            call_command("erasure", "status", leaving.reference)
        rotation.retire(old_kek)
        done = erasure_date.erasure_status(leaving)
        gone = next(k for k in done.keys if k.key_id == old_kek)
        assert not done.overdue and not gone.in_keyring
        assert done.unreadable_in_backups_from == timezone.localdate() + timedelta(days=1)
        after = backup.create()  # a backup taken after the erasure

    # The off-site copy of the old backup, with the keyring as it now is: the file opens (its
    # backup key is kept), but the erased customer's data key does not, and nothing restores.
    keyring._CACHE.clear()
    manifest, data = backup.open_backup(offsite)
    engine = manifest["vendor"]
    if engine == "sqlite":
        snapshot = restore._open_sqlite_snapshot(offsite, data)
        try:
            wrapped = {k.subject_id: k for k in restore._sqlite_data_keys(snapshot)}
        finally:
            snapshot.close()
    else:  # a pg_dump: the data-key table's COPY block
        wrapped = {k.subject_id: k for k in restore._dump_data_keys(offsite, data)}
    assert wrapped[leaving.pk].kek_id == old_kek
    with pytest.raises(keyring.KeyringError, match=old_kek):
        keyring.load().kek_aead(wrapped[leaving.pk].kek_id)
    target = new_database(engine)
    refused = manage("restore", str(offsite), url=target, check=False, env=_env(tmp_path, own_keys))
    assert refused.returncode != 0
    assert old_kek in refused.stderr and "retired on" in refused.stderr
    assert "Nothing was loaded" in refused.stderr
    empty = (
        "SELECT name FROM sqlite_master"
        if engine == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    assert not raw_connection(target).execute(empty).fetchall()

    # The backup taken after the erasure restores, and its audit log verifies.
    fresh = new_database(engine)
    done = manage("restore", after["path"], url=fresh, env=_env(tmp_path, own_keys))
    assert "re-applied 0 erasures" in done.stdout
    checked = manage("verify_audit_log", url=fresh, env=_env(tmp_path, own_keys))
    assert "Restored from backup" in checked.stdout
    db = raw_connection(fresh)
    placeholder = "?" if engine == "sqlite" else "%s"
    ident = leaving.pk.hex if engine == "sqlite" else leaving.pk
    try:
        keys = {
            str(row[0]).replace("-", "")
            for row in db.execute("SELECT subject_id FROM privacy_datakey")
        }
        erased = db.execute(
            f"SELECT erased_at, family_name FROM customers_customer WHERE id = {placeholder}",  # noqa: S608
            [ident],
        ).fetchone()
    finally:
        db.close()
    assert staying.pk.hex in keys and leaving.pk.hex not in keys
    assert erased[0] is not None and erased[1] is None


@pytest.mark.django_db(transaction=True)
def test_the_pages_state_the_erasure_date_instead_of_never(
    transactional_audit, own_keys, manager, clerk, order
):
    from django.test import Client

    from privacy.desks.models import DataRequest
    from tests.conftest import login

    backup.create(now=timezone.now())
    horizon = erasure_date.backup_horizon()
    assert horizon > timezone.localdate()  # a kept backup holds today's customers
    public = Client()
    public.cookies["django_language"] = "en"
    page = public.get("/privacy/request/").content.decode()
    assert f"from {horizon:%Y-%m-%d} it cannot be read from any of our backups" in page
    Client(REMOTE_ADDR="192.0.2.61").post(
        "/privacy/request/", {"kind": "erasure", "name": "a", "contact": "b", "details": ""}
    )
    item = DataRequest.objects.get()
    boss = login(Client(), manager)
    boss.cookies["django_language"] = "en"
    detail = boss.get(f"/requests/{item.pk}/").content.decode()
    assert f"from any backup from {horizon:%Y-%m-%d}" in detail
    assert "never be read again" not in detail
