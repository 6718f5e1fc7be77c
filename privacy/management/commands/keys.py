"""Manage the keyring: ``keys init`` creates it, ``keys status`` shows what it holds."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.db.models import Count

from privacy import keyring


class Command(BaseCommand):
    help = "Create the keyring (init) or show its keys and how many data keys each wraps (status)."
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("init", help="Create a new keyring file (mode 0600); never overwrites.")
        sub.add_parser("status", help="Key ids, which is active, data keys wrapped by each.")

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")()

    def handle_init(self):
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

    def handle_status(self):
        try:
            ring = keyring.load()
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from None
        from privacy.models import DataKey

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
