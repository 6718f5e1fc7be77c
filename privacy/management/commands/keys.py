"""Manage the keyring: ``keys init`` creates it, ``keys status`` shows what it holds."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.db.models import Count

from privacy.vault import keyring


class Command(BaseCommand):
    help = (
        "Manage the keyring: init, status, rotate (new key-encryption key, rewrap every data "
        "key; resumable), retire KEY_ID, reindex (recompute blind indexes)."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("init", help="Create a new keyring file (mode 0600); never overwrites.")
        sub.add_parser("status", help="Key ids, which is active, data keys wrapped by each.")
        rotate = sub.add_parser("rotate", help="Add a key, make it active, rewrap all data keys.")
        rotate.add_argument("--batch", type=int, default=1000)
        rotate.add_argument("--limit", type=int, default=None, help="Rewrap at most this many now.")
        retire = sub.add_parser("retire", help="Remove a key that wraps nothing any more.")
        retire.add_argument("kek_id")
        reindex = sub.add_parser("reindex", help="Recompute every blind index.")
        reindex.add_argument(
            "--new-index-key", action="store_true", help="Replace the index key first."
        )

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

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
        from privacy.vault.models import DataKey

        try:
            counts = dict(
                DataKey.objects.values("kek_id").annotate(n=Count("pk")).values_list("kek_id", "n")
            )
        except DatabaseError:
            counts = {}
            self.stderr.write("The database is not migrated yet; no data keys to count.")
        self.stdout.write(f"Keyring: {ring.path}")
        for kek_id in sorted(set(ring.keks) | set(counts)):
            marks = []
            if kek_id == ring.active_kek_id:
                marks.append("active")
            if kek_id not in ring.keks:
                marks.append("MISSING FROM KEYRING")
            label = f" ({', '.join(marks)})" if marks else ""
            self.stdout.write(f"  {kek_id}{label}: wraps {counts.get(kek_id, 0)} data keys")

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

    def handle_rotate(self, batch, limit, **options):
        from privacy.core import context
        from privacy.ops import rotation

        with context.scope():
            result = rotation.rotate(batch=batch, limit=limit, progress=self._progress)
        self.stdout.write("")
        started = "new active key" if result.started_new_key else "continuing with active key"
        self.stdout.write(
            f"Rotation ({started} {result.active_kek_id}): {result.rewrapped} data keys rewrapped, "
            f"{result.remaining} remaining."
        )
        if result.remaining:
            self.stdout.write("Run `keys rotate` again to finish.")

    def handle_retire(self, kek_id, **options):
        from privacy.core import context
        from privacy.ops import rotation

        try:
            with context.scope():
                rotation.retire(kek_id)
        except rotation.RotationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Key {kek_id} retired.")

    def handle_reindex(self, new_index_key, **options):
        from privacy.core import context
        from privacy.ops import rotation

        with context.scope():
            count = rotation.reindex(new_index_key=new_index_key, progress=self._progress)
        self.stdout.write("")
        self.stdout.write(f"Recomputed the blind indexes of {count} rows.")
