"""Manage the keyring: create it, show every key and what needs it, rotate each kind of key
(key-encryption keys, backup keys, audit keys, one customer's data key, the blind-index key),
and retire keys that nothing needs any more."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.db.models import Count
from django.utils import timezone

from privacy.vault import keyring

SAFE_COPY = (
    "Replace the safe copy of the keyring with this one now: an older copy still holds the "
    "keys this one no longer does."
)


class Command(BaseCommand):
    help = (
        "Manage the keyring: init, status, rotate [--if-due] (new key-encryption key, rewrap "
        "every data key; resumable), rotate-backup-key, rotate-audit-key, rotate-customer "
        "C-XXXXXXXX, retire KEY_ID [--force], reindex (recompute blind indexes)."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("init", help="Create a new keyring file (mode 0600); never overwrites.")
        sub.add_parser(
            "status", help="Every key, its age, which is active, and what still needs it."
        )
        rotate = sub.add_parser("rotate", help="Add a key, make it active, rewrap all data keys.")
        rotate.add_argument("--batch", type=int, default=1000)
        rotate.add_argument("--limit", type=int, default=None, help="Rewrap at most this many now.")
        rotate.add_argument(
            "--if-due",
            action="store_true",
            help="Only when the active key is older than BOOKSHOP_KEY_ROTATE_DAYS (or a "
            "rotation is unfinished); for the scheduler.",
        )
        sub.add_parser("rotate-backup-key", help="New backups under a new backup key.")
        sub.add_parser("rotate-audit-key", help="Sign new checkpoints and ledger lines anew.")
        customer = sub.add_parser(
            "rotate-customer",
            help="One customer's data key may have leaked: re-encrypt their data under a new one.",
        )
        customer.add_argument("reference", help="The customer's reference, such as C-1A2B3C4D.")
        retire = sub.add_parser(
            "retire", help="Destroy a key-encryption or backup key that nothing needs any more."
        )
        retire.add_argument("kek_id", metavar="KEY_ID", nargs="?")
        retire.add_argument(
            "--unneeded",
            action="store_true",
            help="Every old key-encryption and backup key that no data key and no kept backup "
            "needs (the scheduler runs this after pruning the backups).",
        )
        retire.add_argument(
            "--force",
            action="store_true",
            help="Even though kept backups need it: they become unreadable.",
        )
        reindex = sub.add_parser("reindex", help="Recompute every blind index.")
        reindex.add_argument(
            "--new-index-key", action="store_true", help="Replace the index key first."
        )

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action.replace('-', '_')}")(**options)

    def handle_init(self, **options):
        path = keyring.keyring_path()
        if path.exists():
            raise CommandError(
                f"A keyring already exists at {path}; refusing to overwrite it. Losing it makes "
                "every customer record unreadable."
            )
        ring = keyring.generate(path)
        keyring.write_new(ring)
        self.stdout.write(
            f"Created keyring {path} (mode 600) with active key {ring.active_kek_id}."
        )
        self.stdout.write(
            "Keep a copy of it somewhere safe and apart from the database backups: without it "
            "the data cannot be read; with the backups, anyone can."
        )

    def handle_status(self, **options):
        try:
            ring = keyring.load()
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from None
        from privacy.ops import backup, rotation
        from privacy.vault.models import DataKey

        now = timezone.now()
        try:
            counts = dict(
                DataKey.objects.values("kek_id").annotate(n=Count("pk")).values_list("kek_id", "n")
            )
        except DatabaseError:
            counts = {}
            self.stderr.write("The database is not migrated yet; no data keys to count.")
        try:
            scanned = backup.scan(now)
        except backup.BackupError as exc:
            scanned = backup.Scan([], [], [])
            self.stderr.write(str(exc))
        kept = scanned.kept

        def age(key_id):
            made = ring.created_at(key_id)
            if made is None:
                return "age unknown"
            days = (now - made).days
            return f"made {timezone.localtime(made):%Y-%m-%d}, {days} days old"

        def needed_by(found):
            if not found:
                return "no kept backup needs it"
            last = max(b.expires_at for b in found)
            return (
                f"{len(found)} kept backup(s) need it, the last kept until "
                f"{timezone.localtime(last):%Y-%m-%d}"
            )

        self.stdout.write(f"Keyring: {ring.path}")
        self.stdout.write("Key-encryption keys (wrap the customers' data keys):")
        for kek_id in sorted(set(ring.keks) | set(counts)):
            marks = []
            if kek_id == ring.active_kek_id:
                marks.append("active")
            if kek_id not in ring.keks:
                marks.append("MISSING FROM KEYRING")
            label = f" ({', '.join(marks)})" if marks else ""
            needing = [b for b in kept if kek_id in b.kek_ids]
            self.stdout.write(
                f"  {kek_id}{label}: wraps {counts.get(kek_id, 0)} data keys; {age(kek_id)}; "
                f"{needed_by(needing)}"
            )
        self.stdout.write("Backup keys (seal the backup files):")
        for key_id in sorted(ring.backup_keys):
            label = " (active)" if key_id == ring.active_backup_key_id else ""
            needing = [b for b in kept if b.backup_key_id == key_id]
            self.stdout.write(f"  {key_id}{label}: {age(key_id)}; {needed_by(needing)}")
        self.stdout.write("Audit keys (sign checkpoints and erasure-ledger lines; kept to verify):")
        for key_id in sorted(ring.audit_keys):
            label = " (active)" if key_id == ring.active_audit_key_id else ""
            self.stdout.write(f"  {key_id}{label}: {age(key_id)}")
        self.stdout.write(f"Blind-index key: {age(keyring.INDEX_ROOT_NAME)}")
        if ring.retired:
            self.stdout.write("Retired (destroyed):")
            for key_id, when in sorted(ring.retired.items()):
                self.stdout.write(f"  {key_id}: {timezone.localtime(when):%Y-%m-%d}")
        self.stdout.write(
            f"Kept backups in {backup.backup_dir()}: {len(kept)}"
            + (f", oldest made {timezone.localtime(kept[0].created_at):%Y-%m-%d}" if kept else "")
            + (f"; {len(scanned.expired)} expired, to prune" if scanned.expired else "")
        )
        for dead in scanned.unreadable:
            self.stdout.write(f"  cannot be opened: {dead.path.name}: {dead.reason}")
        made = ring.created_at(ring.active_kek_id)
        rotate_days = settings.BOOKSHOP_KEY_ROTATE_DAYS
        try:
            due = rotation.rotation_due(now)
        except DatabaseError:
            due = made is None or now - made >= timedelta(days=rotate_days)
        if due:
            self.stdout.write(f"Key rotation: due (BOOKSHOP_KEY_ROTATE_DAYS={rotate_days}).")
        else:
            self.stdout.write(
                f"Key rotation: next due on "
                f"{timezone.localtime(made + timedelta(days=rotate_days)):%Y-%m-%d} "
                f"(BOOKSHOP_KEY_ROTATE_DAYS={rotate_days})."
            )

    def _progress(self, done, total):
        if total:
            width = 30
            filled = int(width * done / total)
            self.stdout.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending=""
            )
        else:
            self.stdout.write(f"\r{done} rows", ending="")
        self.stdout.flush()

    def handle_rotate(self, batch, limit, if_due, **options):
        from privacy.core import context
        from privacy.ops import rotation

        with context.scope():
            if if_due:
                result = rotation.rotate_if_due(batch=batch, limit=limit, progress=self._progress)
                if result is None:
                    ring = keyring.load()
                    made = ring.created_at(ring.active_kek_id)
                    days = settings.BOOKSHOP_KEY_ROTATE_DAYS
                    self.stdout.write(
                        f"Key rotation not due: the active key {ring.active_kek_id} is "
                        f"{(timezone.now() - made).days} days old (BOOKSHOP_KEY_ROTATE_DAYS="
                        f"{days}); next due on "
                        f"{timezone.localtime(made + timedelta(days=days)):%Y-%m-%d}."
                    )
                    return
            else:
                result = rotation.rotate(batch=batch, limit=limit, progress=self._progress)
        self.stdout.write("")
        started = "new active key" if result.started_new_key else "continuing with active key"
        self.stdout.write(
            f"Rotation ({started} {result.active_kek_id}): {result.rewrapped} data keys rewrapped, "
            f"{result.remaining} remaining."
        )
        if result.remaining:
            self.stdout.write("Run `keys rotate` again to finish.")
        elif result.started_new_key:
            self.stdout.write(SAFE_COPY)

    def handle_rotate_backup_key(self, **options):
        from privacy.core import context
        from privacy.ops import rotation

        with context.scope():
            new_id = rotation.rotate_backup_key()
        self.stdout.write(
            f"New active backup key {new_id}: backups from now on are sealed with it; older "
            "ones still open with theirs until you retire it."
        )
        self.stdout.write(SAFE_COPY)

    def handle_rotate_audit_key(self, **options):
        from privacy.core import context
        from privacy.ops import rotation

        with context.scope():
            new_id = rotation.rotate_audit_key()
        self.stdout.write(
            f"New active audit key {new_id}: checkpoints and erasure-ledger lines from now on "
            "are signed with it; the older keys stay to verify what they signed."
        )
        self.stdout.write(SAFE_COPY)

    def handle_rotate_customer(self, reference, **options):
        from privacy.core import context
        from privacy.ops import rotation

        try:
            with context.scope():
                subject_id = rotation.find_subject(reference)
                result = rotation.rotate_customer(subject_id)
        except rotation.RotationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Customer {reference.upper()} has a new data key: {result.values} encrypted values "
            f"in {result.records} records re-encrypted under it (search indexes unchanged); the "
            "old data key is destroyed."
        )
        self.stdout.write(
            "Backups taken before now still hold the old key's ciphertext and its wrapped key: "
            "they stay readable with the keyring until they expire (`backup --prune`) or their "
            "keys are retired."
        )

    def handle_retire(self, kek_id, force, unneeded=False, **options):
        from privacy.core import context
        from privacy.ops import rotation

        if unneeded == bool(kek_id) or (unneeded and force):
            raise CommandError("Name one KEY_ID to retire, or --unneeded (without --force).")
        if unneeded:
            try:
                with context.scope():
                    done = rotation.retire_unneeded()
            except rotation.RotationError as exc:
                raise CommandError(str(exc)) from None
            for key_id in done:
                self.stdout.write(f"Key {key_id} retired: nothing needs it any more.")
            if not done:
                self.stdout.write("No key to retire: every old key is still needed.")
            else:
                self.stdout.write(SAFE_COPY)
            return
        try:
            with context.scope():
                retired = rotation.retire(kek_id, force=force)
        except rotation.RotationError as exc:
            raise CommandError(str(exc)) from None
        what = "Key" if retired.kind == "kek" else "Backup key"
        path = keyring.keyring_path()
        self.stdout.write(f"{what} {kek_id} retired: destroyed in the keyring {path}.")
        if retired.unreadable:
            if retired.kind == "kek":
                effect = (
                    "still open, but the customer data in them can no longer be read (their "
                    "data keys were wrapped by it)"
                )
            else:
                effect = "can no longer be opened; `backup --prune` deletes them"
            self.stdout.write(f"--force: these kept backups {effect}:")
            self.stdout.write(rotation.describe_backups(retired.unreadable))
        for dead in retired.unchecked:
            self.stdout.write(
                f"--force: {dead.path} could not be opened, so whether it needed {kek_id} is "
                "unknown."
            )
        self.stdout.write(SAFE_COPY)

    def handle_reindex(self, new_index_key, **options):
        from privacy.core import context
        from privacy.ops import rotation

        with context.scope():
            count = rotation.reindex(new_index_key=new_index_key, progress=self._progress)
        self.stdout.write("")
        self.stdout.write(f"Recomputed the blind indexes of {count} rows.")
        if new_index_key:
            self.stdout.write(SAFE_COPY)
